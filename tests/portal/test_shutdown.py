"""The stop request `serve` sends to django-q2's workers (core.shutdown)."""

import os
import signal
import threading
import time

import pytest

from core import shutdown


@pytest.fixture
def worker_handler():
    before = signal.getsignal(shutdown.STOP_SIGNAL)
    shutdown.catch_in_worker()  # what django-q2's post_spawn does in each worker
    yield
    signal.signal(shutdown.STOP_SIGNAL, before)
    shutdown._requested = False


def test_the_signal_ends_a_pause_early_and_stays_requested(worker_handler):
    assert not shutdown.requested()
    threading.Timer(0.2, os.kill, (os.getpid(), shutdown.STOP_SIGNAL)).start()
    started = time.monotonic()
    shutdown.sleep(60)
    assert time.monotonic() - started < 30  # a minute's pause, ended by the request
    assert shutdown.requested()


def test_a_new_worker_starts_without_a_request(worker_handler):
    os.kill(os.getpid(), shutdown.STOP_SIGNAL)
    assert shutdown.requested()
    shutdown.catch_in_worker()  # a worker django-q2 spawns later (after a crash or a timeout)
    assert not shutdown.requested()


def test_workers_catch_the_request_from_their_start():
    from django_q.signals import post_spawn

    sync_receivers, _ = post_spawn._live_receivers(sender="django_q")
    assert shutdown.catch_in_worker in sync_receivers
