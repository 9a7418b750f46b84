"""`manage.py page`: the pager (incidents.escalation.run_pager), a process of its own.

`serve` starts it next to the clusters and starts it again if it dies. SIGTERM or Ctrl+C ends it
after the round it is in.
"""

import signal
import threading

from django.core.management.base import BaseCommand

from incidents.escalation import PAGER_POLL, run_pager


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
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"Pager running (waking at least every {poll:g} s)")
        run_pager(stopping=stop.is_set, sleep=stop.wait, poll=poll)
        self.stdout.write("Pager stopped")
