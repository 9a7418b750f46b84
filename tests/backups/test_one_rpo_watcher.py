"""One RPO watcher (issue 21): the backups app's freshness check is the only thing that pages for a
late backup; the backup_freshness probe kind that paged a second time is retired with a
migration."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from backups import kinds, services, tasks
from backups.dashboard import targets_with_freshness
from incidents.models import EventKind, Incident, TimelineEvent
from probes import services as probe_services
from probes.models import Kind, Probe, ProbeResult
from tests.incidents.factories import make_service

NIGHT = datetime(2026, 5, 4, 2, 0, 30, tzinfo=UTC)


def broken(target, temp, report):
    raise kinds.BackupError("the source went away")


@pytest.mark.django_db
def test_one_stale_backup_target_opens_exactly_one_incident(make_target):
    target = make_target("sqlite", service=make_service(rpo=timedelta(hours=24)))
    with time_machine.travel(NIGHT, tick=False):
        services.run_backup(target=target, trigger="manual")
    with time_machine.travel(NIGHT + timedelta(hours=25), tick=False):
        tasks.check_freshness()
        probe_services.run_due(now=timezone.now())
        tasks.check_freshness()
    incident = Incident.objects.get()
    assert incident.dedup_key == f"backup:{target.pk}"
    assert incident.events.filter(kind=EventKind.DUPLICATE).count() == 1


@pytest.mark.django_db
def test_a_freshness_probe_can_no_longer_be_created(api_as):
    assert "backup_freshness" not in Kind.values
    response = api_as("manager").post(
        "/api/v1/probes",
        {
            "service": make_service().pk,
            "name": "rpo",
            "kind": "backup_freshness",
            "config": {"target": 1},
        },
        format="json",
    )
    assert response.status_code == 400 and "kind" in response.json()


@pytest.mark.django_db(transaction=True)
def test_the_migration_deletes_freshness_probes_and_notes_their_open_incidents():
    before = [("probes", "0010_result_index_covers_order")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    # The probes tables as they were; the incidents tables as they are now (they are not rolled
    # back).
    incidents_now = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "incidents"]
    old = executor.loader.project_state(before + incidents_now).apps
    service = old.get_model("incidents", "Service").objects.create(name="data hub")
    probe_model = old.get_model("probes", "Probe")
    stale = probe_model.objects.create(
        service_id=service.pk, name="rpo", kind="backup_freshness", config={"target": 1}
    )
    kept = probe_model.objects.create(
        service_id=service.pk, name="api", kind="tcp", config={"host": "127.0.0.1", "port": 9}
    )
    old.get_model("probes", "ProbeResult").objects.create(probe_id=stale.pk, status="critical")
    incident_model = old.get_model("incidents", "Incident")
    open_one = incident_model.objects.create(
        service_id=service.pk,
        title="late",
        severity="sev3",
        status="triggered",
        source="probe",
        dedup_key=f"probe:{stale.pk}",
    )
    other = incident_model.objects.create(
        service_id=service.pk,
        title="api down",
        severity="sev3",
        status="triggered",
        source="probe",
        dedup_key=f"probe:{kept.pk}",
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert list(Probe.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not ProbeResult.objects.filter(probe_id=stale.pk).exists()
    notes = TimelineEvent.objects.filter(kind=EventKind.NOTE)
    assert [note.incident_id for note in notes] == [open_one.pk]
    assert "retired" in notes.get().message
    assert not TimelineEvent.objects.filter(incident_id=other.pk).exists()


@pytest.mark.django_db
def test_the_freshness_check_and_the_dashboard_read_the_same_newest_verified_backup(make_target):
    target = make_target("sqlite", service=make_service(rpo=timedelta(hours=24)))
    with time_machine.travel(NIGHT, tick=False):
        services.run_backup(target=target, trigger="manual")
    with time_machine.travel(NIGHT + timedelta(hours=2), tick=False):
        newest = services.run_backup(target=target, trigger="manual")
        failed = services.run_backup(target=target, trigger="manual", backup=broken)
    now = NIGHT + timedelta(hours=5)
    assert failed.status == "failed"
    assert target.runs.verified().first() == newest
    (shown,) = targets_with_freshness(now)
    assert (
        shown.age
        == services.latest_verified_age(target=target, now=now)
        == now - newest.finished_at
    )
