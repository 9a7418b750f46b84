"""Time escalation sweeps over the open incidents of the bench database.

A sweep claims, decides and writes notification rows and timeline events; it
queues their delivery as `send_notifications` tasks (on the ORM broker here:
nothing runs them). `deliver` then times that delivery in this process, as the
tasks would do it: mail goes to Django's in-memory backend, so the figure is
the portal's work, not a mail server's.
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
from incidents.notify import send_pending


def timed(now):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        handled = escalate_due(now=now)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "incidents": handled, "queries": len(queries)}


def main():
    # What the dataset and the HTTP scenarios wrote is flushed first: the sweep's commits
    # must not wait behind the page cache writing out someone else's data.
    os.sync()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Everyone reachable, so the figure does not depend on the weekday the bench runs.
    Contact.objects.update(availability=Availability.ALWAYS)
    open_incidents = Incident.objects.open()
    open_count = open_incidents.count()
    now = timezone.now()
    # The dataset parks escalations so that the portal's own workers leave them alone:
    # arm them as if every open incident had triggered just now (Tier 1 paged).
    open_incidents.update(
        escalation_started_at=now, escalation_step=0, next_escalation_at=now + timedelta(minutes=30)
    )
    # every open incident's next step (Tier 2) is due at +30 min
    step_two = now + timedelta(minutes=31)
    idle = timed(now)
    # A typical minute: 1 % of the open incidents due, the rest waiting.
    few = list(
        open_incidents.order_by("pk").values_list("pk", flat=True)[: max(open_count // 100, 1)]
    )
    parked = open_incidents.exclude(pk__in=few).values_list("pk", flat=True)
    Incident.objects.filter(pk__in=list(parked)).update(next_escalation_at=now + timedelta(days=1))
    some = timed(step_two)
    # The worst minute: every other open incident due at once.
    Incident.objects.filter(pk__in=list(parked)).update(
        next_escalation_at=F("escalation_started_at") + timedelta(minutes=30)
    )
    before = Notification.objects.count()
    due = timed(step_two)
    due["notifications"] = Notification.objects.count() - before
    started = time.perf_counter()
    deliver = {"notifications": send_pending(now=step_two)}
    deliver["seconds"] = time.perf_counter() - started
    print(
        json.dumps({"open": open_count, "idle": idle, "some": some, "due": due, "deliver": deliver})
    )


if __name__ == "__main__":
    main()
