"""kill -9 in the middle of an off-site copy: the local backup stays, no half snapshot is listed,
the sweep fails the copy and the next run's copy succeeds."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from backups import restic, services
from backups.models import BackupTarget, OffsiteStatus, Repository, Trigger

REPO = Path(settings.BASE_DIR)

# Copies one file through the portal's restic wrapper and stops at the first progress report
# with bytes sent, until killed; the upload limit keeps restic busy for many seconds meanwhile.
COPIER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    django.setup()
    from backups import restic
    def progress(done):
        if done > 0:
            print(done, flush=True)
            sys.stdin.readline()
    repo = restic.Repo(url=sys.argv[2], password=os.environ["COPY_PASSWORD"], upload_limit_kib=256)
    restic.backup(repo, Path(sys.argv[3]), tags=sys.argv[4:], host="portal", progress=progress)
""")


@pytest.mark.slow
def test_a_copy_killed_mid_way_leaves_the_local_backup_and_no_snapshot_and_the_next_copy_succeeds(
    local_repository, make_target, roots
):
    source = roots / "payload.bin"
    source.write_bytes(os.urandom(12 * 1024 * 1024))
    target = make_target("file", source=str(source))
    run = services.run_backup(target=target, trigger=Trigger.SCHEDULE)
    assert run.offsite_status == OffsiteStatus.NONE
    BackupTarget.objects.filter(pk=target.pk).update(repository=local_repository)

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            COPIER,
            str(REPO),
            local_repository.url,
            run.file,
            f"target:{target.name}",
            f"run:{run.pk}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={
            **os.environ,
            "PORTAL_DATA_DIR": str(settings.DATA_DIR),
            "COPY_PASSWORD": local_repository.password,
        },
    )
    assert int(child.stdout.readline()) > 0
    type(run).objects.filter(pk=run.pk).update(
        offsite_status=OffsiteStatus.RUNNING,
        repository=local_repository,
        worker_pid=child.pid,
        worker_host=socket.gethostname(),
    )

    os.killpg(child.pid, signal.SIGKILL)  # the worker and its restic
    child.wait()
    child.stdout.close()
    child.stdin.close()

    repo = Repository.objects.get(pk=local_repository.pk).as_restic()
    assert restic.snapshots(repo) == []
    assert Path(run.file).is_file()
    assert services.sweep_stale(now=timezone.now()) == [run]
    run.refresh_from_db()
    assert run.offsite_status == OffsiteStatus.FAILED
    assert "local backup is kept" in run.offsite_error

    target.refresh_from_db()
    following = services.run_backup(target=target, trigger=Trigger.SCHEDULE)
    assert following.offsite_status == OffsiteStatus.SUCCEEDED, following.offsite_error
    listed = restic.snapshots(repo)
    assert [s["short_id"] for s in listed] == [following.snapshot_id]
    assert f"run:{following.pk}" in listed[0]["tags"]
    assert services.check_repository(repository=local_repository, subset="100%").last_check_passed
    assert Path(run.file).is_file()
