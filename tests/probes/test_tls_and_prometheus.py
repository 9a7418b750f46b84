"""tls_expiry against a self-signed TLS server; prometheus against a served metrics page."""

import pytest

from probes.kinds import (
    HttpSettings,
    Limits,
    PrometheusSettings,
    TlsExpirySettings,
    check_http,
    check_prometheus,
    check_tls_expiry,
    limits_for,
)
from probes.models import Kind

validate_http = HttpSettings.clean_config
validate_prometheus = PrometheusSettings.clean_config
validate_tls_expiry = TlsExpirySettings.clean_config

# Skipping verification is what these tests ask for; urllib3 warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def tls(server, **config):
    return validate_tls_expiry(
        {
            "host": "127.0.0.1",
            "port": server.server_address[1],
            "server_name": "localhost",
            **config,
        }
    )


def test_a_certificate_expiring_in_10_days_warns_with_the_default_30_and_7_days(tls_server):
    result = check_tls_expiry(
        tls(tls_server, verify_tls=False), limits_for(Kind.TLS_EXPIRY, None, None, 2)
    )
    assert result.status == "warning"
    assert 9.5 < result.value <= 10


def test_a_certificate_inside_the_critical_window_is_critical(tls_server):
    result = check_tls_expiry(tls(tls_server, verify_tls=False), Limits(2, warning=60, critical=15))
    assert result.status == "critical"


def test_a_certificate_far_from_expiry_is_ok(tls_server):
    assert (
        check_tls_expiry(tls(tls_server, verify_tls=False), Limits(2, warning=5, critical=2)).status
        == "ok"
    )


def test_a_self_signed_certificate_fails_when_verification_is_on(tls_server):
    result = check_tls_expiry(tls(tls_server), limits_for(Kind.TLS_EXPIRY, None, None, 2))
    assert result.status == "critical"
    assert result.message == "TLS certificate not trusted"
    assert "self-signed" in result.detail or "self signed" in result.detail


def test_an_https_probe_can_skip_verification_of_a_self_signed_certificate(tls_server):
    url = f"https://localhost:{tls_server.server_address[1]}/health"
    assert check_http(validate_http({"url": url}), Limits(3, None, None)).status == "critical"
    assert (
        check_http(validate_http({"url": url, "verify_tls": False}), Limits(3, None, None)).status
        == "ok"
    )


def prom(server, **config):
    return validate_prometheus({"url": server.url + "/metrics", **config})


def test_a_labelled_sample_above_its_critical_threshold_is_critical(http_server):
    result = check_prometheus(
        prom(http_server, metric="app_queue_depth", labels={"queue": "long"}),
        Limits(2, warning=100, critical=200),
    )
    assert (result.status, result.value) == ("critical", 250)


def test_another_label_picks_another_sample(http_server):
    result = check_prometheus(
        prom(http_server, metric="app_queue_depth", labels={"queue": "default"}),
        Limits(2, warning=100, critical=200),
    )
    assert (result.status, result.value) == ("ok", 12)


def test_a_sample_where_lower_is_worse_is_graded_downwards(http_server):
    result = check_prometheus(
        prom(http_server, metric="app_up", direction="below"), Limits(2, warning=1, critical=0)
    )
    assert (result.status, result.value) == ("warning", 1)


def test_a_missing_sample_is_critical(http_server):
    result = check_prometheus(
        prom(http_server, metric="app_queue_depth", labels={"queue": "nope"}), Limits(2, None, None)
    )
    assert result.status == "critical"
    assert "no sample" in result.message


def test_a_page_that_is_not_prometheus_text_is_critical(http_server):
    config = validate_prometheus({"url": http_server.url + "/text", "metric": "app_up"})
    result = check_prometheus(config, Limits(2, None, None))
    assert result.status == "critical"
