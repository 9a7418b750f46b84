"""Off-site copies with a real restic: a local repository and one over SFTP to our own sshd."""

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from backups import restic, services
from backups.models import OffsiteStatus, Repository, RestoreStatus, RunStatus, Trigger
from incidents.models import Incident
from tests.backups.conftest import PASSWORD, make_sqlite
from tests.incidents.factories import make_service


@pytest.fixture(params=["local", "sftp"])
def repository(request, db, roots, tmp_path, settings):
    if request.param == "local":
        url = str(tmp_path / "restic")
    else:
        server = request.getfixturevalue("sftp_server")
        settings.RESTIC_SSH_CONFIG = server.config
        url = f"sftp:{server.user}@127.0.0.1:{tmp_path}/sftp-restic"
    repository = Repository.objects.create(name=f"off-{request.param}", url=url, password=PASSWORD)
    return services.init_repository(repository=repository)


def tagged(repository, run):
    return restic.snapshots(repository.as_restic(), tags=[f"run:{run.pk}"])


def test_init_copy_list_forget_check_and_restore_through_the_repository(
    repository, make_target, roots
):
    assert repository.initialised_at is not None
    assert repository.snapshot_count == 0
    target = make_target("sqlite", repository=repository, keep_last=2)
    moments = [datetime(2026, 5, day, 2, 0, tzinfo=ZoneInfo("UTC")) for day in (1, 2, 3)]
    runs = []
    for moment in moments:
        with time_machine.travel(moment, tick=True):
            runs.append(services.run_backup(target=target, trigger=Trigger.SCHEDULE))
        # A rename between runs keeps the older snapshots under the target's policy.
        target.name = f"{target.name}-x"
        target.save(update_fields=["name"])
    for run in runs:
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED
        assert run.offsite_status == OffsiteStatus.SUCCEEDED, run.offsite_error
        assert run.repository == repository
        assert len(run.snapshot_id) == 8
        assert run.offsite_duration is not None
    assert runs[0].offsite_bytes_added > 0

    # restic's retention, with the target's keep-last 2: the oldest snapshot is forgotten and
    # pruned.
    listed = restic.snapshots(repository.as_restic(), tags=[f"target-id:{target.pk}"])
    assert sorted(s["short_id"] for s in listed) == sorted(r.snapshot_id for r in runs[1:])
    assert all(f"run:{runs[2].pk}" in s["tags"] for s in tagged(repository, runs[2]))
    assert runs[0].snapshot_forgotten_at is not None and runs[2].snapshot_forgotten_at is None

    repository = services.refresh_repository(repository=repository)
    assert (repository.snapshot_count, repository.error) == (2, "")
    assert repository.size > 0
    repository = services.check_repository(repository=repository, subset="100%")
    assert repository.last_check_passed, repository.last_check_detail

    # The local file is gone; the newest backup comes back from its snapshot, with a safety copy
    # first.
    Path(runs[2].file).unlink()
    with sqlite3.connect(target.source) as con:
        con.execute("DELETE FROM item")
    con.close()
    restore = services.restore_backup(
        run=runs[2], by=None, confirm=target.name, from_repository=True
    )
    assert restore.status == RestoreStatus.SUCCEEDED, restore.error
    assert restore.safety_run.trigger == Trigger.PRE_RESTORE
    with sqlite3.connect(target.source) as con:
        assert con.execute("SELECT count(*) FROM item").fetchone() == (100,)
    con.close()
    assert not [p for p in Path(target.destination).iterdir() if p.name.startswith(".restore-")]


def test_a_snapshot_that_no_longer_matches_the_backups_checksum_restores_nothing(
    local_repository, make_target
):
    target = make_target("sqlite", repository=local_repository)
    run = services.run_backup(target=target, trigger=Trigger.MANUAL)
    run.sha256 = "0" * 64
    run.save(update_fields=["sha256"])
    restore = services.request_restore(
        run=run, by=None, confirm=target.name, from_repository=True, enqueue=False
    )
    restore = services.perform_restore(restore=restore)
    assert restore.status == RestoreStatus.FAILED
    assert restore.error.startswith("Checksum error")
    assert restore.safety_run is None


def test_a_run_without_a_snapshot_cannot_be_restored_from_the_repository(make_target):
    from core.errors import DomainError

    target = make_target("sqlite")
    run = services.run_backup(target=target, trigger=Trigger.MANUAL)
    with pytest.raises(DomainError) as caught:
        services.request_restore(run=run, by=None, confirm=target.name, from_repository=True)
    assert caught.value.code == "no_snapshot"


def test_a_wrong_password_is_a_recorded_copy_failure_that_keeps_the_local_backup(
    local_repository, make_target
):
    Repository.objects.filter(pk=local_repository.pk).update(password="not the password")
    local_repository.refresh_from_db()
    target = make_target("sqlite", repository=local_repository)
    run = services.run_backup(target=target, trigger=Trigger.MANUAL)
    assert run.status == RunStatus.SUCCEEDED
    assert run.offsite_status == OffsiteStatus.FAILED
    assert "The repository password is wrong" in run.offsite_error
    assert Path(run.file).is_file()
    incident = Incident.objects.get(dedup_key=f"backup:{target.pk}")
    assert "Off-site copy" in incident.title
    assert "is kept" in incident.description

    refreshed = services.refresh_repository(repository=local_repository)
    assert "The repository password is wrong" in refreshed.error


