"""Apprise channel kinds against a real HTTP server on 127.0.0.1: a generic Apprise URL (its
json:// and ntfy:// plugins, whose documented shapes the server checks) and an HTTP SMS gateway
written as Apprise's form:// URL."""

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import time_machine

from incidents import acklinks, notify
from incidents.models import (
    EventKind,
    Notification,
    NotificationChannel,
    NotificationStatus,
    TimelineEvent,
)
from tests.incidents.factories import make_channel, make_contact, make_tier
from tests.incidents.paging import T0, open_and_sweep, retry

MIN = timedelta(minutes=1)
SECRET = "GW-SECRET-KEY-42"


class Gateway(BaseHTTPRequestHandler):
    """Paths under /ok answer 200, /fail 500, /hang never in time; every body is kept as parsed."""

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind = self.headers.get("Content-Type", "")
        body = (
            json.loads(raw)
            if "json" in kind
            else {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        )
        self.server.received.append((self.path, kind, body))
        self.server.headers.append(dict(self.headers))
        if self.path.startswith("/hang"):
            self.server.release.wait(timeout=10)
            return
        ok = self.path == "/" or self.path.startswith("/ok")  # ntfy publishes to its root
        self.send_response(200 if ok else 500)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "1"}' if ok else b'{"error": "boom"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway(monkeypatch):
    monkeypatch.setattr(notify, "WEBHOOK_TIMEOUT", (1, 0.5))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    server.daemon_threads = True
    server.received, server.headers, server.release = [], [], threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.netloc = f"127.0.0.1:{server.server_address[1]}"
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def paging(paging, settings):
    settings.BASE_URL = "https://ops.example.com"
    return paging


def sms_url(gateway, path="ok/send"):
    # An SMS gateway that takes key, sender, receiver and msg as a form: fixed fields with
    # `:name=value`, the text renamed to `msg`, Apprise's own title/type/version fields left out.
    return (
        f"form://{gateway.netloc}/{path}?:key={SECRET}&:sender=0212345678&:receiver=01012345678"
        "&:message=msg&:title=&:type=&:version="
    )


def test_an_apprise_json_url_gets_apprises_documented_json_with_the_page_and_its_link(
    paging, gateway
):
    make_channel(paging, kind="apprise", target=f"json://{gateway.netloc}/ok/hook")
    incident = open_and_sweep()
    hook = Notification.objects.get(incident=incident, kind="apprise")
    assert hook.status == NotificationStatus.SENT, hook.last_error
    [(path, kind, body)] = gateway.received
    assert (path, kind) == ("/ok/hook", "application/json")
    assert {"version", "title", "message", "type"} <= set(body)
    assert body["title"] == "[SEV1] api: API down"
    assert "Service: api" in body["message"]
    [token] = re.findall(r"https://ops\.example\.com/incidents/ack/([^/\s]+)/", body["message"])
    with time_machine.travel(T0, tick=False):
        assert acklinks.read_token(token).notification_id == hook.pk


def test_an_ntfy_topic_on_its_own_server_gets_ntfys_publish_json(paging, gateway):
    make_channel(paging, kind="apprise", target=f"ntfy://{gateway.netloc}/alerts")
    incident = open_and_sweep()
    assert (
        Notification.objects.get(incident=incident, kind="apprise").status
        == NotificationStatus.SENT
    )
    [(path, _kind, body)] = gateway.received
    assert path == "/"
    assert body["topic"] == "alerts" and body["title"] == "[SEV1] api: API down"
    assert "/incidents/ack/" in body["message"]


def test_an_sms_gateway_gets_its_form_with_the_title_the_reason_and_the_links(paging, gateway):
    make_channel(paging, kind="sms", target=sms_url(gateway))
    incident = open_and_sweep(description="expected disk_free_gb >= 5, got 3")
    sms = Notification.objects.get(incident=incident, kind="sms")
    assert sms.status == NotificationStatus.SENT, sms.last_error
    [(path, kind, body)] = gateway.received
    assert (path, kind) == ("/ok/send", "application/x-www-form-urlencoded")
    assert set(body) == {"key", "sender", "receiver", "msg"}
    assert (body["key"], body["sender"], body["receiver"]) == (SECRET, "0212345678", "01012345678")
    head, ack, link = body["msg"].split("\n")
    assert head.startswith(
        "[SEV1] api: API down · Why: expected disk_free_gb >= 5, got 3 · Step: 1 of 1"
    )
    assert ack.startswith("https://ops.example.com/incidents/ack/")
    assert link == f"https://ops.example.com/incidents/{incident.pk}/"
    assert len(body["msg"]) <= 320


@pytest.mark.parametrize("path", ["fail/send", "hang/send"])
def test_a_failing_gateway_is_retried_then_failed_while_email_goes_out_and_its_key_stays_secret(
    paging, gateway, mailoutbox, path
):
    make_channel(paging, kind="sms", target=sms_url(gateway, path))
    incident = open_and_sweep()
    sms = Notification.objects.get(incident=incident, kind="sms")
    assert (
        Notification.objects.get(incident=incident, kind="email").status == NotificationStatus.SENT
    )
    assert len(mailoutbox) == 1
    assert (sms.status, sms.attempts, sms.next_attempt_at) == ("pending", 1, T0 + MIN)
    assert sms.last_error and SECRET not in sms.last_error
    for at in (T0 + MIN, T0 + 3 * MIN, T0 + 7 * MIN):
        assert retry(at) == 1
    sms.refresh_from_db()
    assert (sms.status, sms.attempts) == ("failed", 4)
    [failed] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTIFICATION_FAILED)
    assert SECRET not in failed.message and SECRET not in sms.last_error
    assert len([p for p, _k, _b in gateway.received if p.startswith(f"/{path}")]) == 4


