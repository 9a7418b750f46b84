"""Folding Reminder into the one outbox keeps every reminder (pending ones are still sent) and
marks the status-page notices already queued as notices."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidents.models import Notification, Purpose

BEFORE = [("incidents", "0016_i15_one_outbox_routes")]
HOOK = "https://hooks.example.com/remind/HOOKmigrated"


@pytest.mark.django_db(transaction=True)
def test_reminders_become_outbox_rows_with_their_keys_and_notices_are_marked():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    service = old.get_model("incidents", "Service").objects.create(name="payments")
    incident = old.get_model("incidents", "Incident").objects.create(
        service_id=service.pk, title="API down", severity="sev1"
    )
    contact = old.get_model("incidents", "Contact").objects.create(
        name="Ana", work_days=[0, 1, 2, 3, 4]
    )
    channel = old.get_model("incidents", "NotificationChannel").objects.create(
        contact_id=contact.pk, kind="webhook", target=HOOK
    )
    Reminder = old.get_model("incidents", "Reminder")
    day = datetime.date(2026, 3, 13)
    for status, attempts in (("pending", 0), ("sent", 1)):
        Reminder.objects.create(
            reason="postmortem_due",
            subject=f"postmortem:{incident.pk}",
            incident_id=incident.pk,
            day=day - datetime.timedelta(days=attempts),
            contact_id=contact.pk,
            channel_id=channel.pk,
            kind="webhook",
            target=HOOK,
            status=status,
            attempts=attempts,
        )
    old.get_model("incidents", "Notification").objects.create(
        incident_id=incident.pk,
        step=0,
        condition="not_resolved",
        kind="email",
        target="a@example.com",
        notice="status:1",
        recipient="subscriber:1",
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Notification.objects.get(notice="status:1").purpose == Purpose.NOTICE
    rows = Notification.objects.filter(purpose=Purpose.REMINDER).order_by("notice")
    assert [(row.notice, row.recipient, row.status, row.target) for row in rows] == [
        (f"reminder:postmortem:{incident.pk}:2026-03-12", f"channel:{channel.pk}", "sent", HOOK),
        (f"reminder:postmortem:{incident.pk}:2026-03-13", f"channel:{channel.pk}", "pending", HOOK),
    ]
    pending = rows[1]
    assert pending.message["subject"] == f"[Postmortem due] #{incident.pk} API down"
    assert pending.message["fields"]["reminder"] == "postmortem_due" and pending.claim is None
