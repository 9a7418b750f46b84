"""Off-site copy of a ~1 GB SQLite backup into a local restic repository: the portal's copy
(backups.services.copy_offsite) against `restic backup` of the same file run by hand and `cp` +
sync, then a second backup of the unchanged database to show restic's deduplication.

Run with PORTAL_DATA_DIR pointing at an already-migrated scratch dir:
    PORTAL_DATA_DIR=/tmp/bench-data .venv/bin/python bench/offsite.py [--size-mb 1024]
Prints one JSON list of rows; deletes its big files and repositories at the end.
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings

from backups import restic, services
from backups.models import BackupTarget, Repository
from bench.backups import build_database, row, timed
from incidents.models import Service

PASSWORD = secrets.token_urlsafe(24)  # a throwaway repository: nobody needs it again


def restic_by_hand(repository: Path, file: Path) -> float:
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repository),
        "RESTIC_PASSWORD": PASSWORD,
        "RESTIC_CACHE_DIR": str(repository.parent / "cache"),
    }
    subprocess.run(["restic", "init"], env=env, check=True, capture_output=True)
    subprocess.run(["sync"], check=True)
    return timed(
        lambda: subprocess.run(
            ["restic", "backup", "--host", "bench", str(file)],
            env=env,
            check=True,
            capture_output=True,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    options = parser.parse_args()

    work = settings.DATA_DIR / f"bench-offsite-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    settings.FILE_ROOTS = [work]
    source = work / "big.sqlite3"
    target = repository = None
    try:
        build_database(source, options.size_mb)
        service, _ = Service.objects.get_or_create(name="Bench off-site")
        target = BackupTarget.objects.create(
            name=f"bench-{uuid.uuid4().hex[:6]}",
            service=service,
            kind="sqlite",
            source=str(source),
            destination=str(work / "out"),
            verify=False,
        )
        local = services.run_backup(target=target, trigger="manual")
        if local.status != "succeeded":
            raise SystemExit(f"backup failed: {local.error}")
        file = Path(local.file)
        size_mb = file.stat().st_size / 1024 / 1024

        subprocess.run(["sync"], check=True)
        copy = work / "cp-copy.sqlite3"
        cp_seconds = timed(
            lambda: (
                subprocess.run(["cp", str(file), str(copy)], check=True),
                subprocess.run(["sync"], check=True),
            )
        )
        copy.unlink()
        hand_seconds = restic_by_hand(work / "restic-by-hand", file)
        # The wrapper's `restic backup --json` alone (no unlock, forget --prune or database writes).
        bare = restic.Repo(url=str(work / "restic-wrapper"), password=PASSWORD)
        restic.init(bare)
        subprocess.run(["sync"], check=True)
        wrapper_seconds = timed(lambda: restic.backup(bare, file, tags=["bench"], host="bench"))

        repository = Repository.objects.create(
            name=f"bench-{uuid.uuid4().hex[:6]}", url=str(work / "restic-portal"), password=PASSWORD
        )
        services.init_repository(repository=repository)
        target.repository = repository
        target.save(update_fields=["repository"])
        local = type(local).objects.select_related("target__repository").get(pk=local.pk)
        subprocess.run(["sync"], check=True)
        first_seconds = timed(lambda: services.copy_offsite(run=local))
        local.refresh_from_db()
        if local.offsite_status != "succeeded":
            raise SystemExit(f"copy failed: {local.offsite_error}")
        # The next night, nothing changed: a new backup file with the same content.
        second = services.run_backup(target=target, trigger="manual")
        if second.offsite_status != "succeeded":
            raise SystemExit(f"second copy failed: {second.offsite_error}")
        second_seconds = second.offsite_duration.total_seconds()

        cp_rate, hand_rate = size_mb / cp_seconds, size_mb / hand_seconds
        first_rate, second_rate = size_mb / first_seconds, size_mb / second_seconds
        wrapper_rate = size_mb / wrapper_seconds
        rows = [
            row(
                f"off-site copy {size_mb:.0f} MB SQLite backup, local restic repository "
                "(copy_offsite)",
                f"{first_rate:.0f} MB/s, {local.offsite_bytes_added / 1e6:.0f} MB added",
                f"restic by hand {hand_rate:.0f} MB/s; cp+sync {cp_rate:.0f} MB/s",
                first_rate / hand_rate,
                ">= 0.8 x restic by hand",
                0.8,
            ),
            row(
                "restic backup --json through backups.restic alone",
                f"{wrapper_rate:.0f} MB/s",
                f"restic by hand {hand_rate:.0f} MB/s",
                wrapper_rate / hand_rate,
                ">= 0.8 x restic by hand",
                0.8,
            ),
            row(
                "second off-site copy, unchanged data (deduplicated)",
                f"{second_rate:.0f} MB/s, {second.offsite_bytes_added / 1e6:.2f} MB added",
                f"first copy {local.offsite_bytes_added / 1e6:.0f} MB added",
                None
                if not local.offsite_bytes_added
                else 1 - second.offsite_bytes_added / local.offsite_bytes_added,
                ">= 0.99 not re-sent",
                0.99,
            ),
        ]
        print(json.dumps(rows, indent=1))
    finally:
        if target is not None:
            target.runs.all().delete()
            target.delete()
        if repository is not None:
            repository.delete()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
