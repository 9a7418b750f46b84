"""A stop request from `manage.py serve` to django-q2's workers, so a long task ends early.

django-q2 stops a cluster by letting each worker finish its task. The probe tick is one task
that loops for most of a minute (probes.services.run_scheduler), so Ctrl+C waited for it, and
`serve` killed the cluster when its grace ran out. `serve` starts the clusters with SIGUSR1
ignored (every process of the cluster inherits that), each worker catches it from its start
(`post_spawn`, wired in portal.apps), and on Ctrl+C `serve` sends SIGUSR1 to the clusters'
process groups before SIGTERM: a looping task sees `requested()` and returns after its round.
"""

import signal
import time

STOP_SIGNAL = signal.SIGUSR1
_requested = False


def requested() -> bool:
    return _requested


def _on_request(signum, frame):
    global _requested
    _requested = True


def catch_in_worker(**kwargs):
    """django-q2's post_spawn receiver: runs in each new worker process."""
    global _requested
    _requested = False
    signal.signal(STOP_SIGNAL, _on_request)


def ignore_in_children():
    """For Popen's preexec_fn: the cluster's processes ignore SIGUSR1 unless they catch it."""
    signal.signal(STOP_SIGNAL, signal.SIG_IGN)


def sleep(seconds: float, *, step: float = 0.25):
    """time.sleep that ends early once a stop is requested (a signal does not end time.sleep)."""
    deadline = time.monotonic() + seconds
    while not _requested:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, step))
