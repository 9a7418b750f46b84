"""Step lateness with the real pager (issue 26): `manage.py page` runs as `serve` runs it while
every open incident of the bench database waits; steps of some are armed due at spread times
over about 30 s, and new incidents open one by one. Figures: how long after its due time each
step was fired (its notification row written) and seen sent (polled every 0.1 s: an upper
bound), and how long after opening the first page of a new incident was seen sent.
Mail goes to the file backend of the bench's data dir.
"""

import json
import os
import select
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

from django.db.models import F, Min
from django.utils import timezone

from bench.run import percentile
from incidents import services
from incidents.models import Availability, Contact, Incident, Notification, Service
from probes.models import ProbeResult

ARMED = 60  # steps due over SPREAD seconds
SPREAD = 30.0
NEW = 20  # incidents opened, one every half second
# The probe load beside the pager, as the clusters run it: every enabled probe due each second,
# checked and recorded by the probes' own tick (probes.services.run_due).
PROBE_LOAD = """
import time
import django
django.setup()
from django.utils import timezone
from probes import services
from probes.models import Probe
while True:
    Probe.objects.filter(enabled=True).update(next_run_at=timezone.now())
    services.run_due()
    time.sleep(1)
"""


def figures(seconds):
    p50, p95 = percentile(seconds, 0.5), percentile(seconds, 0.95)
    return f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(seconds):.2f} s"


def watch_sent(ids, step_of, seen, since, timeout):
    """When each incident's page (its step `step_of[pk]`) is first seen sent, polling every 0.1 s:
    Notification.sent_at is its round's start, not the moment the send committed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(seen) < len(ids):
        rows = Notification.objects.filter(
            incident__in=[pk for pk in ids if pk not in seen], status="sent", created_at__gte=since
        ).values_list("incident", "step")
        at = timezone.now()
        for pk, step in rows:
            if step == step_of.get(pk, step):
                seen.setdefault(pk, at)
        time.sleep(0.1)


def main():
    Contact.objects.update(availability=Availability.ALWAYS)
    now = timezone.now()
    open_incidents = Incident.objects.open()
    open_count = open_incidents.count()
    open_incidents.update(next_escalation_at=now + timedelta(days=1))  # waiting, as most are
    results_before = ProbeResult.objects.count()
    load = subprocess.Popen(
        [sys.executable, "-c", PROBE_LOAD],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pager = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "page"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its "running" line as soon as it is written
    )
    try:
        # The pager's start-up, which `serve` pays once: until it says it is running (on a loaded
        # machine that can take longer than 3 s), and at least 3 s, the probe load's start-up.
        started = time.monotonic()
        if select.select([pager.stdout], [], [], 60)[0]:
            pager.stdout.readline()
        time.sleep(max(0.0, 3 - (time.monotonic() - started)))
        armed_at = timezone.now()
        start = armed_at + timedelta(seconds=2)
        due = {}
        for incident in open_incidents.order_by("pk")[: ARMED * 3]:
            steps = (incident.escalation_snapshot or {}).get("steps") or []
            if len(steps) < 2 or len(due) >= ARMED:
                continue
            at = start + timedelta(seconds=SPREAD * len(due) / ARMED)
            # A round of its own: pages of an earlier run (or the dataset) are not this one's.
            Incident.objects.filter(pk=incident.pk).update(
                escalation_started_at=at - timedelta(seconds=steps[1]["after"]),
                escalation_step=0,
                next_escalation_at=at,
                escalation_round=F("escalation_round") + 1,
            )
            due[incident.pk] = at
        service = Service.objects.filter(pk__in=open_incidents.values("service")).first()
        opened, seen = {}, {}
        step_of = dict.fromkeys(due, 1)
        for _ in range(NEW):
            incident, _created = services.open_incident(
                service=service, title="bench: first page", severity="sev1"
            )
            opened[incident.pk] = incident.created_at
            watch_sent([*due, *opened], step_of, seen, armed_at, 0.5)
        watch_sent([*due, *opened], step_of, seen, armed_at, SPREAD + 30)
    finally:
        pager.send_signal(signal.SIGTERM)
        pager.wait(timeout=15)
        load.kill()
        load.wait(timeout=15)
    probe_load = f", beside {ProbeResult.objects.count() - results_before} probe results written"
    step_rows = {
        row["incident"]: row["fired"]
        for row in Notification.objects.filter(incident__in=due, step=1, created_at__gte=armed_at)
        .values("incident")
        .annotate(fired=Min("created_at"))
    }
    fired = [(step_rows[pk] - at).total_seconds() for pk, at in due.items() if pk in step_rows]
    sent = [(seen[pk] - at).total_seconds() for pk, at in due.items() if pk in seen]
    first_page = [(seen[pk] - at).total_seconds() for pk, at in opened.items() if pk in seen]
    rows = []
    for name, seconds, expected, budget in (
        (f"step lateness (fired), {open_count} open{probe_load}", fired, len(due), 5),
        (f"step lateness (seen sent), {open_count} open{probe_load}", sent, len(due), 5),
        (f"first page of a new incident (seen sent){probe_load}", first_page, len(opened), 2),
    ):
        missing = expected - len(seconds)
        rows.append(
            {
                "scenario": name,
                "figure": (figures(seconds) if seconds else "none")
                + (f", {missing} of {expected} not paged" if missing else ""),
                "baseline": "-",
                "ratio": None,
                "budget": f"p95 ≤ {budget} s",
                "verdict": "PASS"
                if seconds and not missing and percentile(seconds, 0.95) <= budget
                else "MISS",
            }
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
