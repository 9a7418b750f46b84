from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError

from core.errors import DomainError
from incidents import services
from incidents.models import (
    EventKind,
    Incident,
    Notification,
    NotificationStatus,
    Status,
    TimelineEvent,
)
from tests.incidents.factories import (
    make_contact,
    make_incident,
    make_policy,
    make_service,
    make_tier,
)

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)


@pytest.fixture
def service(db):
    return make_service("api")


@pytest.fixture
def operator(make_user):
    return make_user("operator")


def open_(service, **extra):
    fields = {"title": "API down", "severity": "sev1", **extra}
    return services.open_incident(service=service, **fields)


def events(incident, kind=None):
    rows = TimelineEvent.objects.filter(incident=incident).order_by("id")
    return list(rows.filter(kind=kind) if kind else rows)


def test_opening_an_incident_records_it_and_snapshots_the_policy(service, operator):
    tier = make_tier(1)
    make_policy(
        "sev1",
        [
            {"after": timedelta(0), "tier": tier},
            {
                "after": timedelta(minutes=30),
                "tier": tier,
                "condition": "not_acknowledged",
                "business_hours_only": True,
            },
        ],
        repeat_every=timedelta(minutes=10),
        repeat_limit=3,
    )
    with time_machine.travel(T0, tick=False):
        incident, created = open_(
            service, by=operator, source="probe", category="API down", scope="full"
        )
    assert created
    assert incident.status == Status.TRIGGERED
    assert incident.created_at == incident.detected_at == incident.escalation_started_at == T0
    assert incident.next_escalation_at == T0
    assert incident.escalation_snapshot["repeat_every"] == 600
    assert incident.escalation_snapshot["repeat_limit"] == 3
    assert incident.escalation_snapshot["steps"] == [
        {
            "position": 0,
            "after": 0.0,
            "tier": tier.pk,
            "contacts": [],
            "schedules": [],
            "condition": "not_resolved",
            "business_hours_only": False,
        },
        {
            "position": 1,
            "after": 1800.0,
            "tier": tier.pk,
            "contacts": [],
            "schedules": [],
            "condition": "not_acknowledged",
            "business_hours_only": True,
        },
    ]
    [created_event] = events(incident)
    assert created_event.kind == EventKind.CREATED
    assert created_event.actor_user == operator


def test_a_service_policy_wins_over_the_default_one(service):
    tier = make_tier(1)
    default = make_policy("sev2", [{"tier": tier}])
    own = make_policy(
        "sev2", [{"tier": tier}, {"after": timedelta(hours=1), "tier": tier}], service=service
    )
    incident, _ = open_(service, severity="sev2")
    assert incident.escalation_snapshot["policy"] == own.pk
    other, _ = open_(make_service("web"), severity="sev2")
    assert other.escalation_snapshot["policy"] == default.pk


def test_without_a_policy_nothing_escalates(service):
    incident, _ = open_(service, severity="sev4")
    assert incident.escalation_snapshot == {}
    assert incident.next_escalation_at is None


def test_a_second_alert_with_the_same_dedup_key_adds_to_the_open_incident(service):
    first, created = open_(service, dedup_key="probe:7", source="probe")
    again, created_again = open_(
        service, dedup_key="probe:7", source="probe", title="API down again"
    )
    assert created and not created_again
    assert again.pk == first.pk
    assert Incident.objects.count() == 1
    [duplicate] = events(first, EventKind.DUPLICATE)
    assert "API down again" in duplicate.text


def test_a_resolved_incident_frees_its_dedup_key(service):
    first, _ = open_(service, dedup_key="probe:7")
    services.resolve(incident=first, by=None)
    second, created = open_(service, dedup_key="probe:7")
    assert created and second.pk != first.pk


