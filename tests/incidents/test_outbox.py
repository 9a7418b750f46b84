"""One outbox (issue 15, acceptance 2): reminders and overdue checklists are Notification rows,
retried after a failure, and never sent twice after a worker dies holding one."""

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse

from checklists import services as checklist_services
from checklists.models import RunStatus
from incidents import notify, services, tasks
from incidents.models import Notification, Purpose, Status
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_channel, make_contact, make_incident, make_service

pytestmark = pytest.mark.django_db

RESOLVED = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)  # a Friday; the postmortem is due a week later
DUE = datetime(2026, 3, 13, 12, 0, tzinfo=UTC)


def at(when):
    return time_machine.travel(when, tick=False)


@pytest.fixture
def incident(make_user):
    commander = make_user("operator")
    contact = make_contact("Mina Seo", email="mina@example.com", user=commander, channel=False)
    make_incident(
        make_service("Data hub"),
        severity="sev1",
        status=Status.RESOLVED,
        commander=commander,
        created_at=RESOLVED - timedelta(hours=1),
        resolved_at=RESOLVED,
    )
    return contact


@pytest.fixture
def overdue_run(make_user):
    contact = make_contact("Hana Lim", email="hana@example.com", channel=False)
    template = make_template(assignee_contact=contact)
    run = make_run(template)
    run.status, run.due_at = RunStatus.OVERDUE, DUE - timedelta(hours=1)
    run.save()
    return run


def test_reminders_and_overdue_checklists_are_rows_of_the_one_outbox(incident, overdue_run, hooks):
    make_channel(incident, kind="webhook", target=f"{hooks.url}/ok")
    with at(DUE):
        assert tasks.send_reminders() == 1
        assert checklist_services.remind_overdue(now=DUE) == 1
    reminder = Notification.objects.get(purpose=Purpose.REMINDER)
    overdue = Notification.objects.get(purpose=Purpose.CHECKLIST_OVERDUE)
    assert reminder.status == overdue.status == "sent"
    assert reminder.notice.startswith("reminder:postmortem:") and reminder.contact == incident
    assert (
        overdue.kind == "email"
        and overdue.target == "hana@example.com"
        and overdue.incident is None
    )
    assert overdue.subject == f"Overdue checklist: {overdue_run.name}"
    assert [m.to for m in mail.outbox] == [["hana@example.com"]]
    assert hooks.received[0][1]["reminder"] == "postmortem_due"
    # A second run queues nothing and sends nothing.
    with at(DUE + timedelta(minutes=5)):
        assert tasks.send_reminders() == 0
        assert checklist_services.remind_overdue(now=DUE + timedelta(minutes=5)) == 0
        tasks.retry_notifications()
    assert Notification.objects.count() == 2 and len(hooks.received) == 1 and len(mail.outbox) == 1


def test_a_reminder_is_retried_after_a_500_and_sent_once(incident, hooks):
    make_channel(incident, kind="webhook", target=f"{hooks.url}/flaky")
    with at(DUE):
        assert tasks.send_reminders() == 1
    row = Notification.objects.get(purpose=Purpose.REMINDER)
    assert row.status == "pending" and row.attempts == 1 and "HTTP 500" in row.last_error
    assert row.next_attempt_at == DUE + notify.backoff(1)
    with at(DUE + timedelta(seconds=30)):
        assert tasks.retry_notifications() == 0  # not before its backoff
    with at(DUE + timedelta(minutes=1)):
        assert tasks.retry_notifications() == 1
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2 and row.last_error == ""
    assert [path for path, _body in hooks.received] == ["/flaky", "/flaky"]
    assert len(set(hooks.keys)) == 1  # both attempts carry the same idempotency key
    with at(DUE + timedelta(minutes=10)):
        tasks.retry_notifications()
        assert tasks.send_reminders() == 0
    assert len(hooks.received) == 2


