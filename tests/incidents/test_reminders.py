from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from incidents import postmortems, tasks
from incidents.models import ActionItem, Notification, Status, add_business_days
from tests.incidents.factories import make_contact, make_incident, make_service

pytestmark = pytest.mark.django_db

# Friday 10:00 UTC: five business days later is the next Friday, not Wednesday.
RESOLVED = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
def commander(make_user):
    user = make_user("operator")
    make_contact("Mina Seo", email="mina@example.com", user=user)
    return user


@pytest.fixture
def incident(commander):
    return make_incident(
        make_service("Data hub"),
        severity="sev1",
        status=Status.RESOLVED,
        commander=commander,
        created_at=RESOLVED - timedelta(hours=1),
        resolved_at=RESOLVED,
    )


def at(when):
    return time_machine.travel(when, tick=False)


def test_the_deadline_skips_the_weekend():
    assert add_business_days(RESOLVED, 5) == datetime(2026, 3, 13, 10, 0, tzinfo=UTC)
    saturday = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)
    assert add_business_days(saturday, 1) == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)


def test_a_missing_postmortem_is_flagged_after_five_business_days_and_reminded_once_a_day(
    incident, client_as
):
    with at(datetime(2026, 3, 11, 12, 0, tzinfo=UTC)):  # 5 calendar days, 3 business days
        assert tasks.send_reminders() == 0
        assert not postmortems.missing_postmortems(now=datetime.now(UTC)).exists()
    with at(datetime(2026, 3, 13, 9, 59, tzinfo=UTC)):
        assert tasks.send_reminders() == 0
    with at(datetime(2026, 3, 13, 10, 1, tzinfo=UTC)):
        assert list(postmortems.missing_postmortems(now=datetime.now(UTC))) == [incident]
        page = client_as("viewer").get(reverse("dashboard")).content.decode()
        assert f"#{incident.pk} {incident.title}" in page and "Missing postmortems (1;" in page
        assert tasks.send_reminders() == 1
        assert tasks.send_reminders() == 0  # a second run the same day sends nothing
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["mina@example.com"]
        assert "[Postmortem due]" in mail.outbox[0].subject
    with at(datetime(2026, 3, 14, 8, 0, tzinfo=UTC)):
        assert tasks.send_reminders() == 1  # the next day, again
    assert (
        Notification.objects.filter(purpose="reminder", status="sent").count() == 2
        and len(mail.outbox) == 2
    )
    assert (
        incident.events.filter(kind="notification_sent", data__reason="postmortem_due").count() == 2
    )

    postmortem = postmortems.save_postmortem(postmortem=postmortems.draft_for(incident), by=None)
    with at(datetime(2026, 3, 15, 8, 0, tzinfo=UTC)):
        assert tasks.send_reminders() == 1  # a draft is not enough
        manager = client_as("manager").user
        postmortems.publish_postmortem(postmortem=postmortem, by=manager)
    with at(datetime(2026, 3, 16, 8, 0, tzinfo=UTC)):
        assert tasks.send_reminders() == 0
        assert not postmortems.missing_postmortems(now=datetime.now(UTC)).exists()


def test_sev3_incidents_need_no_postmortem(commander):
    make_incident(
        severity="sev3", status=Status.RESOLVED, commander=commander, resolved_at=RESOLVED
    )
    with at(RESOLVED + timedelta(days=30)):
        assert tasks.send_reminders() == 0


def test_overdue_action_items_are_reminded_daily_to_their_owner(incident, make_user):
    owner = make_contact("Hana Lim", email="hana@example.com")
    with at(RESOLVED + timedelta(days=1)):
        postmortem = postmortems.save_postmortem(
            postmortem=postmortems.draft_for(incident),
            by=None,
            items=[
                ActionItem(
                    description="Rename model files", owner=owner, due_date=date(2026, 3, 10)
                )
            ],
        )
        postmortems.publish_postmortem(postmortem=postmortem, by=make_user("manager"))
    with at(datetime(2026, 3, 10, 18, 0, tzinfo=UTC)):
        assert tasks.send_reminders() == 0  # due today is not overdue
    with at(datetime(2026, 3, 11, 8, 0, tzinfo=UTC)):
        assert tasks.send_reminders() == 1
        assert tasks.send_reminders() == 0
    assert (
        mail.outbox[-1].to == ["hana@example.com"]
        and "[Action item overdue]" in mail.outbox[-1].subject
    )
    item = postmortem.action_items.get()
    postmortems.complete_action_item(item=item, by=None)
    with at(datetime(2026, 3, 12, 8, 0, tzinfo=UTC)):
        assert tasks.send_reminders() == 0


def test_a_failing_channel_is_retried_then_recorded_and_does_not_stop_the_others(
    incident, commander
):
    commander.contact.channels.create(kind="webhook", target="http://127.0.0.1:9/hook")
    with at(datetime(2026, 3, 13, 12, 0, tzinfo=UTC)):
        assert tasks.send_reminders() == 2
    assert len(mail.outbox) == 1
    failed = Notification.objects.get(purpose="reminder", kind="webhook")
    assert failed.status == "pending" and failed.attempts == 1 and failed.last_error
    for minutes in (2, 5, 10):  # backoff 1, 2, 4 minutes
        with at(datetime(2026, 3, 13, 12, minutes, tzinfo=UTC)):
            tasks.retry_notifications()
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.attempts == 4
    assert incident.events.filter(kind="notification_failed").count() == 1
    assert len(mail.outbox) == 1
