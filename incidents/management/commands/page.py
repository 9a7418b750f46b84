"""`manage.py page`: the pager (incidents.escalation.run_pager), a process of its own.

`serve` starts it next to the clusters and starts it again if it dies. SIGTERM or Ctrl+C ends it
after the round it is in.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from incidents.escalation import PAGER_POLL, run_pager
from incidents.services import load_urls
from incidents.waker import Alarm, wake_pager

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Fire escalation steps when they are due and send their pages (started by serve)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll",
            type=float,
            default=PAGER_POLL,
            help="longest sleep between rounds, in seconds (default %(default)s)",
        )

    def handle(self, *args, poll, **options):
        stop = threading.Event()
        try:
            # A new incident's first step wakes the pager at once (incidents.waker).
            alarm = Alarm()
        except OSError:
            logger.warning("the pager cannot listen on its socket: it polls only", exc_info=True)
            alarm = None

        def on_signal(*_):
            stop.set()
            if alarm is not None:
                wake_pager(alarm.path)  # out of its sleep now, not at the end of its poll

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, on_signal)
        # Its first page would otherwise import every view (a page links to the portal), a second
        # or more: paid here, at start, rather than by the first incident.
        load_urls()
        self.stdout.write(f"Pager running (waking at least every {poll:g} s)")
        try:
            run_pager(stopping=stop.is_set, sleep=alarm.sleep if alarm else stop.wait, poll=poll)
        finally:
            if alarm is not None:
                alarm.close()
        self.stdout.write("Pager stopped")
