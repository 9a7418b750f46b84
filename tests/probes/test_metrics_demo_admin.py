"""Portal metrics of probes, demo data, admin."""

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from probes import demo
from probes.models import Kind, Probe
from tests.incidents.factories import make_service
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db


def test_metrics_have_each_probes_status_and_last_latency(api_as):
    service = make_service("Route prediction API")
    make_probe(service, name="health", status="critical", last_latency_ms=512.5)
    make_probe(service, name="memory", kind="memory", status="ok")
    make_probe(service, name="new", kind="cpu")
    response = api_as("viewer").get("/api/metrics")
    found = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    status = {s.labels["probe"]: s.value for s in found["portal_probe_status"].samples}
    assert status == {"health": 2, "memory": 0, "new": -1}
    latency = {s.labels["probe"]: s.value for s in found["portal_probe_latency_ms"].samples}
    assert latency == {"health": 512.5}
    sample = found["portal_probe_status"].samples[0]
    assert sample.labels["service"] == "Route prediction API"


def test_the_demo_watches_the_portal_itself_and_seeds_once(roles):
    first = demo.seed()
    kinds = dict(Probe.objects.values_list("name", "kind"))
    assert kinds == {
        "Health endpoint": Kind.HTTP,
        "Data disk": Kind.DISK,
        "Memory": Kind.MEMORY,
        "CPU": Kind.CPU,
        "Nightly backup job": Kind.HEARTBEAT,
    }
    health = Probe.objects.get(name="Health endpoint")
    assert health.config["url"] == f"{settings.BASE_URL}/api/health"
    assert Probe.objects.get(name="Data disk").config["path"] == str(settings.DATA_DIR)
    beat = Probe.objects.get(kind=Kind.HEARTBEAT)
    assert f"curl -fsS {settings.BASE_URL}/api/v1/heartbeats/{beat.token}" in first
    demo.seed()
    assert Probe.objects.count() == 5


def test_the_demo_configs_pass_their_own_validators(roles):
    from probes.kinds import validate_config

    demo.seed()
    for probe in Probe.objects.all():
        assert validate_config(probe.kind, probe.config) == probe.config


def test_the_admin_lists_probes_and_runs_them(client_as, http_server):
    probe = make_probe(
        name="health", config={"url": http_server.url + "/health"}, warning=10_000, critical=20_000
    )
    client = client_as("admin")
    assert client.get("/admin/probes/probe/").status_code == 200
    assert client.get("/admin/probes/proberesult/").status_code == 200
    response = client.post(
        "/admin/probes/probe/", {"action": "run_now", "_selected_action": [probe.pk]}
    )
    assert response.status_code == 302
    probe.refresh_from_db()
    assert probe.status == "ok"
