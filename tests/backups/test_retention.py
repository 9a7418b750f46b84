from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from backups import services
from backups.models import BackupRun, RunStatus, Verification
from core.errors import DomainError

START = datetime(2026, 3, 1, 2, 0, tzinfo=ZoneInfo("UTC"))


def make_backups(
    target, count, *, every=timedelta(hours=8), verification=Verification.PASSED, start=START
):
    runs = []
    Path(target.destination).mkdir(parents=True, exist_ok=True)
    for n in range(count):
        at = start + n * every
        path = Path(target.destination) / f"{target.name}_{at:%Y%m%d_%H%M%S}.bak"
        path.write_bytes(b"x")
        runs.append(
            BackupRun.objects.create(
                target=target,
                trigger="schedule",
                status=RunStatus.SUCCEEDED,
                started_at=at,
                finished_at=at,
                file=str(path),
                size=1,
                sha256="0",
                verification=verification,
            )
        )
    return runs


def kept(target):
    return set(BackupRun.objects.filter(target=target, pruned_at=None).values_list("pk", flat=True))


def test_keep_last_3_with_10_backups_keeps_the_3_newest_and_deletes_the_files(make_target):
    target = make_target("file", source="/dev/null", keep_last=3)
    runs = make_backups(target, 10)
    services.apply_retention(target=target)
    assert kept(target) == {r.pk for r in runs[-3:]}
    assert sorted(p.name for p in Path(target.destination).iterdir()) == sorted(
        Path(r.file).name for r in runs[-3:]
    )


def test_keep_daily_7_and_keep_last_2_keep_the_union_of_both_rules(make_target):
    target = make_target("file", source="/dev/null", keep_last=2, keep_daily=7)
    runs = make_backups(target, 30)  # three a day for ten days
    services.apply_retention(target=target)
    newest_of_each_day = {runs[n].pk for n in range(29, 29 - 7 * 3, -3)}
    assert kept(target) == newest_of_each_day | {runs[-1].pk, runs[-2].pk}
    assert len(kept(target)) == 8


def test_the_newest_verified_backup_survives_even_when_newer_unverified_ones_exist(make_target):
    target = make_target("file", source="/dev/null", keep_last=2)
    good = make_backups(target, 1)[0]
    make_backups(target, 4, verification=Verification.FAILED, start=START + timedelta(days=1))
    BackupRun.objects.create(
        target=target,
        trigger="schedule",
        status=RunStatus.FAILED,
        error="boom",
        started_at=START + timedelta(days=3),
    )
    services.apply_retention(target=target)
    assert good.pk in kept(target)
    assert Path(good.file).exists()


def test_the_dry_run_lists_what_would_go_and_deletes_nothing(make_target):
    target = make_target("file", source="/dev/null", keep_last=3)
    runs = make_backups(target, 10)
    would_go = services.apply_retention(target=target, dry_run=True)
    assert {r.pk for r in would_go} == {r.pk for r in runs[:7]}
    assert kept(target) == {r.pk for r in runs}
    assert len(list(Path(target.destination).iterdir())) == 10


def test_an_empty_policy_is_refused(make_target):
    target = make_target("file", source="/dev/null")
    target.keep_last = 0
    with pytest.raises(DomainError):
        services.apply_retention(target=target)


def test_retention_runs_after_a_verified_backup(make_target, roots):
    source = roots / "data.bin"
    source.write_bytes(b"data")
    target = make_target("file", source=str(source), keep_last=1)
    old = make_backups(target, 2)
    run = services.run_backup(target=target, trigger="manual")
    assert run.verification == Verification.PASSED
    assert kept(target) == {run.pk}
    assert all(not Path(r.file).exists() for r in old)
