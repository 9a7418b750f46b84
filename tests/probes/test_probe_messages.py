"""A failed probe says what happened in words, in the reader's language, with the raw detail
behind a disclosure; the "run now" banner's colour follows the result."""

import re
import ssl

import pytest
import requests

from probes import messages, services
from probes.kinds import HttpSettings, Limits, check_http
from probes.models import ProbeResult
from tests.incidents.factories import make_service
from tests.probes.factories import make_probe

validate_http = HttpSettings.clean_config

pytestmark = pytest.mark.django_db

REFUSED = {"en": "connection refused", "ko": "연결이 거부되었습니다"}
TIMED_OUT = {"en": "timed out after 0.5 s", "ko": "0.5초 안에 응답이 없습니다"}
HTTP_503 = {"en": "HTTP 503, expected 200", "ko": "HTTP 503, 기대값 200"}
DEGRADED = {
    "en": "JSON field status is degraded, expected healthy",
    "ko": "JSON 필드 status 값이 degraded입니다. 기대한 값: healthy",
}


def banner(page: str) -> tuple[str, str]:
    """(the message's class, its text) of the one banner on the page."""
    match = re.search(r'<ul class="messages"[^>]*><li class="(msg-\w+)">(.*?)</li>', page, re.S)
    assert match, page
    return match[1], match[2]


def run_now(client, probe, language):
    response = client.post(f"/probes/{probe.pk}/run/", follow=True, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_refused_port_says_connection_refused_in_a_red_banner_with_the_raw_detail_folded(
    client_as, refused_port, language
):
    probe = make_probe(
        make_service(),
        config=validate_http({"url": f"http://127.0.0.1:{refused_port}/"}),
        timeout=2,
    )
    page = run_now(client_as("operator"), probe, language)
    kind, text = banner(page)
    assert kind == "msg-error"
    assert REFUSED[language] in text
    assert "Max retries" not in text and "Errno" not in text
    result = ProbeResult.objects.get(probe=probe)
    assert result.code == "refused"
    assert "Connection refused" in result.detail or "Errno 111" in result.detail
    # The page: the words, and the library's text only inside <details>.
    outside = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    assert REFUSED[language] in outside and "Errno" not in outside
    assert re.search(
        r"<details><summary>[^<]+</summary><code>[^<]*(Errno 111|Connection refused)", page
    )


@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_timeout_says_after_how_many_seconds(client_as, http_server, language):
    probe = make_probe(
        make_service(), config=validate_http({"url": http_server.url + "/slow"}), timeout=0.5
    )
    kind, text = banner(run_now(client_as("operator"), probe, language))
    assert kind == "msg-error"
    assert TIMED_OUT[language] in text
    assert ProbeResult.objects.get(probe=probe).code == "timeout"


@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_503_says_the_status_it_got_and_the_one_it_expected(client_as, http_server, language):
    probe = make_probe(
        make_service(), config=validate_http({"url": http_server.url + "/status/503"}), timeout=2
    )
    kind, text = banner(run_now(client_as("operator"), probe, language))
    assert kind == "msg-error"
    assert HTTP_503[language] in text


@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_json_field_with_the_wrong_value_says_which_value_it_had(
    client_as, http_server, language
):
    config = validate_http({"url": http_server.url + "/degraded", "expect": ["status == healthy"]})
    probe = make_probe(make_service(), config=config, timeout=2)
    kind, text = banner(run_now(client_as("operator"), probe, language))
    assert kind == "msg-error"
    assert DEGRADED[language] in text


def test_the_message_is_rendered_in_the_readers_language_when_read_not_when_run(
    client_as, refused_port
):
    probe = make_probe(
        make_service(),
        config=validate_http({"url": f"http://127.0.0.1:{refused_port}/"}),
        timeout=2,
    )
    client = client_as("operator")
    run_now(client, probe, "en")
    korean = client.get(probe.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert korean.count(REFUSED["ko"]) >= 2  # the state and the results table
    assert REFUSED["en"] not in re.sub(r"<details>.*?</details>", "", korean, flags=re.S)
    grid = client.get("/probes/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert REFUSED["ko"] in grid


def test_a_healthy_run_is_a_green_banner_and_a_slow_one_a_yellow_one(client_as, http_server):
    client = client_as("operator")
    fine = make_probe(
        make_service(),
        config=validate_http({"url": http_server.url + "/health"}),
        warning=None,
        critical=None,
        timeout=2,
    )
    assert banner(run_now(client, fine, "en"))[0] == "msg-success"
    slow = make_probe(
        make_service(),
        config=validate_http({"url": http_server.url + "/health"}),
        warning=0.0001,
        critical=None,
        timeout=2,
    )
    assert banner(run_now(client, slow, "en"))[0] == "msg-warning"


def test_a_message_stored_without_a_code_is_shown_as_stored():
    probe = make_probe(make_service(), last_message="an old row's text")
    assert probe.shown_message == "an old row's text"
    assert messages.render("no-such-code", {}, "fallback") == "fallback"
    assert messages.render("timeout", {}, "fallback") == "fallback"  # a parameter missing


def test_an_expired_certificate_says_so():
    error = ssl.SSLCertVerificationError(
        1,
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "certificate has expired (_ssl.c:1000)",
    )
    error.verify_message = "certificate has expired"
    wrapped = requests.exceptions.SSLError(error)
    assert messages.classify(wrapped) == ("tls_expired", {})
    error.verify_message = "self-signed certificate"
    assert messages.classify(wrapped) == ("tls_untrusted", {})


def test_a_direct_check_of_a_refused_port_keeps_the_words_and_the_detail(refused_port):
    result = check_http(
        validate_http({"url": f"http://127.0.0.1:{refused_port}/"}), Limits(2, None, None)
    )
    assert (result.status, result.code, result.message) == (
        "critical",
        "refused",
        "connection refused",
    )
    assert f"127.0.0.1:{refused_port}" in result.detail or "Errno 111" in result.detail


def test_the_api_gives_the_code_its_parameters_and_the_raw_detail(api_as, refused_port):
    probe = make_probe(
        make_service(),
        config=validate_http({"url": f"http://127.0.0.1:{refused_port}/"}),
        timeout=2,
    )
    services.run_probe(probe=probe)
    [row] = api_as("viewer").get("/api/v1/probe-results", {"probe": probe.pk}).json()["results"]
    assert (row["code"], row["params"], row["message"]) == ("refused", {}, "connection refused")
    assert row["detail"]