def test_a_dedup_race_lost_on_the_unique_constraint_joins_the_winner(service, monkeypatch):
    winner, _ = open_(service, dedup_key="probe:7")
    real = services._open_with_key
    calls = []

    def blind_first(key):
        # The first look sees nothing, as a parallel request would before the winner commits.
        calls.append(key)
        return None if len(calls) == 1 else real(key)

    monkeypatch.setattr(services, "_open_with_key", blind_first)
    incident, created = open_(service, dedup_key="probe:7")
    assert not created and incident.pk == winner.pk
    assert len(events(winner, EventKind.DUPLICATE)) == 1


def test_the_database_refuses_two_open_incidents_with_one_dedup_key(service):
    make_incident(service, dedup_key="k")
    with pytest.raises(IntegrityError):
        make_incident(service, dedup_key="k")


@pytest.mark.parametrize(
    ("field", "value"),
    [("severity", "sev9"), ("source", "fax"), ("scope", "galaxy"), ("title", "  ")],
)
def test_bad_input_to_open_incident_is_a_domain_error(service, field, value):
    with pytest.raises(DomainError) as error:
        open_(service, **{field: value})
    assert error.value.field == field
    assert not error.value.conflict


def test_the_whole_lifecycle_is_recorded_on_the_timeline(service, operator):
    incident, _ = open_(service)
    with time_machine.travel(T0, tick=False):
        services.acknowledge(incident=incident, by=operator)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.mitigate(incident=incident, by=operator)
    with time_machine.travel(T0 + timedelta(minutes=9), tick=False):
        services.resolve(incident=incident, by=operator)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        services.close(incident=incident, by=operator)
    assert incident.status == Status.CLOSED
    assert incident.acknowledged_at == T0 and incident.acknowledged_by == operator
    assert incident.mitigated_at == T0 + timedelta(minutes=5)
    assert incident.resolved_at == T0 + timedelta(minutes=9) and incident.resolved_by == operator
    assert incident.closed_at == T0 + timedelta(days=1)
    assert [(e.data["from"], e.data["to"]) for e in events(incident, EventKind.STATUS)] == [
        ("triggered", "acknowledged"),
        ("acknowledged", "mitigated"),
        ("mitigated", "resolved"),
        ("resolved", "closed"),
    ]
    assert all(e.actor_user == operator for e in events(incident, EventKind.STATUS))


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("triggered", "close"),
        ("acknowledged", "acknowledge"),
        ("mitigated", "acknowledge"),
        ("mitigated", "mitigate"),
        ("resolved", "acknowledge"),
        ("resolved", "resolve"),
        ("closed", "resolve"),
        ("closed", "close"),
        ("triggered", "reopen"),
        ("acknowledged", "reopen"),
    ],
)
def test_a_transition_not_allowed_from_the_current_status_is_a_conflict(service, status, action):
    incident = make_incident(service, status=status)
    with pytest.raises(DomainError) as error:
        getattr(services, action)(incident=incident, by=None)
    assert error.value.conflict  # with the incident's current state: the API answers 409
    assert error.value.code == "invalid_transition"
    incident.refresh_from_db()
    assert incident.status == status
    assert events(incident) == []


def test_allowed_actions_follow_the_status(service):
    assert make_incident(service).allowed_actions() == ["acknowledge", "mitigate", "resolve"]
    assert make_incident(service, status="resolved").allowed_actions() == ["close", "reopen"]


def test_an_acknowledge_racing_a_resolve_never_undoes_it(service, operator):
    incident, _ = open_(service)
    seen_by_ack = Incident.objects.get(pk=incident.pk)  # loaded before the resolve lands
    services.resolve(incident=incident, by=operator)
    with pytest.raises(DomainError) as error:
        services.acknowledge(incident=seen_by_ack, by=operator)
    assert error.value.conflict
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.acknowledged_at is None


