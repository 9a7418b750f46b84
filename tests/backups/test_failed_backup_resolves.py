"""A failed-backup incident resolves itself when the target's next run is verified (issue 26);
problems a verified run does not fix keep it open."""

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from backups import kinds, services
from backups.models import RunStatus, Verification
from incidents import services as incident_services
from incidents.models import EventKind, Incident, Status
from tests.incidents.factories import make_service

pytestmark = pytest.mark.django_db


def broken(target, temp, report):
    raise kinds.BackupError("the source went away")


def incident_of(target):
    return Incident.objects.get(dedup_key=f"backup:{target.pk}")


def test_a_failed_run_incident_resolves_when_the_next_run_is_verified(make_target):
    target = make_target("sqlite")
    failed = services.run_backup(target=target, trigger="schedule", backup=broken)
    assert failed.status == RunStatus.FAILED and incident_of(target).status == Status.TRIGGERED
    good = services.run_backup(target=target, trigger="schedule")
    assert good.verification == Verification.PASSED
    incident = incident_of(target)
    assert incident.status == Status.RESOLVED and incident.resolved_by is None
    assert f"Backup #{good.pk} of {target.name} was verified." in [
        event.text for event in incident.events.filter(kind=EventKind.STATUS)
    ]


def test_a_failed_verification_incident_resolves_on_the_next_verified_run(make_target):
    target = make_target("sqlite")
    run = services.run_backup(target=target, trigger="manual")
    Path(run.file).write_bytes(b"damaged")
    services.verify_backup(run=run)
    assert incident_of(target).status == Status.TRIGGERED
    services.run_backup(target=target, trigger="manual")
    assert incident_of(target).status == Status.RESOLVED


def test_several_failed_runs_then_a_verified_one_resolve_the_one_incident(make_target):
    target = make_target("sqlite")
    for _ in range(3):
        services.run_backup(target=target, trigger="schedule", backup=broken)
    services.run_backup(target=target, trigger="schedule")
    assert incident_of(target).status == Status.RESOLVED


def test_a_backup_that_is_not_verified_leaves_the_incident_open(make_target):
    target = make_target("sqlite", verify=False)
    services.run_backup(target=target, trigger="schedule", backup=broken)
    run = services.run_backup(target=target, trigger="schedule")
    assert run.status == RunStatus.SUCCEEDED and run.verification != Verification.PASSED
    assert incident_of(target).status == Status.TRIGGERED


def test_a_failed_run_again_after_the_resolve_opens_a_new_incident(make_target):
    target = make_target("sqlite")
    services.run_backup(target=target, trigger="schedule", backup=broken)
    services.run_backup(target=target, trigger="schedule")
    services.run_backup(target=target, trigger="schedule", backup=broken)
    assert list(
        Incident.objects.filter(dedup_key=f"backup:{target.pk}")
        .order_by("pk")
        .values_list("status", flat=True)
    ) == ["resolved", "triggered"]


def test_an_incident_that_also_holds_a_failed_rehearsal_stays_open_with_a_note(make_target):
    target = make_target("sqlite")
    services.run_backup(target=target, trigger="schedule", backup=broken)
    services.report_problem(
        target=target,
        problem=services.Problem.REHEARSAL_FAILED,
        title=f"Restore rehearsal of {target.name} failed",
        description="damaged",
    )
    good = services.run_backup(target=target, trigger="schedule")
    incident = incident_of(target)
    assert incident.status == Status.TRIGGERED
    note = incident.events.get(kind=EventKind.NOTE)
    assert f"Backup #{good.pk}" in note.text and "own fix" in note.text


def test_a_verified_run_resolves_a_no_fresh_backup_incident(make_target):
    target = make_target("sqlite", service=make_service(rpo=timedelta(hours=24)))
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        assert services.check_freshness(now=timezone.now()) == [target]
        services.run_backup(target=target, trigger="manual")
        assert services.check_freshness(now=timezone.now()) == []
    assert incident_of(target).status == Status.RESOLVED


def test_an_incident_resolved_by_a_person_meanwhile_is_left_alone(make_target, django_user_model):
    target = make_target("sqlite")
    services.run_backup(target=target, trigger="schedule", backup=broken)
    person = django_user_model.objects.create_user("kim")
    incident_services.resolve(incident=incident_of(target), by=person)
    services.run_backup(target=target, trigger="schedule")
    incident = incident_of(target)
    assert incident.status == Status.RESOLVED and incident.resolved_by == person


def test_an_incident_with_no_recorded_problem_stays_open(make_target):
    # Opened before problems were recorded (or by another path): nothing says a run fixes it.
    target = make_target("sqlite")
    incident_services.open_incident(
        service=target.service,
        title="Backup trouble",
        severity="sev3",
        source="backup",
        dedup_key=f"backup:{target.pk}",
    )
    services.run_backup(target=target, trigger="schedule")
    assert incident_of(target).status == Status.TRIGGERED
