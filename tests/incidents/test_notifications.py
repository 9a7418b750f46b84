import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import translation

from incidents import acklinks, notify, services, tasks
from incidents.models import EventKind, Notification, NotificationStatus, TimelineEvent
from tests.incidents.cards import SAMPLE, texts, workflows_card
from tests.incidents.factories import (
    make_channel,
    make_contact,
    make_incident,
    make_policy,
    make_service,
    make_tier,
)
from tests.incidents.paging import T0, open_and_sweep, retry

MIN = timedelta(minutes=1)


def by_kind(incident):
    return {n.kind: n for n in Notification.objects.filter(incident=incident)}


def test_the_email_says_severity_service_title_status_age_and_links(paging, mailoutbox, settings):
    settings.BASE_URL = "https://ops.example.com"
    incident = open_and_sweep()
    with time_machine.travel(T0 + 65 * MIN, tick=False):
        notify.send_email(
            "x@example.com", notify.build_message(notify.gather_facts(incident, T0 + 65 * MIN))
        )
    first, later = mailoutbox
    assert first.subject == "[SEV1] api: API down"
    assert first.to == [paging.email]
    assert "Severity: SEV1 · critical" in first.body
    assert "Service: api" in first.body
    assert "Status: triggered" in first.body
    assert "Open for: 0 s" in first.body
    assert "Open for: 1 h 5 min" in later.body
    assert f"https://ops.example.com/incidents/{incident.pk}/" in first.body
    # The page carries the contact's own one-click link; a message built for nobody, the login page.
    [token] = re.findall(
        r"Acknowledge: https://ops\.example\.com/incidents/ack/([^/\s]+)/", first.body
    )
    with time_machine.travel(T0, tick=False):
        assert acklinks.read_token(token).contact_id == paging.pk
    assert f"https://ops.example.com/incidents/{incident.pk}/acknowledge/" in later.body


def test_slack_teams_and_generic_webhooks_get_their_own_payloads(paging, hooks, settings):
    for kind in ("slack", "teams", "webhook"):
        make_channel(paging, kind=kind, target=f"{hooks.url}/ok")
    incident = open_and_sweep()
    assert {n.kind: n.status for n in Notification.objects.all()} == {
        "email": "sent",
        "slack": "sent",
        "teams": "sent",
        "webhook": "sent",
    }
    payloads = [body for _, body in hooks.received]
    slack = next(p for p in payloads if set(p) == {"text"})
    assert "[SEV1] api: API down" in slack["text"]
    teams = workflows_card(next(p for p in payloads if p.get("type") == "message"))
    assert texts(teams) == [
        "[SEV1] api: API down",
        "Severity: SEV1 · critical",
        "Service: api",
        "Status: triggered",
        "Open for: 0 s",
        "Step: 1 of 1 · Tier 1: Operations",
        "Also paged: nobody else yet",
    ]
    assert [a["title"] for a in teams["actions"]] == ["Open incident", "Acknowledge"]
    assert teams["actions"][0]["url"].endswith(f"/incidents/{incident.pk}/")
    generic = next(p for p in payloads if "incident" in p)
    assert generic["incident"] == incident.pk
    assert (
        generic["severity"] == "sev1"
        and generic["status"] == "triggered"
        and generic["service"] == "api"
    )
    assert generic["acknowledge_url"].startswith(f"{settings.BASE_URL}/incidents/ack/")
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTIFICATION_SENT).count()
        == 4
    )


def test_the_card_check_takes_the_documented_sample_and_refuses_a_message_card():
    assert workflows_card(SAMPLE)["type"] == "AdaptiveCard"
    with pytest.raises(AssertionError):
        workflows_card(
            {"@type": "MessageCard", "@context": "https://schema.org/extensions", "text": "x"}
        )
    with pytest.raises(AssertionError):
        workflows_card(
            {**SAMPLE, "attachments": [{**SAMPLE["attachments"][0], "contentType": "text/plain"}]}
        )


def test_a_teams_card_speaks_korean_to_a_korean_reader(paging, hooks):
    incident = open_and_sweep()
    with translation.override("ko"):
        notify.send_teams(
            f"{hooks.url}/ok", notify.build_message(notify.gather_facts(incident, T0 + 65 * MIN))
        )
    card = workflows_card(hooks.received[-1][1])
    assert texts(card)[1:] == [
        "심각도: SEV1 · 치명적",
        "서비스: api",
        "상태: 발생",
        "경과 시간: 1시간 5분",
    ]
    assert [a["title"] for a in card["actions"]] == ["장애 열기", "확인"]


def test_a_webhook_answering_500_is_retried_with_backoff_then_failed_while_email_is_sent(
    paging, hooks, mailoutbox
):
    make_channel(paging, kind="webhook", target=f"{hooks.url}/fail")
    incident = open_and_sweep()
    sent = by_kind(incident)
    assert sent["email"].status == NotificationStatus.SENT
    assert len(mailoutbox) == 1
    hook = sent["webhook"]
    assert (hook.status, hook.attempts, hook.next_attempt_at) == ("pending", 1, T0 + MIN)
    assert "HTTP 500" in hook.last_error

    assert retry(T0 + 30 * 1000 * timedelta(microseconds=1)) == 0  # not yet due
    expected = [(T0 + MIN, 2, T0 + 3 * MIN), (T0 + 3 * MIN, 3, T0 + 7 * MIN)]
    for at, attempts, next_at in expected:
        assert retry(at) == 1
        hook.refresh_from_db()
        assert (hook.status, hook.attempts, hook.next_attempt_at) == ("pending", attempts, next_at)
    assert retry(T0 + 7 * MIN) == 1
    hook.refresh_from_db()
    assert (hook.status, hook.attempts, hook.next_attempt_at) == ("failed", 4, None)
    assert "HTTP 500: boom" in hook.last_error
    [failed] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTIFICATION_FAILED)
    assert "after 4 attempts" in failed.text
    assert retry(T0 + 60 * MIN) == 0
    assert len([p for p, _ in hooks.received if p == "/fail"]) == 4
    assert len(mailoutbox) == 1


