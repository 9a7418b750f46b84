"""The http kind against a real threaded server on 127.0.0.1."""

import time

from probes.kinds import BODY_LIMIT, HttpSettings, Limits, check_http
from tests.probes.conftest import HUGE

validate_http = HttpSettings.clean_config

# Latency thresholds far above a loaded CI machine's local round trip: these tests are about the
# answer, not its speed (the threshold tests set their own).
LIMITS = Limits(timeout=2.0, warning=1_000, critical=1_500)


def http(server, path, limits=LIMITS, **config):
    return check_http(validate_http({"url": server.url + path, **config}), limits)


def test_a_healthy_endpoint_meeting_its_json_expectations_is_ok(http_server):
    result = http(http_server, "/health", expect=["status in [ok, healthy]", "disk_free_gb >= 5"])
    assert result.status == "ok"
    assert result.latency_ms is not None and result.value == result.latency_ms
    assert "HTTP 200" in result.message


def test_the_runbooks_ok_shape_passes_the_same_expectations(http_server):
    assert (
        http(
            http_server, "/health-ok", expect=["status in [ok, healthy]", "disk_free_gb >= 5"]
        ).status
        == "ok"
    )


def test_a_degraded_status_fails_the_expectation_and_says_what_it_got(http_server):
    result = http(http_server, "/degraded", expect=["status in [ok, healthy]"])
    assert result.status == "critical"
    assert result.message == "JSON field status is degraded, expected one of ok, healthy"
    assert (result.code, result.params["actual"]) == ("json_in", "degraded")


def test_a_field_compared_with_one_value_says_the_value_it_expected(http_server):
    result = http(http_server, "/degraded", expect=["status == healthy"])
    assert result.message == "JSON field status is degraded, expected healthy"


def test_too_little_free_disk_fails_a_numeric_expectation(http_server):
    result = http(http_server, "/degraded", expect=["disk_free_gb >= 5"])
    assert result.status == "critical"
    assert "JSON field disk_free_gb is 3.2, expected >= 5" in result.message


def test_a_missing_json_key_fails_the_expectation(http_server):
    result = http(http_server, "/health", expect=["queue == ok"])
    assert result.status == "critical"
    assert "queue is missing" in result.message


def test_an_unexpected_status_code_is_critical(http_server):
    result = http(http_server, "/status/503")
    assert result.status == "critical"
    assert "HTTP 503" in result.message


def test_an_expected_non_200_status_code_is_ok(http_server):
    assert http(http_server, "/status/204", expected_status=[204]).status == "ok"


def test_a_slow_endpoint_times_out_as_critical_within_the_timeout(http_server):
    started = time.monotonic()
    result = http(http_server, "/slow", Limits(timeout=0.3, warning=100, critical=500))
    assert result.status == "critical"
    assert result.message == "timed out after 0.3 s"
    assert time.monotonic() - started < 2


def test_latency_above_the_warning_threshold_is_a_warning(http_server):
    assert (
        http(http_server, "/health", Limits(timeout=2, warning=0.0001, critical=1000)).status
        == "warning"
    )


def test_latency_above_the_critical_threshold_is_critical(http_server):
    assert (
        http(http_server, "/health", Limits(timeout=2, warning=0.0001, critical=0.0002)).status
        == "critical"
    )


def test_a_refused_port_is_critical(refused_port):
    result = check_http(validate_http({"url": f"http://127.0.0.1:{refused_port}/"}), LIMITS)
    assert result.status == "critical"
    assert result.message == "connection refused"


def test_a_reset_connection_is_critical(http_server):
    result = http(http_server, "/reset")
    assert result.status == "critical"
    assert result.message in ("connection reset by the server", "connection failed")


def test_a_non_json_body_fails_json_expectations(http_server):
    result = http(http_server, "/text", expect=["status == ok"])
    assert result.status == "critical"
    assert "not JSON" in result.message


def test_a_non_json_body_without_expectations_is_fine(http_server):
    assert http(http_server, "/text").status == "ok"


def test_a_50_mib_body_is_capped_at_1_mib_and_not_read_whole(http_server):
    result = http(http_server, "/huge", Limits(timeout=5, warning=None, critical=None))
    assert result.status == "ok"
    assert f"capped at {BODY_LIMIT}" in result.message
    assert http_server.huge_done.wait(5)
    assert http_server.huge_sent < HUGE / 2


def test_a_huge_body_cannot_be_checked_against_json_expectations(http_server):
    result = http(
        http_server,
        "/huge",
        Limits(timeout=5, warning=None, critical=None),
        expect=["status == ok"],
    )
    assert result.status == "critical"
    assert "larger than" in result.message


def test_a_redirect_loop_is_critical(http_server):
    result = http(http_server, "/loop")
    assert result.status == "critical"
    assert "redirect" in result.message
    assert 2 < http_server.hits.count("/loop") <= 31


def test_redirects_are_followed_by_default(http_server):
    assert http(http_server, "/moved", expect=["status == healthy"]).status == "ok"


def test_with_redirects_off_the_redirect_itself_is_the_answer(http_server):
    assert http(http_server, "/moved", follow_redirects=False).status == "critical"
    assert http(http_server, "/moved", follow_redirects=False, expected_status=[302]).status == "ok"
    assert http_server.hits.count("/health") == 0


def test_a_post_probe_sends_a_post(http_server):
    assert http(http_server, "/health", method="POST").status == "ok"
    assert http_server.hits == ["/health"]
