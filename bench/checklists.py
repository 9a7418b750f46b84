"""Checklist materialiser benchmark; prints one JSON list of rows.

Run with PORTAL_DATA_DIR pointing at an already-migrated scratch data dir:

    PORTAL_DATA_DIR=/tmp/cl-bench .venv/bin/python manage.py migrate
    PORTAL_DATA_DIR=/tmp/cl-bench .venv/bin/python bench/checklists.py

Scenarios (50 templates of 20 items, as in DESIGN §9):
1. one materialiser pass that owes every template a run (50 runs, 1 000 item snapshots);
2. the pass a minute later, when nothing is due (the steady state of the every-minute schedule);
3. a pass after two days of downtime (one run and one missed record per daily template).
Budget: a pass must finish well inside the one-minute schedule interval; we hold it to 1 s
(baseline: the 60 s interval it has to fit in).
"""

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from checklists import services
from checklists.models import Run, Template

TEMPLATES = 50
ITEMS = 20
BUDGET_S = 1.0
INTERVAL_S = 60.0
PREFIX = "bench-checklists-"


def setup(start: datetime) -> None:
    with transaction.atomic():
        Run.objects.filter(template__name__startswith=PREFIX).delete()
        Template.objects.filter(name__startswith=PREFIX).delete()
        for n in range(TEMPLATES):
            template = Template.objects.create(
                name=f"{PREFIX}{n}", schedule=f"{n % 60} {n % 24} * * *", created_at=start
            )
            services.replace_sections(
                template,
                [
                    {
                        "title": "Checks",
                        "items": [
                            {"text": f"item {i}", "command": "curl -fsS http://127.0.0.1/health"}
                            for i in range(ITEMS)
                        ],
                    }
                ],
            )


def timed(now: datetime) -> tuple[float, int, dict]:
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        counts = services.materialize_runs(now=now)
        elapsed = time.perf_counter() - began
    return elapsed, len(queries), counts


def row(scenario: str, elapsed: float, queries: int, counts: dict) -> dict:
    return {
        "scenario": scenario,
        "figure": f"{elapsed * 1000:.0f} ms, {queries} queries, "
        f"{counts['created']} runs, {counts['missed']} missed",
        "baseline": f"{INTERVAL_S:.0f} s schedule interval",
        "ratio": round(elapsed / INTERVAL_S, 4),
        "budget": f"≤ {BUDGET_S:.0f} s per pass",
        "verdict": "PASS" if elapsed <= BUDGET_S else "MISS",
    }


def main() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    setup(start)
    first = start + timedelta(days=1)
    rows = [
        row(f"materialise {TEMPLATES} templates × {ITEMS} items (one pass, all due)", *timed(first))
    ]
    rows.append(row("next pass, nothing due", *timed(first + timedelta(seconds=30))))
    rows.append(row("pass after two days of downtime", *timed(first + timedelta(days=2))))
    with transaction.atomic():
        Run.objects.filter(template__name__startswith=PREFIX).delete()
        Template.objects.filter(name__startswith=PREFIX).delete()
    print(json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    main()
