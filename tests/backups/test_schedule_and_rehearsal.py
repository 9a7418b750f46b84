import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
from django.core.management import call_command
from django.utils import timezone

from backups import services, tasks
from backups.models import BackupRun, RunStatus, Trigger
from incidents.models import Incident
from tests.incidents.factories import make_service

NIGHT = datetime(2026, 5, 4, 2, 0, 30, tzinfo=ZoneInfo("UTC"))


def test_the_dispatcher_queues_a_due_target_once_even_when_two_clusters_run_it(
    make_target, django_capture_on_commit_callbacks
):
    target = make_target("sqlite", next_run_at=NIGHT - timedelta(seconds=30))
    with django_capture_on_commit_callbacks() as callbacks:
        first = services.dispatch_due(now=NIGHT)
        second = services.dispatch_due(now=NIGHT)
    assert [r.trigger for r in first] == [Trigger.SCHEDULE]
    assert second == []
    assert len(callbacks) == 1
    target.refresh_from_db()
    assert target.next_run_at == datetime(2026, 5, 5, 2, 0, tzinfo=ZoneInfo("UTC"))


def test_a_disabled_or_not_yet_due_target_is_not_queued(make_target):
    make_target("sqlite", enabled=False, next_run_at=NIGHT - timedelta(hours=1))
    make_target("sqlite", next_run_at=NIGHT + timedelta(hours=1))
    assert services.dispatch_due(now=NIGHT) == []


def test_the_task_performs_a_queued_backup(make_target):
    run = services.queue_backup(target=make_target("sqlite"), trigger=Trigger.API)
    assert tasks.perform_backup(run.pk) == RunStatus.SUCCEEDED


def test_a_rehearsal_restores_the_newest_verified_backup_into_scratch_and_counts_rows(make_target):
    target = make_target("sqlite")
    services.run_backup(target=target, trigger="manual")
    rehearsal = services.rehearse(target=target)
    assert rehearsal.passed, rehearsal.error
    assert rehearsal.detail["tables"] == {"item": 100}
    assert rehearsal.detail["integrity"] == "integrity_check: ok"
    assert [p for p in Path(target.destination).iterdir() if p.name.startswith(".")] == []


def test_a_postgresql_rehearsal_restores_into_a_scratch_database(make_target, pg_database):
    target = make_target("postgres", source=pg_database)
    services.run_backup(target=target, trigger="manual")
    rehearsal = services.rehearse(target=target)
    assert rehearsal.passed, rehearsal.error
    assert rehearsal.detail["tables"] == {"public.item": 50}


def test_a_failed_rehearsal_opens_one_incident_per_target(make_target):
    target = make_target("sqlite")
    run = services.run_backup(target=target, trigger="manual")
    Path(run.file).write_bytes(b"damaged")
    services.rehearse(target=target)
    services.rehearse(target=target)
    incidents = Incident.objects.filter(dedup_key=f"backup:{target.pk}")
    assert incidents.count() == 1
    assert "rehearsal" in incidents.get().title


def test_a_target_without_a_verified_backup_younger_than_its_rpo_opens_an_incident(make_target):
    service = make_service(rpo=timedelta(hours=24))
    target = make_target("sqlite", service=service)
    with time_machine.travel(NIGHT, tick=False):
        services.run_backup(target=target, trigger="manual")
        assert services.check_freshness(now=timezone.now()) == []
    with time_machine.travel(NIGHT + timedelta(hours=25), tick=False):
        assert services.check_freshness(now=timezone.now()) == [target]
    assert Incident.objects.get(dedup_key=f"backup:{target.pk}").severity == "sev2"


def test_latest_verified_age_is_none_without_a_verified_backup(make_target):
    target = make_target("sqlite")
    assert services.latest_verified_age(target=target, now=timezone.now()) is None
    with time_machine.travel(NIGHT, tick=False):
        services.run_backup(target=target, trigger="manual")
    age = services.latest_verified_age(target=target, now=NIGHT + timedelta(hours=3))
    assert timedelta(hours=3) - timedelta(seconds=1) <= age <= timedelta(hours=3)


def test_the_cli_runs_lists_and_asks_for_yes_before_restoring(make_target, capsys):
    import pytest
    from django.core.management.base import CommandError

    target = make_target("sqlite", name="cli-db")
    call_command("backup", "run", "cli-db")
    run = BackupRun.objects.get(target=target)
    out, err = capsys.readouterr()
    assert f"#{run.pk} succeeded" in out and "cli-db [" in err
    call_command("backup", "list")
    assert "cli-db" in capsys.readouterr()[0]
    with pytest.raises(CommandError, match="--yes"):
        call_command("backup", "restore", str(run.pk))
    call_command("backup", "restore", str(run.pk), "--yes")
    assert "succeeded" in capsys.readouterr()[0]
    con = sqlite3.connect(target.source)
    assert con.execute("SELECT count(*) FROM item").fetchone()[0] == 100
    con.close()
    call_command("backup", "cleanup", "--dry-run")
    call_command("backup", "verify", str(run.pk))
    call_command("backup", "rehearse", "cli-db")
    assert "passed" in capsys.readouterr()[0]


def test_demo_data_creates_two_targets_with_a_verified_backup_and_is_idempotent(
    db, settings, tmp_path
):
    from backups import demo

    settings.DATA_DIR = tmp_path
    settings.FILE_ROOTS = [tmp_path]
    demo.seed()
    demo.seed()
    runs = BackupRun.objects.filter(status=RunStatus.SUCCEEDED, verification="passed")
    assert sorted(runs.values_list("target__name", flat=True)) == ["inventory-sample", "portal-db"]
