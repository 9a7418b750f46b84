"""Step lateness with the real pager (issue 26): `manage.py page` runs as `serve` runs it while
every open incident of the bench database waits; steps of some are armed due at spread times
over about 30 s, and new incidents open one by one. Figures: how long after its due time each
step was fired (its notification row written) and sent, and how long after opening the first
page of a new incident was sent. Mail goes to the file backend of the bench's data dir.
"""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.db.models import Min
from django.utils import timezone

from incidents import services
from incidents.models import Availability, Contact, Incident, Notification, Service

ARMED = 60  # steps due over SPREAD seconds
SPREAD = 30.0
NEW = 20  # incidents opened, one every half second


def percentile(values, q):
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def figures(seconds):
    return f"p50 {percentile(seconds, .5):.2f} s, p95 {percentile(seconds, .95):.2f} s, max {max(seconds):.2f} s"


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.5)


def main():
    Contact.objects.update(availability=Availability.ALWAYS)
    now = timezone.now()
    open_incidents = Incident.objects.open()
    open_count = open_incidents.count()
    open_incidents.update(next_escalation_at=now + timedelta(days=1))  # waiting, as most are
    pager = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "page"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # the pager's Django start-up, which `serve` pays once
        start = timezone.now() + timedelta(seconds=2)
        due = {}
        for incident in open_incidents.order_by("pk")[:ARMED * 3]:
            steps = (incident.escalation_snapshot or {}).get("steps") or []
            if len(steps) < 2 or len(due) >= ARMED:
                continue
            at = start + timedelta(seconds=SPREAD * len(due) / ARMED)
            Incident.objects.filter(pk=incident.pk).update(
                escalation_started_at=at - timedelta(seconds=steps[1]["after"]), escalation_step=0,
                next_escalation_at=at)
            due[incident.pk] = at
        service = Service.objects.filter(pk__in=open_incidents.values("service")).first()
        opened = {}
        for _ in range(NEW):
            incident, _created = services.open_incident(service=service, title="bench: first page",
                                                        severity="sev1")
            opened[incident.pk] = incident.created_at
            time.sleep(0.5)
        ids = [*due, *opened]
        wait_until(lambda: Notification.objects.filter(incident__in=ids, sent_at__isnull=False)
                   .values("incident").distinct().count() >= len(ids), SPREAD + 30)
    finally:
        pager.send_signal(signal.SIGTERM)
        pager.wait(timeout=15)
    step_rows = {row["incident"]: row for row in Notification.objects.filter(incident__in=due, step=1)
                 .values("incident").annotate(fired=Min("created_at"), sent=Min("sent_at"))}
    fired = [(step_rows[pk]["fired"] - at).total_seconds() for pk, at in due.items() if pk in step_rows]
    sent = [(step_rows[pk]["sent"] - at).total_seconds() for pk, at in due.items()
            if pk in step_rows and step_rows[pk]["sent"]]
    first = {row["incident"]: row["sent"] for row in Notification.objects.filter(incident__in=opened)
             .values("incident").annotate(sent=Min("sent_at"))}
    first_page = [(first[pk] - at).total_seconds() for pk, at in opened.items() if first.get(pk)]
    rows = []
    for name, seconds, expected, budget in (
            (f"step lateness (fired), {open_count} open", fired, len(due), 5),
            (f"step lateness (sent), {open_count} open", sent, len(due), 5),
            ("first page of a new incident (sent)", first_page, len(opened), 2)):
        missing = expected - len(seconds)
        rows.append({"scenario": name, "figure": (figures(seconds) if seconds else "none") +
                     (f", {missing} of {expected} not paged" if missing else ""),
                     "baseline": "-", "ratio": None, "budget": f"p95 ≤ {budget} s",
                     "verdict": "PASS" if seconds and not missing and percentile(seconds, .95) <= budget else "MISS"})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
