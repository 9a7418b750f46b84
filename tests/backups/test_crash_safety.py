import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from backups import services
from backups.models import BackupRun, RunStatus, Verification

REPO = Path(settings.BASE_DIR)

# Writes a file backup through the real kind function and stops after the first chunk until
# told to go on, so the test kills it at a known point in the middle of the write.
WRITER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from types import SimpleNamespace
    sys.path.insert(0, sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    django.setup()
    from backups import kinds
    def progress(done):
        print(done, flush=True)
        sys.stdin.readline()
    source = SimpleNamespace(source=sys.argv[2], compress=False)
    kinds.backup_file(source, Path(sys.argv[3]), progress)
""")


def test_a_worker_killed_mid_backup_leaves_no_backup_named_file_and_the_sweep_fails_its_run(
    make_target, roots
):
    source = roots / "large.bin"
    with open(source, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)
    target = make_target("file", source=str(source))
    destination = services.check_paths(target)
    final = services._final_path(target, destination, timezone.now())
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(REPO), str(source), str(services.partial_path(final))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
            "PORTAL_DATA_DIR": str(settings.DATA_DIR),
        },
    )
    assert int(child.stdout.readline()) > 0
    run = BackupRun.objects.create(
        target=target,
        trigger="schedule",
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        worker_pid=child.pid,
        worker_host=socket.gethostname(),
        file=str(final),
    )
    assert services.partial_path(final).stat().st_size > 0

    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    child.stdin.close()

    assert not final.exists()
    services.sweep_stale(now=timezone.now())
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert f"process {child.pid}" in run.error and "stopped" in run.error
    assert list(destination.iterdir()) == []


def test_a_run_silent_for_longer_than_the_stale_limit_is_failed_by_the_sweep(make_target):
    target = make_target("file", source="/dev/null")
    now = timezone.now()
    run = BackupRun.objects.create(
        target=target,
        trigger="schedule",
        status=RunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now - services.STALE_AFTER * 2,
        worker_pid=1,
        worker_host="elsewhere",
    )
    fresh_target = make_target("file", source="/dev/null")
    fresh = BackupRun.objects.create(
        target=fresh_target,
        trigger="schedule",
        status=RunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker_pid=1,
        worker_host="elsewhere",
    )
    assert services.sweep_stale(now=now) == [run]
    fresh.refresh_from_db()
    assert fresh.status == RunStatus.RUNNING


# Inserts rows 1, 2, 3, … one per transaction, forever; prints once it has written the first batch.
INSERTER = textwrap.dedent("""
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
    n = 0
    while True:
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO seq (id, blob) VALUES (NULL, randomblob(2000))")
        con.execute("COMMIT")
        n += 1
        if n == 200:
            print("going", flush=True)
""")


def test_a_sqlite_database_written_to_continuously_is_copied_consistently(make_target, roots):
    source = roots / "busy.sqlite3"
    con = sqlite3.connect(source)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE seq (id INTEGER PRIMARY KEY, blob BLOB)")
    con.execute("CREATE TABLE padding (data BLOB)")
    with con:
        # ~50 MB: several steps
        con.executemany("INSERT INTO padding VALUES (randomblob(65536))", [()] * 800)
    con.close()
    writer = subprocess.Popen(
        [sys.executable, "-c", INSERTER, str(source)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "going"
        run = services.run_backup(
            target=make_target("sqlite", source=str(source)), trigger="manual"
        )
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.verification == Verification.PASSED, run.verification_detail
    copy = sqlite3.connect(run.file)
    count, highest = copy.execute("SELECT count(*), max(id) FROM seq").fetchone()
    copy.close()
    assert count >= 200
    assert highest == count  # rows 1..N with no gap: a prefix of the writes
