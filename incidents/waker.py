"""Waking the pager at once (issue 26: the first page of a new incident within 2 s).

The pager (`manage.py page`) sleeps until the next step is due, at most its poll (a second). A
process that has just committed an incident whose first step is due now sends one datagram to
the pager's Unix socket in the data directory, and the pager, sleeping in select() on it, starts
its round at once instead of up to a poll later. Best effort on both ends: with no pager
listening (not started, or on another host) the datagram is dropped and the poll still finds
the step; a pager that cannot bind its socket polls as before. With a pager listening, the
opener does not also queue the first step's task.
"""

import contextlib
import os
import select
import socket
from pathlib import Path

from django.conf import settings


def socket_path() -> Path:
    return Path(settings.DATA_DIR) / "pager.sock"


def wake_pager(path: Path | None = None) -> bool:
    """Nudge the pager listening on this host; True if one is (its socket is bound). Never blocks,
    never raises: a pager that died leaves its socket file unbound, and that is False."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(b"!", str(path or socket_path()))
        except BlockingIOError:
            return True  # its queue is full of nudges: it is awake anyway
        except OSError:
            return False  # no socket there, nobody bound to it, or a path too long
        return True


class Alarm:
    """The pager's end of the socket: `sleep(seconds)` returns early when woken (True) or after
    `seconds` (False). A nudge sent while the pager is busy with a round wakes its next sleep, so
    none is lost: the incident was committed before its nudge was sent."""

    def __init__(self, path: Path | None = None):
        self.path = str(path or socket_path())
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # left by a pager that was killed
            self.sock.bind(self.path)
            os.chmod(self.path, 0o600)
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise

    def sleep(self, seconds: float) -> bool:
        ready, _writable, _errors = select.select([self.sock], [], [], max(seconds, 0.0))
        woken = bool(ready)
        while woken:
            try:
                self.sock.recv(64)
            except BlockingIOError:
                break
        return woken

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
