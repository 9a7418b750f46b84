"""One-click acknowledge: each page carries a signed, expiring link for its contact; opening it only
asks, its button acknowledges once as that contact, without a login."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import signing

from incidents import acklinks, notify, services
from incidents.escalation import escalate_due
from incidents.models import EventKind, Notification, Status, TimelineEvent
from tests.incidents.cards import workflows_card
from tests.incidents.factories import (
    make_channel,
    make_contact,
    make_policy,
    make_service,
    make_tier,
)
from tests.incidents.worker import worker

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
LINK = re.compile(r"https://ops\.example\.com(/incidents/ack/[^/\s]+/)")


@pytest.fixture
def paged(db, settings, mailoutbox):
    """A SEV1 paged by e-mail to Mina at T0: (incident, contact, path of the link in her e-mail)."""
    settings.BASE_URL = "https://ops.example.com"
    tier = make_tier(1, "Operations")
    contact = make_contact("Mina", tier=tier)
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}])
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(
            service=make_service("api"), title="API down", severity="sev1"
        )
        with worker():
            escalate_due(now=T0)
    [mail] = mailoutbox
    [path] = LINK.findall(mail.body)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        # tests travel further when they need to
        yield incident, contact, path


def status_events(incident):
    return list(
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.STATUS).order_by("id")
    )


def test_opening_the_link_only_asks_and_its_button_acknowledges_as_the_contact_without_a_login(
    client, paged
):
    incident, contact, path = paged
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        page = client.get(path)  # a mail scanner's visit, or the person's
        assert page.status_code == 200
        assert "Acknowledge as Mina" in page.content.decode()
        incident.refresh_from_db()
        assert incident.status == Status.TRIGGERED
        response = client.post(path)
    assert response.status_code == 200
    assert "Acknowledged as Mina" in response.content.decode()
    assert "/account/login/?next=%2Fincidents%2F" in response.content.decode()
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_at, incident.acknowledged_by) == (
        Status.ACKNOWLEDGED,
        T0 + timedelta(minutes=3),
        None,
    )
    [event] = status_events(incident)
    assert (event.actor_contact, event.actor_user) == (contact, None)
    assert event.data["link"] == Notification.objects.get(incident=incident, contact=contact).pk
    assert "Mina" in event.text


def test_a_contact_linked_to_a_login_user_acknowledges_as_that_user(client, paged, make_user):
    incident, contact, path = paged
    contact.user = make_user("operator", username="mina")
    contact.save()
    assert client.post(path).status_code == 200
    incident.refresh_from_db()
    assert incident.acknowledged_by == contact.user
    [event] = status_events(incident)
    assert (event.actor_contact, event.actor_user) == (contact, contact.user)


def test_a_link_acknowledges_once_even_after_the_incident_is_reopened(client, paged, caplog):
    incident, _contact, path = paged
    assert client.post(path).status_code == 200
    services.resolve(incident=incident, by=None, reason="fixed")
    services.reopen(incident=incident, by=None, reason="back")
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    response = client.post(path)
    assert response.status_code == 409
    assert "This link has been used already." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert [e.data["action"] for e in status_events(incident)] == [
        "acknowledge",
        "resolve",
        "reopen",
    ]
    assert "refused: link_used" in caplog.text


def test_a_second_press_on_an_acknowledged_incident_changes_nothing(client, paged):
    incident, _contact, path = paged
    assert client.post(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 409
    assert len(status_events(incident)) == 1


def test_an_expired_link_shows_a_clear_page_and_changes_nothing(client, paged, settings, caplog):
    incident, _contact, path = paged
    settings.PORTAL_ACK_LINK_MAX_AGE = 3600
    with time_machine.travel(T0 + timedelta(minutes=59), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert client.get(path).status_code == 410
        response = client.post(path)
    assert response.status_code == 410
    assert "This acknowledge link has expired." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED and not status_events(incident)
    assert "acknowledge link refused: expired" in caplog.text


@pytest.mark.parametrize(
    "forge",
    [
        # signature changed
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: signing.TimestampSigner(
            salt="another.purpose"
        ).sign_object(  # same key, other purpose
            signing.TimestampSigner(salt=acklinks.SALT).unsign_object(token)
        ),
        lambda token: signing.TimestampSigner(
            salt=acklinks.SALT, key="not-our-key"
        ).sign_object(  # other key
            signing.TimestampSigner(salt=acklinks.SALT).unsign_object(token)
        ),
        lambda token: "nonsense",
    ],
)
def test_a_tampered_or_forged_link_shows_a_clear_page_and_changes_nothing(client, paged, forge):
    incident, _contact, path = paged
    token = path.split("/")[-2]
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        response = client.post(f"/incidents/ack/{forge(token)}/")
    assert response.status_code == 400
    assert "This acknowledge link is not valid." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED and not status_events(incident)


def test_a_link_rebound_to_another_contact_is_refused(client, paged):
    incident, contact, _path = paged
    other = make_contact("Joon", tier=contact.tier)
    notification = Notification.objects.get(incident=incident, contact=contact)
    forged = acklinks.signer().sign_object({"n": notification.pk, "i": incident.pk, "c": other.pk})
    assert client.post(f"/incidents/ack/{forged}/").status_code == 404
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_the_post_needs_the_forms_csrf_token(paged):
    from django.test import Client

    incident, _contact, path = paged
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(path).status_code == 403
    page = browser.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert browser.post(path, {"csrfmiddlewaretoken": token}).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


def test_every_webhook_kind_carries_its_contacts_own_link(paged, hooks):
    incident, contact, path = paged
    for kind in ("slack", "teams", "webhook"):
        make_channel(contact, kind=kind, target=f"{hooks.url}/ok")
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.resolve(incident=incident, by=None)
        services.reopen(incident=incident, by=None)
        with worker():
            escalate_due(now=T0 + timedelta(minutes=5))

    def kind_of(payload):
        return (
            "teams"
            if payload.get("type") == "message"
            else "webhook"
            if "incident" in payload
            else "slack"
        )

    payloads = {kind_of(p): p for _path, p in hooks.received}
    links = {
        "slack": LINK.findall(payloads["slack"]["text"]),
        "teams": LINK.findall(workflows_card(payloads["teams"])["actions"][1]["url"]),
        "webhook": LINK.findall(payloads["webhook"]["acknowledge_url"])
        + LINK.findall(payloads["webhook"]["text"]),
    }
    notifications = {
        n.kind: n for n in Notification.objects.filter(incident=incident, escalation_round=1)
    }
    for kind, found in links.items():
        assert found and len(set(found)) == 1, kind
        assert (
            acklinks.read_token(found[0].split("/")[-2]).notification_id == notifications[kind].pk
        )
    assert path not in str(links)  # each notification its own link


def test_a_page_to_no_contact_keeps_the_login_acknowledge_page(db, settings):
    settings.BASE_URL = "https://ops.example.com"
    from tests.incidents.factories import make_incident

    incident = make_incident(make_service("db"), severity="sev1")
    notification = Notification(
        incident=incident, contact=None, kind="webhook", step=0, target="http://x"
    )
    message = notify.build_message(notify.gather_facts(incident, T0, notification))
    assert message.acknowledge_url.endswith(f"/incidents/{incident.pk}/acknowledge/")


def test_the_link_page_speaks_the_phones_language(client, paged):
    _incident, _contact, path = paged
    assert (
        "Mina(으)로 확인: 제가 대응합니다"
        in client.get(path, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    )
    response = client.get(path[:-3] + "xx/", HTTP_ACCEPT_LANGUAGE="ko")
    assert (
        response.status_code == 400 and "올바른 확인 링크가 아닙니다." in response.content.decode()
    )
