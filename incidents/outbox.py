"""Queueing a message that is not a page into the one outbox (Notification rows).

A message is written when it is queued, in its reader's language, and keyed: (key, recipient) is
unique, so queueing the same message twice (a second sweep, a second cluster, a retried task) adds
nothing. incidents.notify.send_pending is the one loop that sends every row: claimed with a lease,
retried with backoff, recorded.
"""

import logging
from datetime import datetime

from django.db import transaction

from incidents.models import Notification, StepCondition

logger = logging.getLogger(__name__)


def rendered(
    *,
    subject: str,
    text: str,
    url: str,
    language: str,
    severity: str = "",
    link_label: str = "",
    **fields,
) -> dict:
    """A message as a row stores it (incidents.notify.stored_message reads it back)."""
    return {
        "subject": subject,
        "text": text,
        "url": url,
        "severity": severity,
        "language": language,
        "fields": {
            "notice": True,
            "subject": subject,
            "text": text,
            "url": url,
            "language": language,
            "link_label": link_label,
            **fields,
        },
    }


def outgoing(
    *,
    purpose: str,
    key: str,
    recipient: str,
    kind: str,
    target: str,
    message: dict,
    now: datetime,
    incident_id: int | None = None,
    contact=None,
    channel=None,
) -> Notification:
    """An unsaved outbox row (queue() saves it)."""
    return Notification(
        purpose=purpose,
        notice=key,
        recipient=recipient,
        kind=kind,
        target=target,
        message=message,
        created_at=now,
        incident_id=incident_id,
        contact=contact,
        channel=channel,
        step=0,
        condition=StepCondition.NOT_RESOLVED,
    )


def queue(rows: list[Notification]) -> int:
    """Save the rows not queued before; the number of new ones."""
    if not rows:
        return 0
    keys = {row.notice for row in rows}
    known = set(Notification.objects.filter(notice__in=keys).values_list("notice", "recipient"))
    new = [row for row in rows if (row.notice, row.recipient) not in known]
    # ignore_conflicts: another worker may queue the same message between the read and the insert.
    Notification.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def deliver_soon() -> None:
    """After the queueing transaction commits, ask a worker to send now rather than at the minute's
    retry sweep (which sends them anyway if the broker is down)."""

    def enqueue():
        from django_q.tasks import async_task

        try:
            async_task("incidents.tasks.send_notifications", None)
        except Exception:  # the rows are committed: the retry sweep sends them
            logger.exception("could not enqueue the delivery of queued messages")

    transaction.on_commit(enqueue)
