"""Probes and results over the REST API: roles, bad config as 400s, filters, query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from probes.models import Probe, ProbeResult
from tests.incidents.factories import make_service
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def service():
    return make_service("Route prediction API")


def http_body(service, **extra):
    body = {
        "service": service.pk,
        "name": "health",
        "kind": "http",
        "config": {"url": "http://127.0.0.1:9/api/health", "expect": ["status in [ok, healthy]"]},
    }
    body.update(extra)
    return body


def test_a_manager_creates_an_http_probe_that_is_due_at_once(api_as, service):
    response = api_as("manager").post(f"{API}/probes", http_body(service), format="json")
    assert response.status_code == 201, response.json()
    probe = Probe.objects.get()
    assert probe.config["expected_status"] == [200]
    assert probe.config["method"] == "GET"
    assert probe.next_run_at <= timezone.now()
    assert response.json()["ping_url"] is None
    assert response.json()["service_name"] == "Route prediction API"


def test_a_new_heartbeat_has_a_ping_url_and_waits_for_its_first_ping(api_as, service):
    response = api_as("manager").post(
        f"{API}/probes",
        {
            "service": service.pk,
            "name": "backup",
            "kind": "heartbeat",
            "interval": 3600,
            "config": {},
        },
        format="json",
    )
    assert response.status_code == 201
    probe = Probe.objects.get()
    assert response.json()["ping_url"].endswith(f"/api/v1/heartbeats/{probe.token}")
    assert probe.next_run_at > timezone.now() + timedelta(minutes=64)


def test_viewers_and_operators_cannot_create_probes(api_as, service):
    for role in ("viewer", "operator"):
        assert (
            api_as(role).post(f"{API}/probes", http_body(service), format="json").status_code == 403
        )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"config": {"url": "ftp://127.0.0.1/file"}}, "config"),
        ({"config": {"url": "file:///etc/passwd"}}, "config"),
        ({"warning": 600, "critical": 500}, "warning"),
        ({"interval": -60}, "interval"),
        ({"config": {"url": "http://127.0.0.1/", "expect": ["status in ok, healthy"]}}, "config"),
        ({"config": {"url": "http://127.0.0.1/", "expect": ["disk_free_gb >= lots"]}}, "config"),
        ({"config": {"url": "http://127.0.0.1/", "expected_status": [99]}}, "config"),
        ({"config": "http://127.0.0.1/"}, "config"),
        ({"timeout": 120, "interval": 60}, "timeout"),
        ({"reminder_minutes": 1}, "reminder_minutes"),
        ({"kind": "gopher"}, "kind"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_as, service, change, field):
    response = api_as("manager").post(f"{API}/probes", http_body(service, **change), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Probe.objects.exists()


def test_a_config_error_names_the_config_field(api_as, service):
    response = api_as("manager").post(
        f"{API}/probes", http_body(service, config={"url": "ftp://x/"}), format="json"
    )
    assert "url" in response.json()["config"]


def test_a_path_outside_the_allowed_roots_is_a_400(api_as, service, file_root):
    body = {
        "service": service.pk,
        "name": "db",
        "kind": "sqlite",
        "config": {"path": "/etc/passwd"},
    }
    response = api_as("manager").post(f"{API}/probes", body, format="json")
    assert response.status_code == 400
    assert "outside the folders" in response.json()["config"]["path"][0]


def test_a_path_inside_the_roots_is_stored_resolved(api_as, service, file_root):
    body = {
        "service": service.pk,
        "name": "db",
        "kind": "sqlite",
        "config": {"path": f"{file_root}/x/../p.db"},
    }
    assert api_as("manager").post(f"{API}/probes", body, format="json").status_code == 201
    assert Probe.objects.get().config["path"] == str(file_root / "p.db")


def test_tls_expiry_thresholds_run_downwards(api_as, service):
    body = {
        "service": service.pk,
        "name": "cert",
        "kind": "tls_expiry",
        "config": {"host": "example.org"},
    }
    api = api_as("manager")
    assert (
        api.post(f"{API}/probes", {**body, "warning": 7, "critical": 30}, format="json").status_code
        == 400
    )
    assert (
        api.post(f"{API}/probes", {**body, "warning": 30, "critical": 7}, format="json").status_code
        == 201
    )


def test_changing_the_kind_revalidates_the_config(api_as, service):
    probe = make_probe(service, config={"url": "http://127.0.0.1/"})
    response = api_as("manager").patch(f"{API}/probes/{probe.pk}", {"kind": "tcp"}, format="json")
    assert response.status_code == 400
    assert "host" in response.json()["config"]


def test_an_operator_runs_a_probe_now_and_a_viewer_cannot(api_as, service, http_server):
    probe = make_probe(
        service, config={"url": http_server.url + "/health"}, warning=10_000, critical=20_000
    )
    assert api_as("viewer").post(f"{API}/probes/{probe.pk}/run").status_code == 403
    response = api_as("operator").post(f"{API}/probes/{probe.pk}/run")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert ProbeResult.objects.filter(probe=probe).count() == 1


def test_running_a_heartbeat_is_a_conflict_with_its_kind(api_as, service):
    probe = make_probe(service, kind="heartbeat")
    response = api_as("operator").post(f"{API}/probes/{probe.pk}/run")
    assert response.status_code == 409 and response.json()["code"] == "heartbeat"


def test_the_probe_list_is_worst_first(api_as, service):
    for name, status in [("a", "ok"), ("b", "critical"), ("c", "warning"), ("d", "error")]:
        make_probe(service, name=name, status=status)
    rows = api_as("viewer").get(f"{API}/probes").json()["results"]
    assert [row["name"] for row in rows] == ["d", "b", "c", "a"]
    # The service's name comes with the row (a column of the list query, not a Service per row).
    assert {row["service_name"] for row in rows} == {"Route prediction API"}


@pytest.mark.parametrize("count", [3, 30])
def test_the_probe_list_costs_the_same_queries_at_any_size(
    api_as, service, count, django_assert_max_num_queries
):
    api = api_as("viewer")
    for _ in range(count):
        make_probe(service)
    with django_assert_max_num_queries(6):
        assert len(api.get(f"{API}/probes").json()["results"]) == count


def make_results(probe, n, *, status="ok", start=None):
    start = start or timezone.now()
    return ProbeResult.objects.bulk_create(
        [
            ProbeResult(
                probe=probe, at=start - timedelta(minutes=i), status=status, latency_ms=10 + i
            )
            for i in range(n)
        ]
    )


def test_results_filter_by_probe_status_and_time(api_as, service):
    probe, other = make_probe(service), make_probe(service)
    now = timezone.now()
    make_results(probe, 10, start=now)
    make_results(probe, 3, status="critical", start=now - timedelta(hours=2))
    make_results(other, 5, start=now)
    api = api_as("viewer")
    assert len(api.get(f"{API}/probe-results", {"probe": probe.pk}).json()["results"]) == 13
    assert (
        len(
            api.get(f"{API}/probe-results", {"probe": probe.pk, "status": "critical"}).json()[
                "results"
            ]
        )
        == 3
    )
    recent = api.get(
        f"{API}/probe-results", {"probe": probe.pk, "after": (now - timedelta(hours=1)).isoformat()}
    )
    assert len(recent.json()["results"]) == 10
    assert api.get(f"{API}/probe-results", {"after": "yesterday"}).status_code == 400


def test_results_page_by_cursor_newest_first_without_counting(
    api_as, service, django_assert_max_num_queries
):
    probe = make_probe(service)
    make_results(probe, 120)
    api = api_as("viewer")
    # token, the role's permissions (2), the probe of the filter, the page
    with django_assert_max_num_queries(5):
        first = api.get(f"{API}/probe-results", {"probe": probe.pk}).json()
    assert "count" not in first
    ats = [row["at"] for row in first["results"]]
    assert ats == sorted(ats, reverse=True) and len(ats) == 50
    second = api.get(first["next"]).json()
    assert not {row["id"] for row in second["results"]} & {row["id"] for row in first["results"]}


def test_results_are_read_only(api_as, service):
    probe = make_probe(service)
    assert (
        api_as("manager")
        .post(f"{API}/probe-results", {"probe": probe.pk, "status": "ok"}, format="json")
        .status_code
        == 405
    )


def test_deleting_a_service_with_probes_is_refused(api_as, service):
    make_probe(service)
    assert api_as("manager").delete(f"{API}/services/{service.pk}").status_code == 409


def test_a_probe_that_is_no_heartbeat_has_a_null_ping_url_as_the_schema_says(api_as, service):
    # Found by the schema fuzz test: the schema said ping_url was always a URI.
    api = api_as("manager")
    probe = make_probe(service, kind="tcp", config={"host": "127.0.0.1", "port": 9})
    assert api.get(f"{API}/probes/{probe.pk}").json()["ping_url"] is None
    schemas = api.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert schemas["Probe"]["properties"]["ping_url"]["nullable"] is True


def test_a_result_time_filter_with_a_far_utc_offset_is_not_a_500(api_as, service):
    # Found by the schema fuzz test on PostgreSQL (offsets past ±15:59).
    api = api_as("viewer")
    assert (
        api.get(f"{API}/probe-results", {"after": "0176-05-09T17:38:19+18:59"}).status_code == 200
    )
