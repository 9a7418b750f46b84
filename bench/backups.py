"""Backup throughput of a ~1 GB SQLite file against `cp` + sync, and checksumming against
`sha256sum`.

Run with PORTAL_DATA_DIR pointing at an already-migrated scratch dir:
    PORTAL_DATA_DIR=/tmp/bench-data .venv/bin/python bench/backups.py [--size-mb 1024]
Prints one JSON list of rows; deletes its big files at the end.
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings

from backups import kinds, services
from backups.models import BackupTarget
from incidents.models import Service

BLOB = 64 * 1024


def build_database(path: Path, size_mb: int) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
    count = size_mb * 1024 * 1024 // BLOB
    con.execute(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) "
        "INSERT INTO blobs (data) SELECT randomblob(?) FROM n",
        (count, BLOB),
    )
    con.commit()
    con.close()


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def row(scenario, figure, baseline, ratio, budget, minimum):
    verdict = "-" if ratio is None else ("PASS" if ratio >= minimum else "MISS")
    return {
        "scenario": scenario,
        "figure": figure,
        "baseline": baseline,
        "ratio": None if ratio is None else round(ratio, 2),
        "budget": budget,
        "verdict": verdict,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    options = parser.parse_args()

    work = settings.DATA_DIR / f"bench-backups-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    settings.FILE_ROOTS = [work]
    source = work / "big.sqlite3"
    target = None
    try:
        build_database(source, options.size_mb)
        size_mb = source.stat().st_size / 1024 / 1024

        # Flush the freshly built file first, so neither measurement pays for writing it out.
        subprocess.run(["sync"], check=True)
        copy = work / "cp-copy.sqlite3"
        cp_seconds = timed(
            lambda: (
                subprocess.run(["cp", str(source), str(copy)], check=True),
                subprocess.run(["sync"], check=True),
            )
        )
        copy.unlink()

        service, _ = Service.objects.get_or_create(name="Bench backups")
        target = BackupTarget.objects.create(
            name=f"bench-{uuid.uuid4().hex[:6]}",
            service=service,
            kind="sqlite",
            source=str(source),
            destination=str(work / "out"),
            verify=False,
        )
        subprocess.run(["sync"], check=True)
        runs = []
        backup_seconds = timed(
            lambda: runs.append(services.run_backup(target=target, trigger="manual"))
        )
        run = runs[0]
        if run.status != "succeeded":
            raise SystemExit(f"backup failed: {run.error}")

        sha_seconds = timed(
            lambda: subprocess.run(["sha256sum", run.file], check=True, capture_output=True)
        )
        ours = []
        our_sha_seconds = timed(lambda: ours.append(kinds.sha256_of(Path(run.file))))
        assert ours[0][0] == run.sha256
        verify_seconds = timed(lambda: services.verify_backup(run=run))

        cp_rate, backup_rate = size_mb / cp_seconds, size_mb / backup_seconds
        sha_rate, our_sha_rate = size_mb / sha_seconds, size_mb / our_sha_seconds
        rows = [
            row(
                f"backup {size_mb:.0f} MB SQLite (run_backup: backup API + SHA-256 + fsync + "
                "rename)",
                f"{backup_rate:.0f} MB/s",
                f"cp+sync {cp_rate:.0f} MB/s",
                backup_rate / cp_rate,
                ">= 0.5 x cp",
                0.5,
            ),
            row(
                "checksum SHA-256 of the backup",
                f"{our_sha_rate:.0f} MB/s",
                f"sha256sum {sha_rate:.0f} MB/s",
                our_sha_rate / sha_rate,
                ">= 0.8 x sha256sum",
                0.8,
            ),
            row(
                "verify (checksum re-read + integrity_check)",
                f"{verify_seconds:.1f} s ({run.verification})",
                "-",
                None,
                "-",
                0,
            ),
        ]
        print(json.dumps(rows, indent=1))
    finally:
        if target is not None:
            target.runs.all().delete()
            target.delete()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
