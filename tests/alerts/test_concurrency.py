"""The same alert from many senders at once, against a live server (threads, one connection each):
the database decides, so exactly one incident opens (SQLite and PostgreSQL legs)."""

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from django.urls import reverse

from alerts.models import Alert, Delivery
from incidents.models import Incident
from tests.alerts.factories import make_integration, prometheus, sample

pytestmark = pytest.mark.django_db(transaction=True)


class BurstServer(ThreadedWSGIServer):
    # 50 connections arrive at once: the default backlog (10) would reset most of them.
    request_queue_size = 256


class BurstServerThread(LiveServerThread):
    server_class = BurstServer


@pytest.fixture
def live_url(transactional_db):
    """A live server in a thread, one thread and database connection per request (pytest-django's
    live_server, with a listen backlog for a burst). An in-memory SQLite is shared, as Django's
    LiveServerTestCase shares it."""
    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    thread = BurstServerThread(
        "127.0.0.1", _StaticFilesHandler, connections_override=shared, port=0
    )
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


def post_all(url: str, bodies: list[dict], *, threads: int) -> list[int]:
    start = threading.Barrier(threads)

    def post(body):
        start.wait(timeout=30)
        request = urllib.request.Request(
            url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(post, bodies))


def test_the_same_firing_alert_posted_50_times_at_once_opens_exactly_one_incident(live_url):
    integration = make_integration()
    url = live_url + reverse("integration-alerts", args=[integration.token])
    statuses = post_all(url, [sample("alertmanager_firing")] * 50, threads=50)
    assert statuses == [200] * 50
    incident = Incident.objects.get()
    alert = Alert.objects.get()
    assert (alert.incident_id, alert.fire_count) == (incident.pk, 50)
    assert Delivery.objects.filter(status_code=200).count() == 50


def test_overlapping_bursts_open_one_incident_per_fingerprint(live_url):
    integration = make_integration()
    url = live_url + reverse("integration-alerts", args=[integration.token])
    # Ten requests, each with the same 40 alerts in a different order: no duplicate, no deadlock.
    alerts = [
        {"fingerprint": f"fp-{i:02}", "labels": {"alertname": "X", "n": str(i)}} for i in range(40)
    ]
    bodies = [prometheus(alerts[k:] + alerts[:k]) for k in range(0, 40, 4)]
    assert post_all(url, bodies, threads=10) == [200] * 10
    assert Incident.objects.count() == 40
    assert set(Alert.objects.values_list("fire_count", flat=True)) == {10}
