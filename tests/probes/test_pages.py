"""Probe pages: grid, detail, run now, the per-kind form, the dashboard panel."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from probes.models import Probe, ProbeResult
from tests.incidents.factories import make_service
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    return make_service("Route prediction API")


def with_history(probe, hours=24):
    now = timezone.now()
    for h in range(hours):
        probe.add_latency_sample(now - timedelta(hours=h), 40.0 + h)
    probe.save()
    return probe


@pytest.mark.parametrize("count", [3, 60])
def test_the_grid_costs_the_same_queries_at_any_size(
    client_as, service, count, django_assert_max_num_queries
):
    client = client_as("viewer")
    for _ in range(count):
        with_history(make_probe(service, status="ok", status_since=timezone.now()))
    with django_assert_max_num_queries(8):
        response = client.get("/probes/")
    assert response.status_code == 200
    assert response.content.decode().count('class="probe-card') == count


def test_the_grid_shows_status_word_shape_value_age_and_a_sparkline(client_as, service):
    with_history(
        make_probe(
            service,
            name="Route API health",
            status="critical",
            last_value=512.3,
            status_since=timezone.now() - timedelta(minutes=12),
            last_message="HTTP 502",
        )
    )
    page = client_as("viewer").get("/probes/").content.decode()
    assert "Route API health" in page
    assert 'class="status status-critical"' in page and ">critical<" in page
    assert "512.3" in page and "HTTP 502" in page
    assert "12\xa0minutes" in page
    points = re.search(r'<svg class="sparkline".*?points="([^"]*)"', page).group(1).split()
    assert len(points) == 24


def test_the_grid_lists_the_worst_first(client_as, service):
    make_probe(service, name="fine-one", status="ok")
    make_probe(service, name="broken-one", status="critical")
    page = client_as("viewer").get("/probes/").content.decode()
    assert page.index("broken-one") < page.index("fine-one")


def test_the_detail_page_shows_history_and_pages_the_results(client_as, service):
    probe = with_history(make_probe(service, status="ok"))
    ProbeResult.objects.bulk_create(
        [
            ProbeResult(
                probe=probe,
                at=timezone.now() - timedelta(minutes=i),
                status="ok",
                latency_ms=i,
                message=f"result-{i}",
            )
            for i in range(120)
        ]
    )
    client = client_as("viewer")
    first = client.get(probe.get_absolute_url()).content.decode()
    assert "result-0<" in first and "result-49<" in first and "result-50<" not in first
    assert '<svg class="history-chart"' in first
    assert "Page 1 of 3" in first
    assert "result-50<" in client.get(probe.get_absolute_url() + "?page=2").content.decode()
    assert "Run now" not in first  # a viewer may not


def test_the_heartbeat_page_shows_a_ready_curl_line(client_as, service):
    probe = make_probe(service, kind="heartbeat", config={"grace_seconds": 300})
    page = client_as("manager").get(probe.get_absolute_url()).content.decode()
    assert (
        f"curl -fsS -m 10 --retry 3 http://127.0.0.1:8000/api/v1/heartbeats/{probe.token}" in page
    )
    assert f"/api/v1/heartbeats/{probe.token}/fail" in page


def test_the_ping_url_is_a_credential_that_viewers_do_not_see(client_as, service):
    probe = make_probe(service, kind="heartbeat", config={"grace_seconds": 300})
    assert (
        str(probe.token) not in client_as("viewer").get(probe.get_absolute_url()).content.decode()
    )


def test_an_operator_runs_a_probe_now_from_its_page(client_as, service, http_server):
    probe = make_probe(
        service, config={"url": http_server.url + "/health"}, warning=10_000, critical=20_000
    )
    client = client_as("operator")
    assert "Run now" in client.get(probe.get_absolute_url()).content.decode()
    response = client.post(f"/probes/{probe.pk}/run/", follow=True)
    assert response.redirect_chain[-1][0] == probe.get_absolute_url()
    assert "Ran now" in response.content.decode()
    probe.refresh_from_db()
    assert probe.status == "ok"


def test_run_now_needs_post_and_the_operator_role(client_as, service):
    probe = make_probe(service, kind="memory")
    assert client_as("viewer").post(f"/probes/{probe.pk}/run/").status_code == 403
    assert client_as("operator").get(f"/probes/{probe.pk}/run/").status_code == 405
    assert not ProbeResult.objects.exists()


def form_data(service, **extra):
    data = {
        "service": service.pk,
        "name": "health",
        "interval": 60,
        "timeout": 5,
        "failures_before_alert": 3,
        "successes_to_recover": 2,
        "reminder_minutes": 60,
        "severity": "sev2",
        "enabled": "on",
        "auto_resolve": "on",
        "config_url": "http://127.0.0.1:9/api/health",
        "config_method": "GET",
        "config_expected_status": "200, 204",
        "config_expect": "status in [ok, healthy]\ndisk_free_gb >= 5",
        "config_headers": "Accept: application/json",
        "config_verify_tls": "on",
    }
    data.update(extra)
    return data


def test_a_manager_creates_an_http_probe_with_the_form(client_as, service):
    client = client_as("manager")
    page = client.get("/probes/new/http/").content.decode()
    assert 'name="config_url"' in page and 'name="config_expect"' in page
    response = client.post("/probes/new/http/", form_data(service))
    probe = Probe.objects.get()
    assert response.status_code == 302 and response["Location"] == probe.get_absolute_url()
    assert probe.config == {
        "url": "http://127.0.0.1:9/api/health",
        "method": "GET",
        "headers": {"Accept": "application/json"},
        "verify_tls": True,
        "follow_redirects": False,
        "expected_status": [200, 204],
        "expect": ["status in [ok, healthy]", "disk_free_gb >= 5"],
        "expect_warning": [],
        "health": "auto",
    }
    assert probe.next_run_at is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"config_url": "ftp://127.0.0.1/x"}, "config_url"),
        ({"warning": 600, "critical": 500}, "warning"),
        ({"interval": -5}, "interval"),
        ({"config_expect": "status is fine"}, "config_expect"),
        ({"config_expected_status": "two hundred"}, "config_expected_status"),
        ({"config_headers": "no colon here"}, "config_headers"),
        ({"reminder_minutes": 2}, "reminder_minutes"),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error_by_its_field(
    client_as, service, change, field
):
    response = client_as("manager").post("/probes/new/http/", form_data(service, **change))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Probe.objects.exists()


def test_a_path_outside_the_roots_is_a_form_error_on_the_path(client_as, service, file_root):
    data = form_data(service, config_path="/etc/shadow", config_check="quick_check")
    response = client_as("manager").post("/probes/new/sqlite/", data)
    assert response.status_code == 400
    assert "outside the folders" in response.context["form"].errors["config_path"][0]


def test_editing_keeps_the_kind_and_shows_the_config(client_as, service, file_root):
    path = str(file_root / "api.log")
    probe = make_probe(
        service, kind="log_errors", config={"path": path, "pattern": "FATAL", "tail_kib": 8}
    )
    client = client_as("manager")
    page = client.get(f"/probes/{probe.pk}/edit/").content.decode()
    assert 'value="FATAL"' in page and 'name="config_url"' not in page
    response = client.post(
        f"/probes/{probe.pk}/edit/",
        {
            **form_data(service),
            "config_path": path,
            "config_pattern": "CRITICAL",
            "config_tail_kib": 16,
        },
    )
    assert response.status_code == 302
    probe.refresh_from_db()
    assert (probe.kind, probe.config) == (
        "log_errors",
        {"path": path, "pattern": "CRITICAL", "tail_kib": 16},
    )


def test_only_managers_may_create_or_edit(client_as, service):
    probe = make_probe(service)
    client = client_as("operator")
    assert client.get("/probes/new/").status_code == 403
    assert client.get("/probes/new/http/").status_code == 403
    assert client.get(f"/probes/{probe.pk}/edit/").status_code == 403


def test_an_unknown_kind_is_a_404(client_as):
    assert client_as("manager").get("/probes/new/gopher/").status_code == 404


def test_the_dashboard_panel_counts_by_status_worst_first(client_as, service):
    make_probe(service, name="fine", status="ok")
    make_probe(service, name="slowish", status="warning")
    make_probe(service, name="down-one", status="critical", status_since=timezone.now())
    page = client_as("viewer").get("/").content.decode()
    panel = page[page.index('id="probes-title"') :]
    assert panel.index("down-one") < panel.index("slowish")
    assert "fine" not in panel[: panel.index("</section>")]
    assert panel.index("status-critical") < panel.index("status-ok")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["1 d", "1 failure in a row", "recovers after 2 successes"]),
        ("ko", ["1일", "1회 연속 실패 시 알림", "2회 성공하면 복구"]),
    ],
)
def test_the_detail_says_intervals_and_counts_as_people_do(client_as, service, language, expected):
    # It said "86400 s" and "1 failures in a row".
    probe = make_probe(
        service, kind="memory", interval=86400, failures_before_alert=1, successes_to_recover=2
    )
    client = client_as("viewer")
    page = client.get(f"/probes/{probe.pk}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for text in expected:
        assert text in page
    assert "86400" not in page
