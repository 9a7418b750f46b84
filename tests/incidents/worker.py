"""A stand-in for the django-q2 cluster in tests: tasks enqueued after a commit run when asked.

The test database wraps each test in one transaction, so `transaction.on_commit`
callbacks (where the portal enqueues its tasks) never fire on their own; this
runs them, records what they enqueued, and calls each task function as a worker would.
"""

import threading
from contextlib import contextmanager
from unittest import mock

from django.test import TestCase
from django.utils.module_loading import import_string


@contextmanager
def capture_tasks():
    """Collect the (function path, args) of every task enqueued in the block, after commit."""
    enqueued, lock = [], threading.Lock()

    def record(func, *args, **kwargs):
        with lock:
            enqueued.append((func, args))

    with (
        mock.patch("django_q.tasks.async_task", record),
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        yield enqueued


def run(enqueued) -> list:
    """Run captured tasks, in order; their return values."""
    return [import_string(func)(*args) for func, args in enqueued]


@contextmanager
def worker():
    """Run the block, then every task it enqueued (still inside the caller's time_machine
    travel)."""
    with capture_tasks() as enqueued:
        yield enqueued
    run(enqueued)
