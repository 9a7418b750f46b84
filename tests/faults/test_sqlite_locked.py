"""Another process holds the SQLite database's write lock for seconds while a real cluster runs
probes."""

import itertools
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import pytest

from tests.faults.conftest import wait_for

pytestmark = pytest.mark.slow

INTERVAL = 10
PROBES = 20
LOCK_SECONDS = 8

SETUP = """
    import json
    from django.utils import timezone
    from incidents.models import Service
    from probes.models import Probe
    service = Service.objects.create(name="files")
    for n in range({probes}):
        Probe.objects.create(service=service, name=f"file {{n}}", kind="file", interval={interval},
                             timeout=2, config={{"path": "{path}"}}, next_run_at=timezone.now())
    # Start a tick now rather than at the scheduler's next wake-up (up to 30 s away).
    from django_q.tasks import async_task
    async_task("probes.tasks.tick")
    print(json.dumps(Probe.objects.count()))
"""

# Takes the write lock the way another writer would (BEGIN EXCLUSIVE), says so, holds it, lets go.
LOCKER = textwrap.dedent("""
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    con.execute("UPDATE django_q_schedule SET repeats = repeats")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.execute("COMMIT")
    print("released", flush=True)
""")


def results(db) -> dict[int, list[float]]:
    """Each probe's result times (epoch seconds), oldest first, read without taking the write
    lock."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute(
            "SELECT probe_id, at FROM probes_proberesult ORDER BY probe_id, at"
        ).fetchall()
    finally:
        con.close()
    out: dict[int, list[float]] = {}
    for probe, at in rows:
        out.setdefault(probe, []).append(datetime.fromisoformat(at).replace(tzinfo=UTC).timestamp())
    return out


def test_probe_results_written_while_another_process_holds_the_lock_are_all_kept(
    make_portal, own_sqlite
):
    db = own_sqlite
    portal = make_portal(database_url=f"sqlite:///{db}")
    watched = portal.files / "watched.txt"  # the data dir is never probed
    watched.write_text("alive\n")
    assert portal.python(SETUP.format(probes=PROBES, interval=INTERVAL, path=watched)) == PROBES
    cluster = portal.qcluster()

    wait_for(lambda: len(results(db)) == PROBES, timeout=90, what="every probe has a first result")
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db), str(LOCK_SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout.readline().strip() == "locked"
    locked_at = time.time()
    assert locker.stdout.readline().strip() == "released"
    locker.wait()
    locker.stdout.close()
    # Two more rounds after the lock, so every probe shows it carried on.
    wait_for(
        lambda: all(
            sum(at > locked_at + LOCK_SECONDS for at in ats) >= 2 for ats in results(db).values()
        ),
        timeout=90,
        what="every probe ran twice after the lock was released",
    )

    assert cluster.poll() is None, portal.log_tail("workers")
    by_probe = results(db)
    for probe, ats in by_probe.items():
        gaps = [b - a for a, b in itertools.pairwise(ats)]
        # The lock delays a round by at most its length; no round is lost and none runs twice.
        assert max(gaps) <= INTERVAL + LOCK_SECONDS + 6, (probe, gaps)
        assert min(gaps) >= INTERVAL - 1, (probe, gaps)
    failed = portal.python("""
        import json
        from django_q.models import Task
        failed = Task.objects.filter(success=False)
        print(json.dumps([[t.func, str(t.result)[:300]] for t in failed]))
    """)
    assert failed == []
    assert "database is locked" not in portal.log_tail("workers", 400)
