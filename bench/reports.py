"""Time the incident report (MTTA/MTTR per severity and month) over 12 months, in-process:
from the per-day rollups (what the page and the API read) beside the direct computation
over the incidents, and the rebuild of every rollup.

Run with PORTAL_DATA_DIR pointing at an already-migrated scratch data dir that
holds the bench incidents (bench/seed.py); with fewer than 1 000 incidents it
seeds 100 000 itself with bulk_create. Prints one JSON list of rows.
"""

import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import rollups
from incidents.models import Incident, Service, Severity, Status
from incidents.reports import Period, build_report, build_report_direct

RUNS = 5
WANTED = 100_000


def seed(count: int) -> None:
    service, _ = Service.objects.get_or_create(
        name="bench-reports", defaults={"rto": timedelta(hours=1)}
    )
    now = timezone.now()
    rng = random.Random(4)
    severities = [s.value for s in Severity]
    batch = []
    for index in range(count):
        created = now - timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        ack = created + timedelta(minutes=rng.randrange(1, 60)) if index % 7 else None
        batch.append(
            Incident(
                service=service,
                title=f"bench {index}",
                severity=severities[index % 4],
                status=Status.RESOLVED,
                created_at=created,
                acknowledged_at=ack,
                resolved_at=created + timedelta(minutes=rng.randrange(61, 600)),
            )
        )
        if len(batch) == 5000:
            Incident.objects.bulk_create(batch)
            batch = []
    Incident.objects.bulk_create(batch)


def timed(function):
    seconds, queries = [], 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            function()
            seconds.append(time.perf_counter() - started)
        queries = len(captured)
    return statistics.median(seconds), queries


PAGE_BUDGET_S = 0.150  # issue 22: every page ≤ 150 ms


def main():
    if Incident.objects.count() < 1000:
        seed(WANTED)
    started = time.perf_counter()
    rollup_rows = rollups.rebuild()
    rebuild_s = time.perf_counter() - started
    now = timezone.now()
    period = Period.last_months(12, timezone.localtime(now).date())
    in_period = Incident.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    count = in_period.count()
    direct_s, direct_q = timed(lambda: build_report_direct(period=period, now=now))
    report_s, report_q = timed(lambda: build_report(period=period, now=now))
    base_s, _ = timed(lambda: in_period.count())
    scenario = f"incident report, 12 months, {count} incidents ({connection.vendor})"
    rows = [
        {
            "scenario": f"{scenario}, from {rollup_rows} rollups",
            "figure": f"{report_s * 1000:.0f} ms median of {RUNS}",
            "baseline": f"{direct_s * 1000:.0f} ms direct computation",
            "ratio": round(report_s / direct_s, 2) if direct_s else None,
            "budget": "≤ 150 ms",
            "verdict": "PASS" if report_s <= PAGE_BUDGET_S else "MISS",
        },
        {
            "scenario": f"{scenario}, from rollups",
            "figure": f"{report_q} queries",
            "baseline": f"{direct_q} queries direct",
            "ratio": float(report_q),
            "budget": "constant (≤ 6)",
            "verdict": "PASS" if report_q <= 6 else "MISS",
        },
        {
            "scenario": f"{scenario}, direct computation",
            "figure": f"{direct_s * 1000:.0f} ms median of {RUNS}",
            "baseline": f"{base_s * 1000:.1f} ms bare count()",
            "ratio": round(direct_s / base_s, 1) if base_s else None,
            "budget": "-",
            "verdict": "-",
        },
        {
            "scenario": f"rebuild_rollups, {Incident.objects.count()} incidents",
            "figure": f"{rebuild_s:.1f} s",
            "baseline": "-",
            "ratio": None,
            "budget": "-",
            "verdict": "-",
        },
    ]
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
