"""Alert storms against the portal as it is served: gunicorn with two worker processes (each
with threads) on the suite's database (SQLite, or PostgreSQL on the scaled leg). Every incident is
opened once, whichever worker took which request."""

import json
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import free_port, wait_for

pytestmark = pytest.mark.slow

SETUP = """
import json
from alerts.models import Integration
from incidents.models import Service
service = Service.objects.create(name="Judgment")
integration = Integration.objects.create(
    name="prometheus", kind="alertmanager", default_service=service
)
print(json.dumps(str(integration.token)))
"""
OUTCOME = """
import json
from django.db.models import Count
from alerts.models import Alert, Delivery
from incidents.models import Incident
print(json.dumps({
    "incidents": Incident.objects.count(),
    "keys": Incident.objects.values("dedup_key").annotate(n=Count("id")).filter(n__gt=1).count(),
    "alerts": Alert.objects.count(),
    "unlinked": Alert.objects.filter(incident__isnull=True).count(),
    "fired": sorted(set(Alert.objects.values_list("fire_count", flat=True))),
    "deliveries": Delivery.objects.filter(status_code=200).count(),
}))
"""


def webhook(fingerprints) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "groupKey": "{}:{}",
            "status": "firing",
            "receiver": "portal",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "Down", "n": fp},
                    "annotations": {"summary": fp},
                    "startsAt": "2026-12-07T08:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": fp,
                }
                for fp in fingerprints
            ],
        }
    ).encode()


def post_all(url: str, bodies: list[bytes], threads: int) -> list[int]:
    go = threading.Event()

    def post(body):
        go.wait(timeout=30)  # every thread ready, then all at once
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(post, body) for body in bodies]
        go.set()
        return [future.result() for future in futures]


def test_alert_storms_on_two_gunicorn_workers_open_each_incident_once(make_portal):
    portal = make_portal()
    token = portal.python(SETUP)
    portal.manage("collectstatic", "--noinput", "-v0")
    port = free_port()
    run_dir = portal.data_dir / "run"
    run_dir.mkdir(exist_ok=True)
    web = portal.start(
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--backlog",
            "256",
            "--timeout",
            "120",
            "--worker-tmp-dir",
            str(run_dir),
            "--no-control-socket",
        ],
    )
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(healthy, timeout=120, what="gunicorn answers")
    url = f"{base}/api/v1/integrations/{token}/alerts"

    # 50 senders, one firing alert.
    assert post_all(url, [webhook(["same"])] * 50, threads=50) == [200] * 50
    # 1 000 requests: 200 alerts, each sent five times, in a shuffled order.
    bodies = [webhook([f"fp-{(i * 7) % 200:03}"]) for i in range(1000)]
    assert post_all(url, bodies, threads=16) == [200] * 1000, portal.log_tail("web")
    # 1 000 new alerts in one request, twice at once.
    storm = webhook([f"storm-{i:04}" for i in range(1000)])
    assert post_all(url, [storm, storm], threads=2) == [200, 200], portal.log_tail("web")
    portal.stop(web)

    outcome = portal.python(OUTCOME)
    assert outcome == {
        "incidents": 1 + 200 + 1000,
        "keys": 0,
        "alerts": 1201,
        "unlinked": 0,
        "fired": [2, 5, 50],
        "deliveries": 50 + 1000 + 2,
    }
