"""Time one uncached build of the public status page (issue 17), in-process: what a visitor waits
for once every 15 s (the cache's life), the rest being served from the cache (bench/run.py).

Run by bench/run.py after bench/seed.py made the "bench" page: every service a component, every
incident of the 90-day window public with two updates. Prints one JSON list of rows.
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from status.models import PublicIncident, StatusPage
from status.services import snapshot

RUNS = 5
BUDGET_MS = 1000


def main():
    page = StatusPage.objects.get(slug="bench")
    seconds = []
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as queries, translation.override("ko"):
            started = time.perf_counter()
            data = snapshot(page, "ko")
            render_to_string(
                "status/page.html", {"status": data, "language": "ko", "slug": page.slug}
            )
            seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds) * 1000
    public = PublicIncident.objects.count()
    print(
        json.dumps(
            [
                {
                    "scenario": "status page build, uncached "
                    f"({len(data['components'])} components, {public} public)",
                    "figure": f"median {median:.0f} ms, {len(queries)} queries",
                    "baseline": "-",
                    "ratio": None,
                    "budget": f"≤ {BUDGET_MS} ms",
                    "verdict": "PASS" if median <= BUDGET_MS else "MISS",
                }
            ]
        )
    )


if __name__ == "__main__":
    main()
