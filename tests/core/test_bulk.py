"""core.bulk: the plain ORM path and the fast path write the same rows."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from core import bulk
from incidents.escalation import EVENT_COLUMNS, NOTIFICATION_COLUMNS
from incidents.models import Incident, Notification, TimelineEvent
from tests.incidents.factories import make_channel, make_contact, make_incident

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 1, 2, 3, 456789, tzinfo=UTC)


def batch():
    """A sweep's batch: two incidents, two channels (one with an encrypted webhook URL), the
    same event data object shared by both events, and one notification written twice."""
    incidents = [make_incident(), make_incident()]
    contact = make_contact("Ana")
    email, hook = (
        contact.channels.get(),
        make_channel(contact, "slack", "https://hooks.example.com/T0/B0/s3cret"),
    )
    notifications = [
        (
            incident.pk,
            0,
            1,
            0,
            "unacknowledged",
            contact.pk,
            channel.pk,
            channel.kind,
            channel.target,
            "pending",
            0,
            "",
            NOW,
        )
        for incident in incidents
        for channel in (email, hook)
    ]
    notifications.append(notifications[0])  # a second sweep's row for the same firing: ignored
    data = {"round": 0, "step": 1, "repeat": 0, "contacts": [contact.pk], "on_call": {"3": None}}
    events = [
        (incident.pk, NOW, "escalation", "Step 2: paging Ana.", data) for incident in incidents
    ]
    cursors = [(incidents[0].pk, NOW + timedelta(minutes=30), 1), (incidents[1].pk, None, 1)]
    return notifications, events, cursors


def written():
    """Every row the batch wrote, without primary keys; the encrypted target as its clear text."""
    return (
        sorted(
            Notification.objects.values_list(
                *[
                    f"{name}_id" if name in ("incident", "contact", "channel") else name
                    for name in NOTIFICATION_COLUMNS
                ]
            )
        ),
        list(
            TimelineEvent.objects.order_by("incident_id").values_list(
                "incident_id", "at", "kind", "message", "data"
            )
        ),
        list(
            Incident.objects.order_by("pk").values_list(
                "pk", "next_escalation_at", "escalation_step"
            )
        ),
    )


def write(notifications, events, cursors, *, fast):
    bulk.insert(Notification, NOTIFICATION_COLUMNS, notifications, ignore_conflicts=True, fast=fast)
    bulk.insert(TimelineEvent, EVENT_COLUMNS, events, fast=fast)
    bulk.update(Incident, ("id", "next_escalation_at", "escalation_step"), cursors, fast=fast)


def test_the_plain_and_the_fast_path_write_identical_rows():
    notifications, events, cursors = batch()
    write(notifications, events, cursors, fast=False)
    plain = written()
    Notification.objects.all().delete()
    TimelineEvent.objects.all().delete()
    Incident.objects.update(next_escalation_at=None, escalation_step=0)
    write(notifications, events, cursors, fast=True)
    assert written() == plain
    assert len(plain[0]) == 4 and len(plain[1]) == 2
    assert plain[2][0][1:] == (NOW + timedelta(minutes=30), 1)


def test_the_fast_path_stores_the_webhook_url_encrypted():
    notifications, events, cursors = batch()
    write(notifications, events, cursors, fast=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT target FROM incidents_notification WHERE kind = 'slack'")
        stored = [row[0] for row in cursor.fetchall()]
    assert stored and all("s3cret" not in value for value in stored)
    assert set(Notification.objects.filter(kind="slack").values_list("target", flat=True)) == {
        "https://hooks.example.com/T0/B0/s3cret"
    }


def test_ids_counts_and_text_are_prepared_exactly_as_django_prepares_them():
    # Every column of the models the sweep writes, with ints and strs of the sizes they hold and
    # values of other types beside them: the direct step must give what get_db_prep_save gives,
    # to the type (psycopg's Int2/Int4/Int8 on PostgreSQL), and leave the rest to it.
    from incidents.models import NotificationStatus

    samples = [None, 0, 7, 2**31 + 5, "", "pending", NotificationStatus.SENT, True, "8", NOW]
    checked = 0
    for model in (Notification, TimelineEvent, Incident):
        for field in model._meta.concrete_fields:
            if bulk._direct(field) == (None, None):
                continue  # prepared by get_db_prep_save itself (the encrypted text: never equal)
            for value in samples:
                try:
                    expected = field.get_db_prep_save(value, connection)
                except (TypeError, ValueError):
                    continue  # a value this column cannot hold
                [[ours]] = bulk._columns([field], [(value,)])
                assert (type(ours), ours) == (type(expected), expected), (field, value)
                checked += 1
    assert checked > 100