def test_a_gateway_on_a_metadata_address_is_refused_before_any_connection(
    paging, gateway, settings
):
    contact = paging
    # Saved around the form's check (as an old row would be): the sender checks again.
    NotificationChannel.objects.create(
        contact=contact, kind="apprise", target="json://169.254.169.254/latest"
    )
    incident = open_and_sweep()
    hook = Notification.objects.get(incident=incident, kind="apprise")
    assert (
        hook.status == NotificationStatus.PENDING
        and "link-local or cloud metadata" in hook.last_error
    )


@pytest.mark.parametrize(
    ("kind", "target", "code"),
    [
        ("apprise", "nope://whatever", "url"),
        ("apprise", "not a url", "url"),
        ("sms", "tgram://123456789:ABCdefGhIJKlmnOPQRstuVWXyz/12345", "url"),
        ("sms", "https://sms.example.com/send", "url"),
        ("apprise", "json://169.254.169.254/x", "refused_address"),
    ],
)
def test_the_api_refuses_a_target_apprise_cannot_use_with_a_field_error(api_as, kind, target, code):
    contact = make_contact(tier=make_tier(1), channel=False)
    response = api_as("manager").post(
        "/api/v1/channels", {"contact": contact.pk, "kind": kind, "target": target}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "target" in response.json()
    assert not NotificationChannel.objects.filter(contact=contact).exists()


def test_an_apprise_target_is_shown_without_its_token(api_as):
    contact = make_contact(tier=make_tier(1), channel=False)
    api = api_as("manager")
    token_url = "tgram://123456789:ABCdefGhIJKlmnOPQRstuVWXyz/12345"
    response = api.post(
        "/api/v1/channels",
        {"contact": contact.pk, "kind": "apprise", "target": token_url},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["target"] == "tgram://•••"
    assert "123456789" not in api.get("/api/v1/channels").content.decode()
    assert NotificationChannel.objects.get(contact=contact).target == token_url
    sms = api.post(
        "/api/v1/channels",
        {
            "contact": contact.pk,
            "kind": "sms",
            "target": f"forms://sms.example.com/send?:key={SECRET}",
        },
        format="json",
    )
    assert sms.status_code == 201, sms.content
    assert SECRET not in sms.content.decode()


# JANDI's and Dooray!'s incoming webhooks have no Apprise plugin; Apprise's json:// URL reaches them
# with their own field names (the README's templates). JANDI wants {"body": …} and its v2 Accept
# header; a Dooray! hook {"botName": …, "text": …}.
JANDI = (
    "json://{netloc}/ok/connect-api/webhook/1/T0K3N?+Accept=application/vnd.tosslab.jandi-v2%2Bjson"
    "&:message=body&:title=&:type=&:version=&:attachments="
)
DOORAY = (
    "json://{netloc}/ok/services/1/2/T0K3N?:botName=Ops%20portal&:message=text"
    "&:title=&:type=&:version=&:attachments="
)


def test_the_readme_templates_give_jandi_and_dooray_their_own_json(paging, gateway):
    make_channel(paging, kind="apprise", target=JANDI.format(netloc=gateway.netloc))
    make_channel(paging, kind="apprise", target=DOORAY.format(netloc=gateway.netloc))
    incident = open_and_sweep()
    assert set(Notification.objects.filter(incident=incident).values_list("status", flat=True)) == {
        "sent"
    }
    by_path = {
        path.split("/")[2]: (body, headers)
        for (path, _k, body), headers in zip(gateway.received, gateway.headers, strict=True)
    }
    jandi, jandi_headers = by_path["connect-api"]
    assert set(jandi) == {"body"} and "[SEV1] api: API down" in jandi["body"]
    assert jandi_headers["Accept"] == "application/vnd.tosslab.jandi-v2+json"
    dooray, _headers = by_path["services"]
    assert set(dooray) == {"botName", "text"} and dooray["botName"] == "Ops portal"
    assert "/incidents/ack/" in dooray["text"]
