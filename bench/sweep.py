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

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.escalation import escalate_due
from incidents.models import Availability, Contact, Incident, Notification


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
    open_incidents = Incident.objects.open()
    open_count = open_incidents.count()
    now = timezone.now()
    step_two = now + timedelta(minutes=31)  # every open incident's next step (Tier 2) is due at +30 min
    idle = timed(now)
    # A typical minute: 1 % of the open incidents due, the rest waiting.
    few = list(open_incidents.order_by("pk").values_list("pk", flat=True)[: max(open_count // 100, 1)])
    parked = open_incidents.exclude(pk__in=few).values_list("pk", flat=True)
    Incident.objects.filter(pk__in=list(parked)).update(next_escalation_at=now + timedelta(days=1))
    some = timed(step_two)
    # The worst minute: every other open incident due at once.
    Incident.objects.filter(pk__in=list(parked)).update(
        next_escalation_at=F("escalation_started_at") + timedelta(minutes=30))
    before = Notification.objects.count()
    due = timed(step_two)
    due["notifications"] = Notification.objects.count() - before
    print(json.dumps({"open": open_count, "idle": idle, "some": some, "due": due}))


if __name__ == "__main__":
    main()
