"""Delivery failures are shown and acted on (issue 26): the incident page shows each send's
state, a step whose every page failed pages the next step at once (in red on the timeline), and a
request that timed out is tried once more, under the same Idempotency-Key, never again."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import notify, services
from incidents.escalation import escalate_after_failed_step, escalate_due
from incidents.models import EventKind, Notification, NotificationStatus, TimelineEvent
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
def team(db, hooks):
    """Tier 1 (Mina, a webhook only) paged at once, Tier 2 (Dev, e-mail) after 30 minutes, for a
    SEV1."""
    tier1, tier2 = make_tier(1, "Operations"), make_tier(2, "Developers")
    mina = make_contact("Mina", tier=tier1, channel=False)
    make_contact("Dev", tier=tier2, email="dev@example.com")
    make_policy(
        "sev1", [{"after": timedelta(0), "tier": tier1}, {"after": 30 * MIN, "tier": tier2}]
    )
    return mina


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


def retry(moment):
    with at(moment):
        return notify.retry_notifications(now=moment)


def sweep(moment):
    with at(moment), worker():
        escalate_due(now=moment)


def dev_pages(incident):
    return Notification.objects.filter(incident=incident, contact__name="Dev", notice__isnull=True)


def test_a_step_whose_every_page_failed_pages_the_next_step_at_once(team, hooks, mailoutbox):
    make_channel(team, kind="webhook", target=f"{hooks.url}/fail")
    incident = open_incident()
    for minutes in (1, 3):  # the backoff: 1, 2, 4 minutes
        retry(T0 + minutes * MIN)
    assert not dev_pages(incident).exists()
    retry(T0 + 7 * MIN)  # the fourth attempt: failed for good
    [page] = dev_pages(incident)
    assert (page.step, page.status, page.created_at) == (1, NotificationStatus.SENT, T0 + 7 * MIN)
    assert [m.to for m in mailoutbox] == [["dev@example.com"]]
    assert "Step: 2 of 2 · Tier 2: Developers" in mailoutbox[0].body
    assert "Also paged: Mina" in mailoutbox[0].body
    [failed] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION_FAILED)
    assert failed.text == "Step 1: every page failed (Mina (webhook)). Paging step 2 now."
    assert failed.data["reason"] == "deliveries_failed" and failed.data["next_step"] == 1
    assert failed.data["failures"][0]["error"].startswith("SendError: HTTP 500: boom")
    incident.refresh_from_db()
    assert (incident.escalation_step, incident.next_escalation_at) == (1, None)
    # Step 2's own time comes and goes: it is not paged again.
    sweep(T0 + 30 * MIN)
    assert dev_pages(incident).count() == 1 and len(mailoutbox) == 1


def test_a_step_with_one_page_through_waits_for_the_next_step_as_planned(team, hooks, mailoutbox):
    make_channel(team, kind="webhook", target=f"{hooks.url}/fail")
    make_channel(team, kind="email", target="mina@example.com")
    incident = open_incident()
    for minutes in (1, 3, 7):
        retry(T0 + minutes * MIN)
    assert Notification.objects.get(kind="webhook").status == NotificationStatus.FAILED
    assert not dev_pages(incident).exists()
    assert not TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.ESCALATION_FAILED
    ).exists()
    sweep(T0 + 30 * MIN)
    assert dev_pages(incident).count() == 1


def test_the_last_step_failing_is_on_the_timeline_with_nobody_left_to_page(db, hooks):
    tier = make_tier(1, "Operations")
    make_channel(
        make_contact("Mina", tier=tier, channel=False), kind="webhook", target=f"{hooks.url}/fail"
    )
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}])
    incident = open_incident()
    for minutes in (1, 3, 7):
        retry(T0 + minutes * MIN)
    [failed] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION_FAILED)
    assert failed.text == "Step 1: every page failed (Mina (webhook))."
    assert failed.data["next_step"] is None


def test_a_failed_step_pages_the_next_one_once_whoever_records_it(team, hooks):
    make_channel(team, kind="webhook", target=f"{hooks.url}/fail")
    incident = open_incident()
    Notification.objects.update(status=NotificationStatus.FAILED)
    args = {
        "incident_id": incident.pk,
        "escalation_round": 0,
        "step": 0,
        "repeat": 0,
        "failures": [{"who": "Mina (webhook)"}],
        "now": T0 + 7 * MIN,
    }
    with at(T0 + 7 * MIN):
        assert escalate_after_failed_step(**args) is True
        assert escalate_after_failed_step(**args) is False
    assert dev_pages(incident).count() == 1
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION_FAILED).count()
        == 1
    )
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION).count() == 2


def test_an_acknowledged_incident_does_not_page_a_not_acknowledged_next_step(db, hooks):
    tier1, tier2 = make_tier(1, "Operations"), make_tier(2, "Developers")
    make_channel(
        make_contact("Mina", tier=tier1, channel=False), kind="webhook", target=f"{hooks.url}/fail"
    )
    make_contact("Dev", tier=tier2)
    make_policy(
        "sev1",
        [
            {"after": timedelta(0), "tier": tier1, "condition": "not_resolved"},
            {"after": 30 * MIN, "tier": tier2, "condition": "not_acknowledged"},
        ],
    )
    incident = open_incident()
    with at(T0 + MIN / 2):
        services.acknowledge(incident=incident, by=None)
    for minutes in (1, 3, 7):
        retry(T0 + minutes * MIN)
    assert Notification.objects.get(kind="webhook").status == NotificationStatus.FAILED
    assert not dev_pages(incident).exists()
    [failed] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION_FAILED)
    assert failed.data["next_step"] is None


def test_a_timed_out_page_is_tried_once_more_with_the_same_key_then_failed(team, hooks):
    make_channel(team, kind="webhook", target=f"{hooks.url}/hang")
    incident = open_incident()
    page = Notification.objects.get(kind="webhook")
    page.refresh_from_db()
    assert (page.status, page.attempts) == (NotificationStatus.PENDING, 1)
    assert page.last_error.startswith("ReadTimeout:")
    retry(T0 + 1 * MIN)
    page.refresh_from_db()
    assert (page.status, page.attempts) == (NotificationStatus.FAILED, 2)
    assert hooks.keys == [f"notification-{page.pk}"] * 2
    retry(T0 + 10 * MIN)
    assert len(hooks.keys) == 2
    [event] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTIFICATION_FAILED)
    assert "failed after 2 attempts (the first timed out and was tried once more)" in event.text
    # Nobody was reached at step 1: step 2 is paged now.
    assert dev_pages(incident).count() == 1


def test_a_page_that_failed_for_another_reason_is_still_retried_up_to_four_times(team, hooks):
    make_channel(team, kind="webhook", target=f"{hooks.url}/fail")
    open_incident()
    for minutes in (1, 3):
        retry(T0 + minutes * MIN)
    page = Notification.objects.get(kind="webhook")
    assert (page.status, page.attempts) == (NotificationStatus.PENDING, 3)


def test_the_incident_page_shows_each_delivery_sent_retrying_with_its_error_or_failed(
    team, hooks, client_as
):
    make_channel(team, kind="webhook", target=f"{hooks.url}/fail")
    make_channel(team, kind="email", target="mina@example.com")
    incident = open_incident()
    client = client_as("viewer")
    with at(T0 + 30 * MIN):
        html = client.get(incident.get_absolute_url()).content.decode()
    assert html.count('class="delivery delivery-sent"') == 1
    assert html.count('class="delivery delivery-retrying"') == 1
    assert "retrying after 1 failed attempt" in html and "next at 01:01:00" in html
    assert "SendError: HTTP 500: boom" in html
    # An error that quotes a credential is shown masked.
    Notification.objects.filter(kind="webhook").update(
        last_error="SendError: HTTP 500: password=hunter2 rejected"
    )
    html = client.get(incident.get_absolute_url()).content.decode()
    assert "hunter2" not in html and "password=•••" in html
    Notification.objects.filter(kind="webhook").update(status=NotificationStatus.FAILED, attempts=4)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'class="delivery delivery-failed"' in html and "failed after 4 attempts" in html


def test_the_failed_step_is_red_on_the_incident_page(team, hooks, client_as):
    make_channel(team, kind="webhook", target=f"{hooks.url}/fail")
    incident = open_incident()
    for minutes in (1, 3, 7):
        retry(T0 + minutes * MIN)
    html = client_as("viewer").get(incident.get_absolute_url()).content.decode()
    assert 'class="event event-escalation_failed"' in html
    assert "every page failed (Mina (webhook)). Paging step 2 now." in html
