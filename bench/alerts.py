"""Alert intake throughput; prints one JSON list of rows.

Run with PORTAL_DATA_DIR (and PORTAL_DATABASE_URL for PostgreSQL) pointing at an already-migrated
scratch data dir:

    PORTAL_DATA_DIR=/tmp/alerts-bench .venv/bin/python manage.py migrate
    PORTAL_DATA_DIR=/tmp/alerts-bench .venv/bin/python bench/alerts.py [--alerts 1000]

Every request goes through the whole stack (middleware, URL routing, DRF, the intake) in this
process, one after another, with Django's test client; the baseline is the bare Django view of
bench/urls.py through the same client. Scenarios, each with N (default 1 000) alerts:
1. N distinct alerts in one Alertmanager request (N incidents open);
2. N distinct alerts, one request each;
3. N repeats of one firing alert, one request each (one incident, a count).
Budget: at least 100 alerts/s in each (a storm of a thousand alerts is in within 10 s).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from alerts.models import Integration
from incidents.models import Incident, Service

PREFIX = "bench-alerts-"
BUDGET = 100.0  # alerts/s


def alert(n: int) -> dict:
    return {
        "status": "firing",
        "labels": {"alertname": "BenchDown", "instance": f"host-{n}:9100", "severity": "critical"},
        "annotations": {"summary": f"host-{n} is down"},
        "startsAt": "2026-12-07T08:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.bench:9090/graph",
        "fingerprint": f"{PREFIX}{n:06}",
    }


def webhook(alerts: list[dict]) -> str:
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="BenchDown"}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "ops-portal",
            "groupLabels": {"alertname": "BenchDown"},
            "commonLabels": {"alertname": "BenchDown"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.bench:9093",
            "alerts": alerts,
        }
    )


def fresh_integration(name: str) -> Integration:
    service, _ = Service.objects.get_or_create(name=f"{PREFIX}service")
    Integration.objects.filter(name=f"{PREFIX}{name}").delete()
    return Integration.objects.create(
        name=f"{PREFIX}{name}",
        kind="alertmanager",
        default_service=service,
        rules=[
            {
                "match": [{"label": "severity", "op": "equals", "value": "critical"}],
                "severity": "sev1",
            }
        ],
    )


def post_all(client: Client, url: str, bodies: list[str]) -> float:
    began = time.perf_counter()
    for body in bodies:
        response = client.post(url, body, content_type="application/json")
        if response.status_code != 200:
            raise SystemExit(f"intake answered {response.status_code}: {response.content[:300]!r}")
    return time.perf_counter() - began


def bare_rate(client: Client, count: int) -> float:
    began = time.perf_counter()
    for _ in range(count):
        client.get("/api/bench/bare-health")
    return count / (time.perf_counter() - began)


def row(scenario: str, alerts: int, seconds: float, baseline: float) -> dict:
    rate = alerts / seconds
    return {
        "scenario": scenario,
        "figure": f"{rate:.0f} alerts/s ({seconds:.2f} s)",
        "baseline": f"bare Django view {baseline:.0f} req/s",
        "ratio": baseline / rate,
        "budget": f"≥ {BUDGET:.0f} alerts/s",
        "verdict": "ok" if rate >= BUDGET else "MISS",
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=1000)
    n = parser.parse_args().alerts
    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    backend = connection.vendor
    rows = []
    try:
        baseline = bare_rate(client, n)

        integration = fresh_integration("one-request")
        url = reverse("integration-alerts", args=[integration.token])
        seconds = post_all(client, url, [webhook([alert(i) for i in range(n)])])
        rows.append(
            row(f"alert intake ({backend}): {n} distinct in 1 request", n, seconds, baseline)
        )

        integration = fresh_integration("many-requests")
        url = reverse("integration-alerts", args=[integration.token])
        seconds = post_all(client, url, [webhook([alert(i)]) for i in range(n)])
        rows.append(
            row(f"alert intake ({backend}): {n} distinct, 1 per request", n, seconds, baseline)
        )

        integration = fresh_integration("repeats")
        url = reverse("integration-alerts", args=[integration.token])
        seconds = post_all(client, url, [webhook([alert(0)])] * n)
        rows.append(row(f"alert intake ({backend}): {n} repeats of 1", n, seconds, baseline))
        assert (
            Incident.objects.filter(dedup_key__startswith=f"alert:{integration.pk}:").count() == 1
        )
    finally:
        Incident.objects.filter(service__name=f"{PREFIX}service").delete()
        Integration.objects.filter(name__startswith=PREFIX).delete()
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
