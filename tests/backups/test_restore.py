import sqlite3
from pathlib import Path

import psycopg
import pytest

from backups import services
from backups.models import RestoreStatus, RunStatus, Trigger, Verification
from core.errors import DomainError
from tests.backups.conftest import make_sqlite


def rows(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM item").fetchone()[0]
    finally:
        con.close()


def test_a_sqlite_restore_takes_a_safety_copy_first_and_passes_integrity_check(
    make_target, make_user
):
    target = make_target("sqlite")
    backup = services.run_backup(target=target, trigger="manual")
    make_sqlite(target.source, rows=25)  # changes after the backup
    manager = make_user("manager")
    restore = services.restore_backup(run=backup, by=manager, confirm=target.name)
    assert restore.status == RestoreStatus.SUCCEEDED, restore.error
    assert restore.integrity == "integrity_check: ok"
    assert restore.requested_by == manager
    assert rows(target.source) == 100
    safety = restore.safety_run
    assert safety.trigger == Trigger.PRE_RESTORE and safety.status == RunStatus.SUCCEEDED
    assert rows(safety.file) == 125


def test_a_damaged_sqlite_file_with_a_stale_wal_is_replaced_and_the_wal_removed(make_target):
    target = make_target("sqlite")
    backup = services.run_backup(target=target, trigger="manual")
    Path(target.source).write_bytes(b"garbage" * 1000)
    Path(target.source + "-wal").write_bytes(b"stale wal frames" * 100)
    Path(target.source + "-shm").write_bytes(b"stale")
    restore = services.restore_backup(run=backup, by=None, confirm=target.name)
    assert restore.status == RestoreStatus.SUCCEEDED, restore.error
    assert rows(target.source) == 100
    wal = Path(target.source + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_backup_altered_after_it_was_written_is_refused_with_a_checksum_error(make_target):
    target = make_target("sqlite")
    backup = services.run_backup(target=target, trigger="manual")
    data = bytearray(Path(backup.file).read_bytes())
    data[-1] ^= 0xFF
    Path(backup.file).write_bytes(bytes(data))
    with pytest.raises(DomainError, match="Checksum error"):
        services.restore_backup(run=backup, by=None, confirm=target.name)
    assert rows(target.source) == 100


def test_the_confirmation_must_be_the_targets_name(make_target):
    target = make_target("sqlite")
    backup = services.run_backup(target=target, trigger="manual")
    with pytest.raises(DomainError) as caught:
        services.restore_backup(run=backup, by=None, confirm="yes")
    assert caught.value.field == "confirm"


def test_a_postgresql_dump_cannot_be_restored_into_a_sqlite_target(make_target, pg_database):
    dump = services.run_backup(target=make_target("postgres", source=pg_database), trigger="manual")
    sqlite_target = make_target("sqlite")
    with pytest.raises(DomainError) as caught:
        services.restore_backup(run=dump, by=None, confirm=sqlite_target.name, target=sqlite_target)
    assert caught.value.code == "wrong_kind"


def test_postgresql_is_backed_up_verified_and_restored_against_the_real_server(
    make_target, pg_database
):
    target = make_target("postgres", source=pg_database)
    backup = services.run_backup(target=target, trigger="manual")
    assert backup.status == RunStatus.SUCCEEDED, backup.error
    assert backup.file.endswith(".dump")
    assert backup.verification == Verification.PASSED, backup.verification_detail
    assert "pg_restore --list" in backup.verification_detail
    with psycopg.connect(pg_database) as con:
        con.execute("DELETE FROM item WHERE id > 10")
    restore = services.restore_backup(run=backup, by=None, confirm=target.name)
    assert restore.status == RestoreStatus.SUCCEEDED, restore.error
    with psycopg.connect(pg_database) as con:
        assert con.execute("SELECT count(*) FROM item").fetchone()[0] == 50
    assert restore.safety_run.format == "pg_dump"


def test_the_portal_database_backup_uses_the_engine_the_portal_runs_on(make_target):
    from django.db import connection

    run = services.run_backup(target=make_target("portal_db"), trigger="manual")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.verification == Verification.PASSED, run.verification_detail
    assert run.format == ("pg_dump" if connection.vendor == "postgresql" else "sqlite")
