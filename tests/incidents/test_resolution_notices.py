"""When an incident is resolved, everyone its pages reached hears it, on each channel a page
reached them on (unless that channel says not to), through the outbox; the timeline gets a
summary of the round (issue 26)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import notify, services
from incidents.escalation import escalate_due
from incidents.models import EventKind, Notification, NotificationStatus, TimelineEvent
from portal.models import UserPreference
from tests.incidents.cards import texts, workflows_card
from tests.incidents.factories import (
    make_channel,
    make_contact,
    make_policy,
    make_service,
    make_tier,
)
from tests.incidents.worker import worker

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
def team(db, settings):
    """Tier 1 (Mina, Joon) paged at once, Tier 2 (Dev) after 30 minutes, for a SEV1."""
    settings.BASE_URL = "https://ops.example.com"
    tier1, tier2 = make_tier(1, "Operations"), make_tier(2, "Developers")
    mina = make_contact("Mina", tier=tier1, email="mina@example.com")
    joon = make_contact("Joon", tier=tier1, email="joon@example.com")
    make_contact("Dev", tier=tier2, email="dev@example.com")
    make_policy(
        "sev1", [{"after": timedelta(0), "tier": tier1}, {"after": 30 * MIN, "tier": tier2}]
    )
    return mina, joon


def at(moment):
    return time_machine.travel(moment, tick=False)


def open_incident():
    with at(T0):
        incident, _ = services.open_incident(
            service=make_service("api"), title="API down", severity="sev1"
        )
        with worker():
            escalate_due(now=T0)
    return incident


def resolve(incident, moment, by=None):
    with at(moment), worker():
        services.resolve(incident=incident, by=by)


def notices(incident):
    return Notification.objects.filter(incident=incident, notice__isnull=False)


def test_resolving_tells_each_channel_a_page_reached_once(team, hooks, mailoutbox, make_user):
    mina, joon = team
    make_channel(mina, kind="webhook", target=f"{hooks.url}/ok")
    make_channel(joon, kind="webhook", target=f"{hooks.url}/ok", resolution_notices=False)
    make_channel(joon, kind="slack", target=f"{hooks.url}/fail")  # the page never reached it
    incident = open_incident()
    mailoutbox.clear()
    hooks.received.clear()
    resolve(incident, T0 + 65 * MIN, by=make_user("operator", username="mina"))

    assert sorted(
        n.recipient.split(":")[0] + ":" + n.kind + ":" + n.status for n in notices(incident)
    ) == ["channel:email:sent", "channel:email:sent", "channel:webhook:sent"]
    # Tier 2 was never paged (resolved before its step), so it hears nothing.
    assert sorted(m.to[0] for m in mailoutbox) == ["joon@example.com", "mina@example.com"]
    mail = mailoutbox[0]
    assert mail.subject == "[Resolved] [SEV1] api: API down"
    assert "Resolved by: mina" in mail.body and "Open for: 1 h 5 min" in mail.body
    assert f"Incident: https://ops.example.com/incidents/{incident.pk}/" in mail.body
    [(path, body)] = hooks.received
    assert path == "/ok"
    assert {
        k: body[k] for k in ("event", "incident", "status", "resolved_by", "open_for_seconds")
    } == {
        "event": "resolved",
        "incident": incident.pk,
        "status": "resolved",
        "resolved_by": "mina",
        "open_for_seconds": 65 * 60,
    }
    # Idempotent: the notices are rows of the outbox; another send round, or retry, sends nothing
    # again.
    with at(T0 + 70 * MIN):
        assert notify.retry_notifications(now=T0 + 70 * MIN) == 0
    assert len(mailoutbox) == 2 and len(hooks.received) == 1


def test_a_failing_notice_is_retried_by_the_outbox_and_closing_does_not_cancel_it(
    team, hooks, monkeypatch
):
    mina, joon = team
    joon.channels.update(enabled=False)
    channel = make_channel(mina, kind="webhook", target=f"{hooks.url}/ok")
    mina.channels.exclude(pk=channel.pk).update(enabled=False)
    incident = open_incident()
    channel.target = f"{hooks.url}/fail"  # the receiver breaks after the page
    channel.save()
    resolve(incident, T0 + 10 * MIN)
    [notice] = notices(incident)
    assert (notice.status, notice.attempts) == (NotificationStatus.PENDING, 1)
    with at(T0 + 11 * MIN):
        services.close(incident=incident, by=None)
    channel.target = f"{hooks.url}/ok"
    channel.save()
    Notification.objects.filter(pk=notice.pk).update(target=f"{hooks.url}/ok")
    with at(T0 + 12 * MIN):
        notify.retry_notifications(now=T0 + 12 * MIN)
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NotificationStatus.SENT, 2)


def test_a_notice_is_in_its_readers_language_and_a_teams_card_opens_the_incident(
    team, hooks, mailoutbox, make_user
):
    mina, _joon = team
    mina.user = make_user("operator")
    mina.save()
    UserPreference.objects.create(user=mina.user, language="ko")
    make_channel(mina, kind="teams", target=f"{hooks.url}/ok")
    incident = open_incident()
    hooks.received.clear()
    resolve(incident, T0 + 10 * MIN)
    [mail] = [
        m
        for m in mailoutbox
        if m.to == ["mina@example.com"]
        and "SEV1" in m.subject
        and "[" in m.subject
        and "해결" in m.subject
    ]
    assert mail.subject == "[해결됨] [SEV1] api: API down"
    assert "해결한 사람: 자동" in mail.body  # nobody resolved it by hand (a probe's recovery)
    card = workflows_card(hooks.received[-1][1])
    assert texts(card)[0] == "[해결됨] [SEV1] api: API down"
    assert [(a["title"], a["url"]) for a in card["actions"]] == [
        ("장애 열기", f"https://ops.example.com/incidents/{incident.pk}/")
    ]


def test_each_round_has_its_own_notices_and_only_its_paged_people_hear(team, mailoutbox):
    incident = open_incident()
    resolve(incident, T0 + 5 * MIN)
    with at(T0 + 10 * MIN), worker():
        services.reopen(incident=incident, by=None)
    mailoutbox.clear()
    resolve(incident, T0 + 15 * MIN)
    assert sorted(m.to[0] for m in mailoutbox if m.subject.startswith("[Resolved]")) == [
        "joon@example.com",
        "mina@example.com",
    ]
    assert sorted(notices(incident).values_list("notice", flat=True)) == [
        f"resolved:{incident.pk}:0",
        f"resolved:{incident.pk}:0",
        f"resolved:{incident.pk}:1",
        f"resolved:{incident.pk}:1",
    ]


def test_the_timeline_sums_up_who_was_paged_when_and_who_acknowledged(team, make_user):
    incident = open_incident()
    with at(T0 + 30 * MIN), worker():
        escalate_due(now=T0 + 30 * MIN)
    with at(T0 + 32 * MIN):
        services.acknowledge(incident=incident, by=make_user("operator", username="joon"))
    resolve(incident, T0 + 40 * MIN)
    [summary] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION_SUMMARY)
    assert summary.data == {
        "round": 0,
        "paged": [
            {"contact": c.pk, "name": c.name, "step": step, "at": when.isoformat()}
            for c, step, when in [
                (team[1], 1, T0),
                (team[0], 1, T0),
                (Notification.objects.get(kind="email", step=1).contact, 2, T0 + 30 * MIN),
            ]
        ],
        "sent": 3,
        "failed": 0,
        "acknowledged_at": (T0 + 32 * MIN).isoformat(),
        "acknowledged_by": "joon",
    }
    assert (
        summary.text == "Paged Joon (step 1, 01:00); Mina (step 1, 01:00); Dev (step 2, 01:30); "
        "acknowledged by joon at 01:32."
    )


def test_a_channel_says_whether_it_hears_resolutions_through_the_api(team, api_as):
    mina, _joon = team
    channel = mina.channels.get()
    api = api_as("manager")
    response = api.patch(
        f"/api/v1/channels/{channel.pk}", {"resolution_notices": False}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["resolution_notices"] is False
    channel.refresh_from_db()
    assert channel.resolution_notices is False
    assert (
        api.patch(
            f"/api/v1/channels/{channel.pk}", {"resolution_notices": "maybe"}, format="json"
        ).status_code
        == 400
    )
