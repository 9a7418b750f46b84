"""The hand-built incident set the report tests (test_reports, test_report_trends) compute by
hand."""

from datetime import UTC, date, datetime, timedelta

from incidents.models import ActionItem, ActionItemStatus, Postmortem, PostmortemStatus, Status
from incidents.reports import Period
from tests.incidents.factories import make_contact, make_incident, make_service

NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MARCH = Period(first=date(2026, 3, 1), last=date(2026, 3, 1))


def minutes(n):
    return timedelta(minutes=n)


def resolved(service, severity, ack, fix, created_at=T0):
    return make_incident(
        service,
        severity=severity,
        created_at=created_at,
        status=Status.RESOLVED,
        acknowledged_at=created_at + ack if ack is not None else None,
        resolved_at=created_at + fix,
    )


def make_hand_built():
    """Four resolved incidents, one never acknowledged, one still open; others outside the period
    or service."""
    service = make_service("API", rto=timedelta(hours=1))
    a = resolved(service, "sev1", minutes(4), minutes(40))
    resolved(service, "sev1", minutes(10), minutes(100))
    resolved(service, "sev2", None, minutes(30))  # never acknowledged: MTTA counts its resolve time
    # still open: out of MTTA and MTTR
    make_incident(
        service,
        severity="sev2",
        created_at=T0,
        status=Status.ACKNOWLEDGED,
        acknowledged_at=T0 + minutes(2),
    )
    resolved(service, "sev1", minutes(6), minutes(20))
    # February
    make_incident(
        service,
        severity="sev1",
        created_at=T0 - timedelta(days=30),
        status=Status.RESOLVED,
        acknowledged_at=T0 - timedelta(days=30),
        resolved_at=T0 - timedelta(days=29),
    )
    make_incident(
        make_service("Other"),
        severity="sev1",
        created_at=T0,
        status=Status.RESOLVED,
        acknowledged_at=T0 + minutes(1),
        resolved_at=T0 + minutes(1),
    )
    postmortem = Postmortem.objects.create(
        incident=a, title="a", severity="sev1", occurred_at=T0, status=PostmortemStatus.PUBLISHED
    )
    owner = make_contact()
    ActionItem.objects.create(
        postmortem=postmortem, description="late", owner=owner, due_date=date(2026, 4, 1)
    )
    ActionItem.objects.create(
        postmortem=postmortem,
        description="done",
        owner=owner,
        due_date=date(2026, 4, 1),
        status=ActionItemStatus.DONE,
        done_at=NOW,
    )
    return service
