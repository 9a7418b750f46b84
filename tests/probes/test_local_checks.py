"""Kinds that look at this machine: psutil figures, files, SQLite, logs, processes, TCP."""

import os
import shutil
import socket
import sqlite3
import time

import psutil
import pytest

from probes.kinds import (
    FileSettings,
    Limits,
    LogErrorsSettings,
    SqliteSettings,
    check_cpu,
    check_disk,
    check_file,
    check_log_errors,
    check_memory,
    check_process,
    check_sqlite,
    check_tcp,
    limits_for,
)
from probes.models import Kind

validate_file = FileSettings.clean_config
validate_log_errors = LogErrorsSettings.clean_config
validate_sqlite = SqliteSettings.clean_config


@pytest.mark.parametrize(
    ("used", "expected"), [(79.9, "ok"), (80, "warning"), (89.9, "warning"), (90, "critical")]
)
def test_memory_uses_the_default_80_and_90_percent_boundaries(used, expected):
    result = check_memory({}, limits_for(Kind.MEMORY, None, None, 1), measure=lambda: used)
    assert (result.status, result.value) == (expected, used)


@pytest.mark.parametrize(("used", "expected"), [(79.9, "ok"), (80, "warning"), (90, "critical")])
def test_disk_uses_the_default_80_and_90_percent_boundaries(used, expected):
    result = check_disk(
        {"path": "/"}, limits_for(Kind.DISK, None, None, 1), measure=lambda path: (used, 100.0)
    )
    assert result.status == expected


@pytest.mark.parametrize(
    ("free", "expected"), [(10.5, "ok"), (10, "warning"), (5.1, "warning"), (5, "critical")]
)
def test_disk_measured_in_free_gb_is_worse_when_lower_with_10_and_5_gb_defaults(free, expected):
    config = {"path": "/", "measure": "free_gb"}
    result = check_disk(
        config, limits_for(Kind.DISK, None, None, 1, config), measure=lambda path: (99.0, free)
    )
    assert (result.status, result.value) == (expected, free)


@pytest.mark.parametrize(("used", "expected"), [(69.9, "ok"), (70, "warning"), (85, "critical")])
def test_cpu_uses_the_default_70_and_85_percent_boundaries(used, expected):
    previous = {"at": time.time() - 60, "busy": 0.0, "total": 100.0}
    result = check_cpu(
        {}, limits_for(Kind.CPU, None, None, 1), previous=previous, counters=lambda: (used, 200.0)
    )
    assert (result.status, result.value) == (expected, used)


def test_a_probes_own_thresholds_replace_the_defaults():
    limits = limits_for(Kind.MEMORY, 50, 60, 1)
    assert check_memory({}, limits, measure=lambda: 55).status == "warning"


def test_the_real_psutil_figures_are_percentages():
    limits = Limits(timeout=0.1, warning=None, critical=None)
    for result in (
        check_memory({}, limits),
        check_disk({"path": "/"}, limits),
        check_cpu({}, limits),
    ):
        assert result.status == "ok"
        assert 0 <= result.value <= 100


def test_a_missing_file_is_critical(file_root):
    config = validate_file({"path": str(file_root / "missing.db")})
    assert check_file(config, Limits(1, None, None)).status == "critical"


def test_a_file_smaller_than_its_minimum_is_critical(file_root):
    path = file_root / "model.bin"
    path.write_bytes(b"1234")
    config = validate_file({"path": str(path), "min_size_bytes": 10})
    result = check_file(config, Limits(1, None, None))
    assert result.status == "critical"
    assert "expected at least 10" in result.message


def test_a_file_older_than_its_thresholds_warns_then_turns_critical(file_root):
    path = file_root / "app.log"
    path.write_text("x")
    config = validate_file({"path": str(path)})
    limits = Limits(1, warning=60, critical=24 * 60)
    mtime = path.stat().st_mtime
    assert check_file(config, limits, now=mtime + 30 * 60).status == "ok"
    assert check_file(config, limits, now=mtime + 61 * 60).status == "warning"
    assert check_file(config, limits, now=mtime + 25 * 3600).status == "critical"


def make_database(path, rows=5000):
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    connection.execute("CREATE INDEX t_v ON t (v)")
    connection.executemany(
        "INSERT INTO t (v) VALUES (?)", [(f"value-{i}" * 5,) for i in range(rows)]
    )
    connection.commit()
    connection.close()