def test_the_conditional_update_refuses_when_the_status_moved_after_it_was_read(
    service, monkeypatch
):
    incident, _ = open_(service)
    real = services._current

    def then_resolved(obj):
        row = real(obj)
        # someone else, in between
        Incident.objects.filter(pk=obj.pk).update(status=Status.RESOLVED)
        return row

    monkeypatch.setattr(services, "_current", then_resolved)
    with pytest.raises(DomainError) as error:
        services.acknowledge(incident=incident, by=None)
    assert error.value.conflict
    assert Incident.objects.get(pk=incident.pk).status == Status.RESOLVED
    assert events(incident, EventKind.STATUS) == []


def test_the_first_acknowledgement_is_kept_after_a_reopen(service, operator, make_user):
    incident, _ = open_(service)
    with time_machine.travel(T0, tick=False):
        services.acknowledge(incident=incident, by=operator)
    services.resolve(incident=incident, by=operator)
    services.reopen(incident=incident, by=operator)
    services.acknowledge(incident=incident, by=make_user("operator"))
    assert incident.acknowledged_at == T0 and incident.acknowledged_by == operator


def test_reopening_starts_a_new_escalation_round_with_the_current_policy(service):
    tier = make_tier(1)
    policy = make_policy("sev1", [{"tier": tier}])
    with time_machine.travel(T0, tick=False):
        incident, _ = open_(service)
        services.resolve(incident=incident, by=None)
        services.close(incident=incident, by=None)
    policy.steps.update(after=timedelta(minutes=3))
    later = T0 + timedelta(hours=5)
    with time_machine.travel(later, tick=False):
        services.reopen(incident=incident, by=None, reason="it is back")
    assert incident.status == Status.TRIGGERED
    assert (
        incident.resolved_at is None and incident.closed_at is None and incident.resolved_by is None
    )
    assert incident.escalation_round == 1
    assert incident.escalation_started_at == later
    assert incident.next_escalation_at == later + timedelta(minutes=3)
    assert events(incident, EventKind.STATUS)[-1].message == "it is back"


def test_reopening_when_another_incident_holds_the_dedup_key_is_a_conflict(service):
    old, _ = open_(service, dedup_key="k")
    services.resolve(incident=old, by=None)
    open_(service, dedup_key="k")
    with pytest.raises(DomainError) as error:
        services.reopen(incident=old, by=None)
    assert error.value.conflict
    old.refresh_from_db()
    assert old.status == Status.RESOLVED


def test_acknowledging_cancels_pending_not_acknowledged_notifications_only(service):
    incident, _ = open_(service)
    contact = make_contact()
    channel = contact.channels.get()
    for step, condition in ((0, "not_acknowledged"), (1, "not_resolved")):
        Notification.objects.create(
            incident=incident,
            step=step,
            condition=condition,
            contact=contact,
            channel=channel,
            kind="email",
            target=channel.target,
        )
    services.acknowledge(incident=incident, by=None)
    assert dict(Notification.objects.values_list("step", "status")) == {
        0: NotificationStatus.CANCELLED,
        1: NotificationStatus.PENDING,
    }
    services.resolve(incident=incident, by=None)
    assert set(Notification.objects.values_list("status", flat=True)) == {
        NotificationStatus.CANCELLED
    }
    incident.refresh_from_db()
    assert incident.next_escalation_at is None


def test_a_note_is_added_to_the_timeline(service, operator):
    incident, _ = open_(service)
    event = services.add_note(incident=incident, by=operator, text="  restarted the API container ")
    assert event.kind == EventKind.NOTE
    assert event.message == "restarted the API container"
    assert event.actor == operator.username


def test_an_empty_note_is_refused(service):
    incident, _ = open_(service)
    with pytest.raises(DomainError) as error:
        services.add_note(incident=incident, by=None, text=" ")
    assert error.value.field == "text"


def test_other_apps_can_add_their_own_events(service):
    incident, _ = open_(service)
    event = services.add_event(
        incident=incident, kind=EventKind.PROBE, message="critical: 503", data={"probe": 3}
    )
    assert event.actor == "system"
    with pytest.raises(DomainError):
        services.add_event(incident=incident, kind="gossip")
