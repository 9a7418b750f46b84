"""Every page says why (issue 26): title, severity, service, the probe's or alert's reason (bounded,
secrets masked), which step and tier it is, who else has been paged, and the links to acknowledge
and open, in every channel's format and in the reader's language."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import notify, services
from incidents.escalation import escalate_due
from incidents.models import Notification
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
WHY = "expected disk_free_gb >= 5, got 3; token=hunter2-secret"
SHOWN_WHY = "expected disk_free_gb >= 5, got 3; token=•••"


@pytest.fixture
def team(db, settings):
    """Tier 1 (Mina, Joon) paged at once, Tier 2 (Dev) after 30 minutes, for a SEV1."""
    settings.BASE_URL = "https://ops.example.com"
    tier1, tier2 = make_tier(1, "Operations"), make_tier(2, "Developers")
    mina = make_contact("Mina", tier=tier1, email="mina@example.com")
    make_contact("Joon", tier=tier1, email="joon@example.com")
    make_contact("Dev", tier=tier2, email="dev@example.com")
    make_policy(
        "sev1", [{"after": timedelta(0), "tier": tier1}, {"after": 30 * MIN, "tier": tier2}]
    )
    return mina


def sweep(at):
    with time_machine.travel(at, tick=False), worker():
        escalate_due(now=at)


def open_incident(description=WHY):
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(
            service=make_service("api"),
            title="API down",
            severity="sev1",
            description=description,
            source="probe",
            dedup_key="probe:1",
        )
    sweep(T0)
    return incident


def mail_to(mailoutbox, address):
    [mail] = [m for m in mailoutbox if m.to == [address]]
    return mail


def test_an_email_page_says_why_which_step_and_tier_who_else_was_paged_and_both_links(
    team, mailoutbox
):
    incident = open_incident()
    body = mail_to(mailoutbox, "mina@example.com").body
    assert body.splitlines()[:8] == [
        "[SEV1] api: API down",
        f"Why: {SHOWN_WHY}",
        "Severity: SEV1 · critical",
        "Service: api",
        "Status: triggered",
        "Open for: 0 s",
        "Step: 1 of 2 · Tier 1: Operations",
        "Also paged: Joon",
    ]
    assert "hunter2" not in body
    assert f"Incident: https://ops.example.com/incidents/{incident.pk}/" in body
    assert re.search(
        r"^Acknowledge: https://ops\.example\.com/incidents/ack/[^/\s]+/$", body, re.MULTILINE
    )
    assert "Also paged: Mina" in mail_to(mailoutbox, "joon@example.com").body
    # Step 2, half an hour later, names its tier and everyone paged before it.
    mailoutbox.clear()
    sweep(T0 + 30 * MIN)
    body = mail_to(mailoutbox, "dev@example.com").body
    assert "Step: 2 of 2 · Tier 2: Developers" in body
    assert "Also paged: Joon, Mina" in body
    assert "Open for: 30 min" in body


def test_a_long_reason_is_one_bounded_line(team, mailoutbox):
    open_incident(description="connection failed:\n" + "x" * 2000)
    [why] = [
        line
        for line in mail_to(mailoutbox, "mina@example.com").body.splitlines()
        if line.startswith("Why:")
    ]
    assert why.startswith("Why: connection failed: xxx") and why.endswith("…")
    assert len(why) <= len("Why: ") + notify.WHY_CHARS


def test_a_page_without_a_reason_has_no_why_line(team, mailoutbox):
    open_incident(description="")
    assert "Why:" not in mail_to(mailoutbox, "mina@example.com").body


def test_slack_teams_webhook_and_apprise_pages_carry_the_same_facts(team, hooks):
    host = hooks.url.removeprefix("http://")
    for kind, target in (
        ("slack", f"{hooks.url}/ok"),
        ("teams", f"{hooks.url}/ok"),
        ("webhook", f"{hooks.url}/ok"),
        ("apprise", f"json://{host}/ok"),
    ):
        make_channel(team, kind=kind, target=target)
    incident = open_incident()
    assert set(Notification.objects.filter(contact=team).values_list("status", flat=True)) == {
        "sent"
    }
    payloads = [body for _path, body in hooks.received]
    incident_url = f"https://ops.example.com/incidents/{incident.pk}/"

    slack = next(p for p in payloads if set(p) == {"text"})["text"]
    for line in (
        f"Why: {SHOWN_WHY}",
        "Step: 1 of 2 · Tier 1: Operations",
        "Also paged: Joon",
        f"Incident: {incident_url}",
        "Acknowledge: https://ops.example.com/incidents/ack/",
    ):
        assert notify.slack_text(line) in slack, line

    card = workflows_card(next(p for p in payloads if p.get("type") == "message"))
    assert texts(card) == [
        "[SEV1] api: API down",
        f"Why: {notify.teams_text(SHOWN_WHY)}",
        "Severity: SEV1 · critical",
        "Service: api",
        "Status: triggered",
        "Open for: 0 s",
        "Step: 1 of 2 · Tier 1: Operations",
        "Also paged: Joon",
    ]
    [open_action, ack_action] = card["actions"]
    assert (open_action["title"], open_action["url"]) == ("Open incident", incident_url)
    assert ack_action["title"] == "Acknowledge"
    assert ack_action["url"].startswith("https://ops.example.com/incidents/ack/")

    generic = next(p for p in payloads if p.get("event") == "page")
    assert {
        key: generic[key]
        for key in (
            "title",
            "severity",
            "service",
            "why",
            "step",
            "steps",
            "repeat",
            "paged_as",
            "also_paged",
            "url",
        )
    } == {
        "title": "API down",
        "severity": "sev1",
        "service": "api",
        "why": SHOWN_WHY,
        "step": 1,
        "steps": 2,
        "repeat": 0,
        "paged_as": "Tier 1: Operations",
        "also_paged": ["Joon"],
        "url": incident_url,
    }
    assert generic["acknowledge_url"].startswith("https://ops.example.com/incidents/ack/")

    apprise = next(p for p in payloads if {"title", "message", "type"} <= set(p))
    assert apprise["title"] == "[SEV1] api: API down"
    for line in (
        f"Why: {SHOWN_WHY}",
        "Step: 1 of 2 · Tier 1: Operations",
        "Also paged: Joon",
        incident_url,
        "https://ops.example.com/incidents/ack/",
    ):
        assert line in apprise["message"], line
    assert "hunter2" not in str(payloads)


def test_a_page_is_written_in_its_readers_language(team, mailoutbox, make_user):
    team.user = make_user("operator")
    team.save()
    UserPreference.objects.create(user=team.user, language="ko")
    open_incident()
    body = mail_to(mailoutbox, "mina@example.com").body
    assert f"사유: {SHOWN_WHY}" in body
    assert "단계: 2단계 중 1단계 · Tier 1: Operations" in body
    assert "함께 호출됨: Joon" in body
    # Joon has no login, so no language of his own: the portal's default.
    assert f"Why: {SHOWN_WHY}" in mail_to(mailoutbox, "joon@example.com").body


def test_a_re_triggered_incident_pages_with_the_reason_it_came_back(team, mailoutbox):
    incident = open_incident()
    with time_machine.travel(T0 + 5 * MIN, tick=False):
        services.resolve(incident=incident, by=None)
    mailoutbox.clear()
    with time_machine.travel(T0 + 50 * MIN, tick=False), worker():
        services.retrigger(
            incident=incident,
            reason="3 consecutive failures again: connection failed",
            page_window=timedelta(minutes=30),
            now=T0 + 50 * MIN,
        )
    sweep(T0 + 50 * MIN)
    pages = [m for m in mailoutbox if m.subject.startswith("[SEV1]")]
    assert pages and all(
        "Why: 3 consecutive failures again: connection failed" in m.body for m in pages
    )