@pytest.mark.parametrize("pragma", ["quick_check", "integrity_check"])
def test_a_sound_sqlite_database_passes_its_check(file_root, pragma):
    path = file_root / "portal.sqlite3"
    make_database(path)
    result = check_sqlite(
        validate_sqlite({"path": str(path), "check": pragma}),
        limits_for(Kind.SQLITE, None, None, 2),
    )
    assert result.status == "ok"
    assert f"{pragma} ok" in result.message
    assert result.value == 0.0


def test_a_corrupted_sqlite_copy_is_critical_and_the_original_is_untouched(file_root):
    original, copy = file_root / "portal.sqlite3", file_root / "copy.sqlite3"
    make_database(original)
    shutil.copy(original, copy)
    with open(copy, "r+b") as handle:
        handle.seek(4096 * 3)
        handle.write(b"\xde\xad\xbe\xef" * 2048)
    before = original.read_bytes()
    result = check_sqlite(
        validate_sqlite({"path": str(copy)}), limits_for(Kind.SQLITE, None, None, 2)
    )
    assert result.status == "critical"
    assert "Page" in result.message or "malformed" in result.message
    assert original.read_bytes() == before


def test_a_large_wal_file_is_graded_by_its_size(file_root):
    path = file_root / "busy.sqlite3"
    make_database(path, rows=10)
    (file_root / "busy.sqlite3-wal").write_bytes(b"\0" * (2 * 2**20))
    result = check_sqlite(validate_sqlite({"path": str(path)}), Limits(2, warning=1, critical=64))
    assert (result.status, result.value) == ("warning", 2.0)


def test_the_sqlite_check_opens_the_database_read_only(file_root):
    path = file_root / "portal.sqlite3"
    make_database(path, rows=10)
    mtime = path.stat().st_mtime_ns
    check_sqlite(validate_sqlite({"path": str(path)}), Limits(2, None, None))
    assert path.stat().st_mtime_ns == mtime
    assert not (file_root / "portal.sqlite3-journal").exists()


def write_log(path, early_errors=5, late_errors=3, filler=2000):
    lines = [f"2026-03-03 01:00:{i % 60:02d} ERROR old failure {i}" for i in range(early_errors)]
    lines += [f"2026-03-03 02:00:00 INFO request {i} served" for i in range(filler)]
    lines += [f"2026-03-03 03:00:0{i} ERROR model file missing {i}" for i in range(late_errors)]
    path.write_text("\n".join(lines) + "\n")


def test_errors_in_the_tail_of_a_log_are_counted_and_the_last_one_shown(file_root):
    path = file_root / "api.log"
    write_log(path)
    config = validate_log_errors({"path": str(path), "tail_kib": 4})
    result = check_log_errors(config, limits_for(Kind.LOG_ERRORS, None, None, 1))
    assert (result.status, result.value) == ("warning", 3)
    assert "model file missing 2" in result.message


def test_reading_the_whole_log_counts_the_older_errors_too(file_root):
    path = file_root / "api.log"
    write_log(path)
    config = validate_log_errors({"path": str(path), "tail_kib": 1024})
    result = check_log_errors(config, Limits(1, warning=1, critical=8))
    assert (result.status, result.value) == ("critical", 8)


def test_a_clean_log_is_ok_and_a_custom_pattern_is_used(file_root):
    path = file_root / "api.log"
    write_log(path, early_errors=0, late_errors=0, filler=10)
    assert (
        check_log_errors(validate_log_errors({"path": str(path)}), Limits(1, 1, 10)).status == "ok"
    )
    config = validate_log_errors({"path": str(path), "pattern": r"request \d+ served"})
    assert check_log_errors(config, Limits(1, 1, 100)).value == 10


def test_a_running_process_is_found_by_name_and_a_missing_one_is_critical():
    me = psutil.Process(os.getpid()).name()
    assert check_process({"name": me}, Limits(1, None, None)).status == "ok"
    assert check_process({"name": "no-such-daemon-xyz"}, Limits(1, None, None)).status == "critical"


def test_an_open_tcp_port_is_ok_and_a_refused_one_critical(refused_port):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert (
            check_tcp(
                {"host": "127.0.0.1", "port": port}, limits_for(Kind.TCP, None, None, 1)
            ).status
            == "ok"
        )
    started = time.monotonic()
    result = check_tcp(
        {"host": "127.0.0.1", "port": refused_port}, limits_for(Kind.TCP, None, None, 1)
    )
    assert result.status == "critical"
    assert time.monotonic() - started < 1
