"""Link-local and cloud-metadata addresses are refused as probe and webhook targets; responses
echoed to people are bounded and redacted."""

import ipaddress
import socket

import pytest

from core import outbound
from core.outbound import RefusedAddress, check_host
from incidents import notify
from incidents.models import ChannelKind, Notification, NotificationStatus
from probes import services
from probes.kinds import (
    HttpSettings,
    Limits,
    PrometheusSettings,
    Result,
    check_http,
    check_prometheus,
    check_tcp,
)
from probes.models import Kind, Probe, ProbeResult
from tests.incidents.factories import make_channel, make_contact, make_incident, make_service
from tests.probes.factories import make_probe

validate_http = HttpSettings.clean_config
validate_prometheus = PrometheusSettings.clean_config

API = "/api/v1"
LIMITS = Limits(2, None, None)
METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fe80::1]:8080/",
    "http://169.254.10.1/",
    "http://[::ffff:169.254.169.254]/",
]


def probe_body(**config):
    return {"service": make_service().pk, "name": "meta", "kind": Kind.HTTP, "config": config}


@pytest.mark.parametrize("url", METADATA_URLS)
def test_a_probe_on_a_link_local_or_metadata_url_is_a_400_refused_address_on_the_field(api_as, url):
    response = api_as("manager").post(f"{API}/probes", probe_body(url=url), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["config"]["url"]
    assert response.json()["codes"] == ["refused_address"]
    assert not Probe.objects.exists()


@pytest.mark.parametrize("kind", [Kind.TCP, Kind.TLS_EXPIRY])
def test_a_tcp_or_tls_probe_on_the_metadata_address_is_refused(api_as, kind):
    body = {
        "service": make_service().pk,
        "name": "meta",
        "kind": kind,
        "config": {"host": "169.254.169.254", "port": 80},
    }
    response = api_as("manager").post(f"{API}/probes", body, format="json")
    assert response.status_code == 400
    assert response.json()["codes"] == ["refused_address"]


def test_a_webhook_channel_on_the_metadata_address_is_a_400_refused_address(api_as, db):
    contact = make_contact()
    body = {
        "contact": contact.pk,
        "kind": ChannelKind.WEBHOOK,
        "target": "http://169.254.169.254/hook",
    }
    response = api_as("manager").post(f"{API}/channels", body, format="json")
    assert response.status_code == 400
    assert response.json()["target"]
    assert response.json()["codes"] == ["refused_address"]


def test_the_admin_refuses_a_metadata_webhook_too(db):
    from django.core.exceptions import ValidationError

    channel = make_channel(make_contact(), kind="webhook", target="http://169.254.169.254/hook")
    with pytest.raises(ValidationError) as caught:
        channel.full_clean()
    assert caught.value.error_dict["target"][0].code == "refused_address"


def test_the_setting_allows_link_local_targets(api_as, settings):
    settings.ALLOW_LINK_LOCAL = True
    response = api_as("manager").post(
        f"{API}/probes", probe_body(url="http://169.254.169.254/"), format="json"
    )
    assert response.status_code == 201


def test_the_loopback_address_stays_allowed(api_as, http_server):
    response = api_as("manager").post(
        f"{API}/probes", probe_body(url=f"{http_server.url}/health"), format="json"
    )
    assert response.status_code == 201
    assert check_http(validate_http({"url": f"{http_server.url}/health"}), LIMITS).status == "ok"


def test_a_probe_saved_before_the_rule_is_refused_when_it_runs(db, settings):
    result = check_http({"url": "http://169.254.169.254/latest/meta-data/iam/"}, LIMITS)
    assert result.status == "critical"
    assert "link-local or cloud metadata" in result.message


def test_a_redirect_to_the_metadata_address_is_not_followed_and_nothing_of_it_is_shown(
    db, http_server
):
    result = check_http(validate_http({"url": f"{http_server.url}/to-metadata"}), LIMITS)
    assert result.status == "critical"
    assert "169.254.169.254" in result.message and "link-local" in result.message
    assert http_server.hits == ["/to-metadata"]


def test_a_name_resolving_to_a_metadata_address_is_refused_at_run_time(monkeypatch):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *args, **kwargs: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))
        ],
    )
    with pytest.raises(RefusedAddress):
        check_host("rebind.example", resolve=True)
    assert check_tcp({"host": "rebind.example", "port": 80}, LIMITS).status == "critical"


def test_a_connection_that_lands_on_a_refused_address_is_dropped_before_its_body_is_read(
    db, http_server, monkeypatch
):
    # DNS answered an allowed address to the check and a refused one to the connection: the
    # connected peer is what counts. Loopback plays the refused address here.
    monkeypatch.setattr(outbound, "REFUSED_NETWORKS", [ipaddress.ip_network("127.0.0.0/8")])
    monkeypatch.setattr(outbound, "check_host", lambda host, *, resolve: None)
    result = check_http(
        validate_http({"url": f"{http_server.url}/health", "expect": ["status == nope"]}), LIMITS
    )
    assert result.status == "critical"
    assert "127.0.0.1" in result.message and "healthy" not in result.message


def test_a_webhook_saved_on_the_metadata_address_is_never_posted_to(db):
    incident = make_incident(make_service("db"), severity="sev1", title="DB down")
    contact = make_contact(channel=False)
    notification = Notification.objects.create(
        incident=incident,
        contact=contact,
        kind="webhook",
        step=0,
        target="http://169.254.169.254/hook",
        next_attempt_at=incident.created_at,
    )
    notify.send_pending(now=incident.created_at)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.PENDING
    assert "RefusedAddress" in notification.last_error


def test_a_prometheus_parse_error_does_not_show_the_scraped_line(db, http_server):
    config = validate_prometheus({"url": f"{http_server.url}/leaky-metrics", "metric": "app_up"})
    result = check_prometheus(config, LIMITS)
    assert result.status == "critical"
    assert "not a Prometheus text page" in result.message
    assert "hunter2-scraped" not in result.message and "db_password" not in result.message


def test_every_recorded_probe_message_is_redacted_in_the_api(api_as, db):
    probe = make_probe(kind=Kind.TCP, config={"host": "127.0.0.1", "port": 9})
    services.record_results(
        outcomes=[
            (
                probe,
                Result("critical", message="refused: api_key=AKIA-in-a-message"),
                probe.next_run_at,
            )
        ]
    )
    assert "AKIA-in-a-message" not in ProbeResult.objects.get().message
    probe.refresh_from_db()
    assert "AKIA-in-a-message" not in probe.last_message
    api = api_as("viewer")
    for url in (f"{API}/probe-results", f"{API}/probes/{probe.pk}"):
        response = api.get(url)
        assert response.status_code == 200
        assert "AKIA-in-a-message" not in response.content.decode()