def test_an_unreachable_sftp_host_is_a_recorded_understandable_error(
    sftp_server, settings, db, tmp_path, make_target
):
    settings.RESTIC_SSH_CONFIG = sftp_server.config
    with socket_closed() as port:
        repository = Repository.objects.create(
            name="dr",
            url=f"sftp://{sftp_server.user}@127.0.0.1:{port}/{tmp_path}/nowhere",
            password=PASSWORD,
        )
        from core.errors import DomainError

        with pytest.raises(DomainError) as caught:
            services.init_repository(repository=repository)
        assert "cannot be reached over SSH" in caught.value.message
        repository.refresh_from_db()
        assert "cannot be reached over SSH" in repository.error
        target = make_target("sqlite", repository=repository)
        run = services.run_backup(target=target, trigger=Trigger.MANUAL)
    assert run.offsite_status == OffsiteStatus.FAILED
    assert "cannot be reached over SSH" in run.offsite_error
    assert Path(run.file).is_file()


def test_a_missing_repository_folder_says_to_initialise_it(db, tmp_path):
    repository = Repository.objects.create(
        name="nas", url=str(tmp_path / "not-mounted"), password=PASSWORD
    )
    repository = services.refresh_repository(repository=repository)
    assert "There is no restic repository at this location" in repository.error


def test_a_failed_check_opens_an_incident(local_repository, make_target):
    target = make_target("sqlite", repository=local_repository)
    services.run_backup(target=target, trigger=Trigger.MANUAL)
    for pack in (Path(local_repository.url) / "data").rglob("*"):
        if pack.is_file():
            pack.chmod(0o600)
            pack.write_bytes(b"\0" * pack.stat().st_size)
    repository = services.check_repository(repository=local_repository, subset="100%")
    assert repository.last_check_passed is False
    assert Incident.objects.filter(dedup_key=f"restic:{repository.pk}").count() == 1


def test_a_second_database_copy_of_unchanged_data_adds_almost_nothing(
    local_repository, make_target, roots
):
    source = make_sqlite(roots / "big.sqlite3", rows=20000)
    target = make_target("sqlite", source=str(source), repository=local_repository)
    first = services.run_backup(target=target, trigger=Trigger.MANUAL)
    second = services.run_backup(target=target, trigger=Trigger.MANUAL)
    assert first.offsite_bytes_added > 100_000
    assert second.offsite_bytes_added < first.offsite_bytes_added / 10


class socket_closed:
    """A port on 127.0.0.1 that nothing listens on."""

    def __enter__(self):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


def test_a_rehearsal_slower_than_the_rto_fails_and_opens_one_incident_a_fast_one_passes(
    local_repository, make_target
):
    from backups.scorecard import scorecards

    slow_service = make_service(name="slow", rto=timedelta(microseconds=1), rpo=timedelta(hours=1))
    fast_service = make_service(name="fast", rto=timedelta(hours=2), rpo=timedelta(hours=1))
    slow = make_target("sqlite", service=slow_service, repository=local_repository)
    fast = make_target("sqlite", service=fast_service, repository=local_repository)
    for target in (slow, fast):
        services.run_backup(target=target, trigger=Trigger.MANUAL)
        # The rehearsal reads the snapshot, not the local file.
        for run in target.runs.all():
            Path(run.file).unlink()
    services.check_repository(repository=local_repository)

    failed = services.rehearse(target=slow)
    services.rehearse(target=slow)
    passed = services.rehearse(target=fast)

    assert failed.passed is False
    assert "longer than the RTO" in failed.error
    assert failed.duration > failed.rto == timedelta(microseconds=1)
    assert failed.snapshot_id == slow.runs.get().snapshot_id
    assert Incident.objects.filter(service=slow_service).count() == 1
    assert "rehearsal" in Incident.objects.get(service=slow_service).title
    assert passed.passed, passed.error
    assert passed.detail["tables"] == {"item": 100}
    assert timedelta(0) < passed.duration < timedelta(hours=2)
    assert not Incident.objects.filter(service=fast_service).exists()

    cards = {card.service.name: card for card in scorecards(now=timezone.now())}
    assert cards["slow"].status == "red"
    assert any("longer than the RTO" in reason for reason in cards["slow"].reasons)
    assert cards["fast"].status == "green", cards["fast"].reasons
    assert cards["fast"].last_rehearsal == passed
    assert cards["fast"].last_check_passed is True


def test_a_restic_that_hangs_is_stopped_at_its_timeout(local_repository, tmp_path, settings):
    hanging = tmp_path / "hanging-restic"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n")
    hanging.chmod(0o755)
    settings.RESTIC_BINARY = str(hanging)
    with pytest.raises(restic.ResticError) as caught:
        restic.run(local_repository.as_restic(), ["snapshots"], timeout=0.5)
    assert "did not finish within" in str(caught.value)


def test_a_missing_restic_binary_is_an_understandable_error(
    local_repository, settings, make_target
):
    settings.RESTIC_BINARY = "/nonexistent/restic"
    run = services.run_backup(
        target=make_target("sqlite", repository=local_repository), trigger=Trigger.MANUAL
    )
    assert run.offsite_status == OffsiteStatus.FAILED
    assert "restic is not installed" in run.offsite_error
