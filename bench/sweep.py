"""Time escalation sweeps over the open incidents of the bench database.

Mail goes to Django's in-memory backend: the figure is the portal's work
(claiming, deciding, writing notification rows and timeline events, handing
each message to the mail backend), not a mail server's.
"""

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from incidents.escalation import escalate_due  # noqa: E402
from incidents.models import Availability, Contact, Incident, Notification  # noqa: E402


def timed(now):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        handled = escalate_due(now=now)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "incidents": handled, "queries": len(queries)}


def main():
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Everyone reachable, so the figure does not depend on the weekday the bench runs.
    Contact.objects.update(availability=Availability.ALWAYS)
    open_count = Incident.objects.open().count()
    idle = timed(timezone.now())
    # Make the next step (Tier 2 at +30 min) due on every open incident.
    due = timed(timezone.now() + timedelta(minutes=31))
    due["notifications"] = Notification.objects.count()
    print(json.dumps({"open": open_count, "idle": idle, "due": due}))


if __name__ == "__main__":
    main()
