"""Health semantics of the http kind (issue 26): a JSON body's `status` word read as the
health-check conventions say, JSON fields with warning and critical levels, and an HTML page
where JSON was expected told apart from JSON."""

import pytest
from django.core.exceptions import ValidationError

from probes.kinds import HttpSettings, Limits, check_http
from probes.models import Probe
from tests.incidents.factories import make_service

validate_http = HttpSettings.clean_config

API = "/api/v1"

LIMITS = Limits(timeout=2.0, warning=None, critical=None)


def http(server, path, **config):
    return check_http(validate_http({"url": server.url + path, **config}), LIMITS)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/actuator/up", "ok"),
        ("/ietf/pass", "ok"),
        ("/health", "ok"),
        ("/health-ok", "ok"),
        ("/degraded", "warning"),
        ("/ietf/warn", "warning"),
        ("/actuator/down", "critical"),
        ("/actuator/out", "critical"),
        ("/ietf/fail", "critical"),
        ("/unhealthy", "critical"),
        ("/error-word", "critical"),
    ],
)
def test_a_plain_http_probe_reads_the_bodys_health_status_by_the_conventions(
    http_server, path, status
):
    assert http(http_server, path).status == status


def test_a_degraded_health_says_so_first_in_its_message(http_server):
    result = http(http_server, "/degraded")
    assert result.message.startswith('health "degraded"')
    assert "HTTP 200" in result.message


def test_a_failing_health_quotes_the_documents_own_reason_redacted(http_server):
    assert "database unreachable" in http(http_server, "/ietf/fail").message
    warned = http(http_server, "/ietf/warn").message
    assert "queue is backing up" in warned
    assert "s3cret-value" not in warned


def test_a_status_word_nobody_defined_changes_nothing(http_server):
    assert http(http_server, "/odd-word").status == "ok"
    assert http(http_server, "/no-status").status == "ok"


def test_with_health_off_the_status_word_is_not_read(http_server):
    assert http(http_server, "/actuator/down", health="off").status == "ok"


def test_an_expectation_on_status_is_the_probe_saying_otherwise(http_server):
    # The probe accepts "degraded": the convention that would call it a warning steps aside.
    assert http(http_server, "/degraded", expect=["status in [ok, degraded]"]).status == "ok"
    assert http(http_server, "/actuator/down", expect=["status != maintenance"]).status == "ok"


def test_health_required_makes_a_body_without_a_status_critical(http_server):
    result = http(http_server, "/no-status", health="require")
    assert result.status == "critical"
    assert "no health status" in result.message
    assert http(http_server, "/ietf/pass", health="require").status == "ok"


def test_an_html_page_where_json_is_expected_is_critical_and_says_what_it_was(http_server):
    result = http(http_server, "/html-error", expect=["disk_free_gb >= 5"])
    assert result.status == "critical"
    assert "HTML page" in result.message and "502 Bad Gateway" in result.message


def test_an_html_page_fails_a_probe_that_requires_a_health_document(http_server):
    result = http(http_server, "/html-error", health="require")
    assert result.status == "critical"
    assert "HTML page (502 Bad Gateway)" in result.message


def test_an_html_page_is_fine_for_a_probe_that_expects_no_json(http_server):
    assert http(http_server, "/html-error").status == "ok"


@pytest.mark.parametrize(
    ("path", "status"), [("/disk/40", "ok"), ("/disk/8", "warning"), ("/disk/3", "critical")]
)
def test_a_json_field_has_a_warning_and_a_critical_level(http_server, path, status):
    result = http(
        http_server, path, expect=["disk_free_gb >= 5"], expect_warning=["disk_free_gb >= 10"]
    )
    assert result.status == status


def test_a_warning_level_field_says_what_it_got(http_server):
    result = http(http_server, "/disk/8", expect_warning=["disk_free_gb >= 10"])
    # its own words, translated where read
    assert result.message == "JSON field disk_free_gb is 8, expected >= 10"


def test_the_worst_of_health_fields_and_latency_wins(http_server):
    result = check_http(
        validate_http({"url": http_server.url + "/degraded", "expect": ["disk_free_gb >= 5"]}),
        Limits(timeout=2.0, warning=100, critical=500),
    )
    assert result.status == "critical"
    assert (
        'health "degraded"' in result.message
        and "disk_free_gb is 3.2, expected >= 5" in result.message
    )


def test_the_validator_keeps_defaults_and_refuses_bad_health_settings():
    cleaned = validate_http({"url": "http://127.0.0.1/health"})
    assert cleaned["health"] == "auto" and cleaned["expect_warning"] == []
    with pytest.raises(ValidationError) as raised:
        validate_http(
            {"url": "http://127.0.0.1/", "health": "sometimes", "expect_warning": ["disk is big"]}
        )
    assert set(raised.value.error_dict) == {"health", "expect_warning"}


# Saved through the API and the form: a bad health setting is a 400 naming its field ----------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"health": "sometimes"}, "health"),
        ({"health": 3}, "health"),
        ({"expect_warning": ["disk_free_gb >= plenty"]}, "expect_warning"),
        ({"expect_warning": "disk_free_gb >= 10"}, "expect_warning"),
    ],
)
def test_the_api_refuses_bad_health_settings_with_the_config_field_named(api_as, config, key):
    service = make_service("Route prediction API")
    body = {
        "service": service.pk,
        "name": "health",
        "kind": "http",
        "config": {"url": "http://127.0.0.1:9/api/health", **config},
    }
    response = api_as("manager").post(f"{API}/probes", body, format="json")
    assert response.status_code == 400
    assert key in response.json()["config"]
    assert not Probe.objects.exists()


@pytest.mark.django_db
def test_the_api_saves_warning_and_critical_field_levels_and_the_health_mode(api_as):
    service = make_service("Route prediction API")
    body = {
        "service": service.pk,
        "name": "health",
        "kind": "http",
        "config": {
            "url": "http://127.0.0.1:9/api/health",
            "health": "require",
            "expect": ["disk_free_gb >= 5"],
            "expect_warning": ["disk_free_gb >= 10"],
        },
    }
    assert api_as("manager").post(f"{API}/probes", body, format="json").status_code == 201
    config = Probe.objects.get().config
    assert (config["health"], config["expect"], config["expect_warning"]) == (
        "require",
        ["disk_free_gb >= 5"],
        ["disk_free_gb >= 10"],
    )


@pytest.mark.django_db
def test_the_form_shows_a_bad_warning_expectation_by_its_field(client_as):
    service = make_service("Route prediction API")
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
        "config_url": "http://127.0.0.1:9/api/health",
        "config_method": "GET",
        "config_expected_status": "200",
        "config_expect_warning": "disk is low",
        "config_health": "auto",
    }
    response = client_as("manager").post("/probes/new/http/", data)
    assert response.status_code == 400
    assert "config_expect_warning" in response.context["form"].errors
    data["config_expect_warning"] = "disk_free_gb >= 10"
    assert client_as("manager").post("/probes/new/http/", data).status_code == 302
    assert Probe.objects.get().config["expect_warning"] == ["disk_free_gb >= 10"]