def test_a_webhook_that_times_out_is_retried_and_the_sweep_does_not_raise(
    paging, hooks, mailoutbox
):
    make_channel(paging, kind="slack", target=f"{hooks.url}/hang")
    make_channel(paging, kind="teams", target=f"{hooks.url}/ok")
    incident = open_and_sweep()
    sent = by_kind(incident)
    assert sent["slack"].status == NotificationStatus.PENDING
    assert "Timeout" in sent["slack"].last_error
    assert sent["teams"].status == NotificationStatus.SENT
    assert sent["email"].status == NotificationStatus.SENT


def test_a_refused_connection_or_a_crashing_sender_never_breaks_the_sweep(
    paging, monkeypatch, mailoutbox
):
    make_channel(paging, kind="webhook", target="http://127.0.0.1:9/nothing-listens")

    def broken(target, message):
        raise RuntimeError("smtp exploded")

    monkeypatch.setitem(notify.SENDERS, "email", broken)
    incident = open_and_sweep()
    sent = by_kind(incident)
    assert sent["email"].last_error == "RuntimeError: smtp exploded"
    assert "ConnectionError" in sent["webhook"].last_error
    assert {n.status for n in sent.values()} == {"pending"}


def test_a_pending_not_acknowledged_retry_is_cancelled_by_an_acknowledgement(db, hooks):
    tier = make_tier(1)
    contact = make_contact("ops", tier=tier, channel=False)
    make_channel(contact, kind="webhook", target=f"{hooks.url}/fail")
    make_policy("sev1", [{"after": timedelta(0), "tier": tier, "condition": "not_acknowledged"}])
    incident = open_and_sweep()
    with time_machine.travel(T0 + MIN, tick=False):
        services.acknowledge(incident=incident, by=None)
    assert retry(T0 + 10 * MIN) == 0
    assert Notification.objects.get().status == NotificationStatus.CANCELLED


def test_a_retry_left_pending_by_a_race_with_resolve_is_cancelled_not_sent(paging, hooks):
    make_channel(paging, kind="webhook", target=f"{hooks.url}/fail")
    incident = open_and_sweep()
    services.resolve(incident=incident, by=None)
    # As if the sender recorded its failure just after the resolve cancelled the row.
    Notification.objects.filter(kind="webhook").update(status=NotificationStatus.PENDING)
    assert retry(T0 + 10 * MIN) == 1  # only the resolution notice to the e-mail the page reached
    assert Notification.objects.get(kind="webhook").status == NotificationStatus.CANCELLED
    assert (
        Notification.objects.get(kind="email", notice__isnull=False).status
        == NotificationStatus.SENT
    )


def test_two_workers_never_claim_the_same_notification(paging, hooks):
    make_channel(paging, kind="webhook", target=f"{hooks.url}/fail")
    open_and_sweep()
    first = notify._claim(T0 + MIN, None, 100)
    second = notify._claim(T0 + MIN, None, 100)
    assert [n.kind for n in first] == ["webhook"]
    assert second == []
    # A claim whose worker died is offered again once the lease has run out.
    assert [n.kind for n in notify._claim(T0 + MIN + notify.SEND_LEASE, None, 100)] == ["webhook"]


def test_the_retry_task_sends_what_is_due(paging, hooks, monkeypatch):
    make_channel(paging, kind="webhook", target=f"{hooks.url}/fail")
    incident = open_and_sweep()
    Notification.objects.filter(kind="webhook").update(target=f"{hooks.url}/ok")
    with time_machine.travel(T0 + 2 * MIN, tick=False):
        assert tasks.retry_notifications() == 1
    assert by_kind(incident)["webhook"].status == NotificationStatus.SENT


def test_backoff_doubles_from_one_minute():
    assert [notify.backoff(n) for n in (1, 2, 3)] == [MIN, 2 * MIN, 4 * MIN]


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(seconds=59), "59 s"),
        (timedelta(minutes=90), "1 h 30 min"),
        (timedelta(days=2, hours=3), "2 d 3 h"),
    ],
)
def test_ages_read_like_a_person_would_say_them(db, age, text):
    incident = make_incident(make_service("api"), created_at=T0)
    assert f"Open for: {text}" in notify.build_message(notify.gather_facts(incident, T0 + age)).text


def test_every_attempt_of_one_page_carries_the_same_idempotency_key(paging, hooks):
    """A receiver can drop a page it has seen, e.g. one answered just before its sender was
    killed."""
    make_channel(paging, kind="webhook", target=f"{hooks.url}/fail")
    make_channel(paging, kind="slack", target=f"{hooks.url}/fail")
    open_and_sweep()
    retry(T0 + MIN)
    [slack, webhook] = Notification.objects.filter(kind__in=["webhook", "slack"]).order_by("kind")
    keys = {f"notification-{webhook.pk}", f"notification-{slack.pk}"}
    assert len(hooks.keys) == 4 and set(hooks.keys) == keys
    # The generic webhook also carries it in the body, for receivers that cannot read headers.
    webhook_bodies = [
        (body, key)
        for (_path, body), key in zip(hooks.received, hooks.keys, strict=True)
        if "idempotency_key" in body
    ]
    assert [key for _body, key in webhook_bodies] == [f"notification-{webhook.pk}"] * 2
    assert all(body["idempotency_key"] == key for body, key in webhook_bodies)