def test_an_overdue_checklist_mail_is_retried_after_the_mail_server_fails(overdue_run, monkeypatch):
    real_send = EmailBackend.send_messages
    calls = []

    def mail_server(backend, messages):
        calls.append(messages)
        if len(calls) == 1:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(backend, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", mail_server)
    with at(DUE):
        assert checklist_services.remind_overdue(now=DUE) == 1
    row = Notification.objects.get(purpose=Purpose.CHECKLIST_OVERDUE)
    assert (
        row.status == "pending" and "SMTPServerDisconnected" in row.last_error and not mail.outbox
    )
    with at(DUE + timedelta(minutes=1)):
        assert tasks.retry_notifications() == 1
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["hana@example.com"]


def test_a_row_claimed_by_a_worker_killed_before_it_sent_is_sent_once_after_the_lease(
    incident, hooks
):
    make_channel(incident, kind="webhook", target=f"{hooks.url}/ok")
    with at(DUE):
        services.queue_message(
            purpose=Purpose.REMINDER,
            key="reminder:test",
            recipient="hooks",
            kind="webhook",
            target=f"{hooks.url}/ok",
            subject="Hello",
            text="Hello",
            url="http://portal/",
            language="en",
        )
        # Worker A claims the row, then is killed before it sends or records anything.
        (claimed,) = notify._claim(DUE, None, notify.SEND_BATCH)
    with at(DUE + notify.SEND_LEASE - timedelta(seconds=1)):
        assert tasks.retry_notifications() == 0  # the lease holds: nobody else takes it meanwhile
    assert hooks.received == []
    with at(DUE + notify.SEND_LEASE + timedelta(seconds=1)):
        assert tasks.retry_notifications() == 1  # worker B, after the lease ran out
    claimed.refresh_from_db()
    assert claimed.status == "sent" and claimed.attempts == 1 and claimed.claim is None
    with at(DUE + timedelta(hours=1)):
        assert tasks.retry_notifications() == 0
    assert len(hooks.received) == 1


def test_a_row_whose_worker_died_after_sending_is_sent_again_with_the_same_idempotency_key(
    incident, hooks
):
    with at(DUE):
        services.queue_message(
            purpose=Purpose.REMINDER,
            key="reminder:test",
            recipient="hooks",
            kind="webhook",
            target=f"{hooks.url}/ok",
            subject="Hello",
            text="Hello",
            url="http://portal/",
            language="en",
        )
        (claimed,) = notify._claim(DUE, None, notify.SEND_BATCH)
        # Worker A delivers, then is killed before it records the send.
        assert notify.deliver(claimed, notify.stored_message(claimed.message)) == ""
    with at(DUE + notify.SEND_LEASE + timedelta(seconds=1)):
        assert tasks.retry_notifications() == 1
    with at(DUE + timedelta(hours=1)):
        assert tasks.retry_notifications() == 0
    # The receiver sees the same key twice and keeps one message (the page's Idempotency-Key
    # contract).
    assert len(hooks.received) == 2 and len(set(hooks.keys)) == 1
    assert hooks.received[0][1]["idempotency_key"] == hooks.received[1][1]["idempotency_key"]


def test_queueing_a_message_twice_adds_one_row():
    kwargs = {
        "purpose": Purpose.REPORT,
        "key": "scorecard:2026-03",
        "recipient": "user:1",
        "kind": "email",
        "target": "boss@example.com",
        "subject": "s",
        "text": "t",
        "url": "http://portal/",
        "language": "ko",
    }
    assert services.queue_message(**kwargs) is True
    assert services.queue_message(**kwargs) is False
    assert Notification.objects.count() == 1
    with pytest.raises(ValueError):
        services.queue_message(**{**kwargs, "purpose": Purpose.PAGE})


def test_resolving_an_incident_cancels_its_pages_but_not_its_other_messages(make_user):
    incident, _created = services.open_incident(
        service=make_service(), title="Down", severity="sev2"
    )
    contact = make_contact()
    page = Notification.objects.create(
        incident=incident,
        step=0,
        condition="not_resolved",
        contact=contact,
        kind="email",
        target=contact.email,
    )
    services.queue_message(
        purpose=Purpose.REMINDER,
        key="reminder:x",
        recipient="c",
        kind="email",
        target="a@example.com",
        subject="s",
        text="t",
        url="http://portal/",
        language="en",
        incident=incident,
    )
    services.resolve(incident=incident, by=make_user("operator"))
    page.refresh_from_db()
    assert page.status == "cancelled"
    assert Notification.objects.get(purpose=Purpose.REMINDER).status == "pending"


def test_the_outbox_api_shows_every_purpose_with_its_status_and_last_error(
    api_as, overdue_run, monkeypatch
):
    monkeypatch.setattr(
        EmailBackend,
        "send_messages",
        lambda backend, messages: (_ for _ in ()).throw(smtplib.SMTPRecipientsRefused({})),
    )
    with at(DUE):
        checklist_services.remind_overdue(now=DUE)
    api = api_as("viewer")
    rows = api.get(reverse("notification-list"), {"purpose": "checklist_overdue"}).json()["results"]
    assert len(rows) == 1
    row = rows[0]
    assert (
        row["purpose"] == "checklist_overdue"
        and row["key"] == f"checklist_overdue:{overdue_run.pk}"
    )
    assert row["status"] == "pending" and "SMTPRecipientsRefused" in row["last_error"]
    assert row["subject"] == f"Overdue checklist: {overdue_run.name}" and row["incident"] is None
    assert api.get(reverse("notification-list"), {"purpose": "page"}).json()["results"] == []
    assert api.get(reverse("notification-list"), {"purpose": "nonsense"}).status_code == 400


def test_the_admin_lists_the_outbox_by_purpose(client_as, overdue_run):
    with at(DUE):
        checklist_services.remind_overdue(now=DUE)
    client = client_as("admin")
    page = client.get(
        reverse("admin:incidents_notification_changelist"), {"purpose": "checklist_overdue"}
    )
    assert page.status_code == 200
    assert f"Overdue checklist: {overdue_run.name}" in page.content.decode()
