import errno
import hashlib
import os
import re
import sqlite3
import tarfile
from pathlib import Path

import pytest

from backups import kinds, services
from backups.models import RunStatus, Verification
from incidents.models import Incident

NAME = re.compile(r"^(?P<target>.+)_\d{8}_\d{6}\.[a-z0-9.]+$")


def test_a_sqlite_backup_is_named_after_its_target_and_passes_integrity_check(make_target):
    target = make_target("sqlite", name="inventory")
    run = services.run_backup(target=target, trigger="manual")
    assert run.status == RunStatus.SUCCEEDED
    assert run.verification == Verification.PASSED
    path = Path(run.file)
    assert NAME.match(path.name).group("target") == "inventory"
    assert path.suffix == ".sqlite3"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == run.sha256
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM item").fetchone()[0] == 100
    assert "integrity_check: ok" in run.verification_detail
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_file_backup_records_the_sha256_of_what_it_wrote(make_target, roots):
    source = roots / "model.bin"
    source.write_bytes(b"weights" * 100_000)
    run = services.run_backup(target=make_target("file", source=str(source)), trigger="manual")
    assert run.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert run.size == source.stat().st_size


def test_a_compressed_file_backup_hashes_the_compressed_bytes_and_verifies(make_target, roots):
    source = roots / "log.txt"
    source.write_text("line\n" * 50_000)
    run = services.run_backup(
        target=make_target("file", source=str(source), compress=True), trigger="manual"
    )
    assert run.file.endswith(".bak.gz")
    assert run.sha256 == hashlib.sha256(Path(run.file).read_bytes()).hexdigest()
    assert run.verification == Verification.PASSED


def test_a_directory_backup_is_a_tar_gz_without_the_excluded_files(make_target, roots):
    tree = roots / "config"
    (tree / "sub").mkdir(parents=True)
    (tree / "app.yml").write_text("a: 1")
    (tree / "sub" / "debug.log").write_text("noise")
    run = services.run_backup(
        target=make_target("directory", source=str(tree), excludes="*.log"), trigger="manual"
    )
    assert run.verification == Verification.PASSED, run.verification_detail
    with tarfile.open(run.file) as tar:
        names = tar.getnames()
    assert "./app.yml" in names
    assert not any(name.endswith("debug.log") for name in names)


def test_a_full_disk_ends_in_a_failed_run_without_leftovers_or_retention(
    make_target, roots, monkeypatch
):
    source = roots / "big.bin"
    source.write_bytes(b"x" * (10 * 1024 * 1024))
    target = make_target("file", source=str(source), keep_last=1)
    first = services.run_backup(target=target, trigger="manual")
    real_write = kinds.HashingWriter.write

    def disk_fills_up(self, data):
        if self.size > 4 * 1024 * 1024:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(kinds.HashingWriter, "write", disk_fills_up)
    run = services.run_backup(target=target, trigger="manual")
    assert run.status == RunStatus.FAILED
    assert "disk is full" in run.error
    assert sorted(p.name for p in Path(target.destination).iterdir()) == [Path(first.file).name]
    first.refresh_from_db()
    assert first.pruned_at is None
    assert Incident.objects.filter(dedup_key=f"backup:{target.pk}").exists()


def test_a_write_back_error_met_while_copying_fails_the_run_without_leftovers(
    make_target, monkeypatch
):
    """The copy is synced from a thread while it is made; an error that thread meets is the run's
    error (Linux reports it once: a later fsync through another descriptor would not see it)."""
    target = make_target("sqlite")
    real_fsync = kinds.os.fsync
    met = []

    def failing_fsync(fd):
        if kinds.threading.current_thread().name == "backup-writeback":
            met.append(fd)
            raise OSError(errno.EIO, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(kinds.Writeback, "INTERVAL", 0.0)
    monkeypatch.setattr(kinds.os, "fsync", failing_fsync)
    run = services.run_backup(target=target, trigger="manual")
    assert met, "the write-back thread synced the copy"
    assert run.status == RunStatus.FAILED
    assert "Input/output error" in run.error
    assert list(Path(target.destination).iterdir()) == []


def test_write_back_syncs_once_more_at_the_end_through_its_own_descriptor(tmp_path, monkeypatch):
    synced = []
    real_fsync = kinds.os.fsync
    monkeypatch.setattr(kinds.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    path = tmp_path / "copy.bin"
    writeback = kinds.Writeback(path)
    path.write_bytes(b"page" * 1024)
    writeback.finish()
    assert synced and len(set(synced)) == 1
    assert writeback.fd is None  # closed
    kinds.Writeback(tmp_path / "never-written").finish()  # nothing to sync, nothing raised


def test_a_missing_pg_dump_is_a_clear_error_naming_the_package(make_target, monkeypatch):
    monkeypatch.setattr(kinds.shutil, "which", lambda name: None)
    target = make_target("postgres", source="postgres://postgres@127.0.0.1:5432/nothing")
    run = services.run_backup(target=target, trigger="manual")
    assert run.status == RunStatus.FAILED
    assert "pg_dump" in run.error and "postgresql-client" in run.error


def test_a_source_outside_the_file_roots_fails_the_run_and_writes_nothing(
    make_target, settings, tmp_path
):
    target = make_target("file", source="/etc/hostname")
    run = services.run_backup(target=target, trigger="manual")
    assert run.status == RunStatus.FAILED
    assert "PORTAL_FILE_ROOTS" in run.error


def test_a_second_backup_of_a_busy_target_is_refused_with_a_conflict(make_target):
    import pytest

    from core.errors import DomainError

    target = make_target("sqlite")
    services.queue_backup(target=target, trigger="manual")
    with pytest.raises(DomainError) as caught:
        services.queue_backup(target=target, trigger="manual")
    assert caught.value.conflict


@pytest.fixture
def lax_umask():
    """The umask of a shell that never heard of keep_files_private()."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.parametrize(
    ("kind", "compress"),
    [("sqlite", False), ("sqlite", True), ("file", False), ("directory", True)],
)
def test_a_backup_file_is_readable_by_its_owner_only_whatever_the_umask(
    make_target, roots, lax_umask, kind, compress
):
    source = {"file": roots / "notes.txt", "directory": roots / "tree"}.get(kind)
    if kind == "file":
        source.write_text("secret notes")
    elif kind == "directory":
        source.mkdir()
        (source / "a.txt").write_text("a")
    target = make_target(kind, source=str(source) if source else None, compress=compress)
    run = services.run_backup(target=target, trigger="manual")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Path(run.file).stat().st_mode & 0o777 == 0o600
    assert Path(target.destination).stat().st_mode & 0o777 == 0o700


def test_the_demo_backups_run_in_the_data_dir_with_no_file_roots_named(db, settings, tmp_path):
    from backups import demo
    from backups.models import BackupTarget

    settings.DATA_DIR = tmp_path
    # The default: probes read nothing, backups still keep their copies in the data dir.
    settings.FILE_ROOTS = []
    demo.seed()
    for target in BackupTarget.objects.all():
        run = target.runs.get()
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert Path(run.file).parent == tmp_path / "backups"
