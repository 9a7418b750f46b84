"""The data dir fills up during a backup: a real (small) filesystem, the real backup command, a
real web server."""

import hashlib
import json
import shutil
import subprocess
import urllib.request

import pytest

from tests.faults.conftest import free_port, wait_for

pytestmark = pytest.mark.slow

LEAVE_FREE = 512 * 1024  # less than the portal database, so its backup cannot fit

RUNS = """
    import json
    from backups.models import BackupRun
    print(json.dumps([{"status": r.status, "file": r.file, "sha256": r.sha256, "error": r.error}
                      for r in BackupRun.objects.order_by("pk")]))
"""


@pytest.fixture
def small_data_dir(make_portal, own_sqlite):
    """A portal whose data dir (database, backups, everything) is a 64 MB filesystem of its own."""
    probe = make_portal(database_url="sqlite:///unused")
    data_dir = probe.data_dir
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(data_dir)], check=True)
    try:
        shutil.copyfile(own_sqlite, data_dir / "portal.sqlite3")
        portal = make_portal(database_url=f"sqlite:///{data_dir / 'portal.sqlite3'}")
        portal.data_dir = data_dir
        portal.env["PORTAL_DATA_DIR"] = str(data_dir)
        portal.env["PORTAL_FILE_ROOTS"] = str(data_dir)  # the backups go into it
        yield portal
        portal.stop_all()
    finally:
        subprocess.run(["umount", "--lazy", str(data_dir)], check=True)


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_a_backup_that_fills_the_disk_fails_clearly_and_keeps_the_previous_one(small_data_dir):
    portal = small_data_dir
    assert portal.python(f"""
        import json
        from backups.models import BackupTarget
        from incidents.models import Service
        BackupTarget.objects.create(name="portal", kind="portal_db",
                                    destination="{portal.data_dir / "backups"}",
                                    service=Service.objects.create(name="portal"))
        print(json.dumps(True))
    """)
    portal.manage("backup", "run", "portal")
    [good] = portal.python(RUNS)
    assert good["status"] == "succeeded", good
    good_sha = sha256(good["file"])
    assert good_sha == good["sha256"]

    portal.manage("collectstatic", "--noinput", "-v0")  # as `make run` does at start
    free = shutil.disk_usage(portal.data_dir).free
    with open(portal.data_dir / "filler", "wb") as fh:
        fh.write(b"\0" * (free - LEAVE_FREE))

    failed_run = portal.manage("backup", "run", "portal", check=False)
    assert failed_run.returncode == 1, failed_run.stdout + failed_run.stderr
    assert "Traceback" not in failed_run.stderr
    good_again, failed = portal.python(RUNS)
    assert failed["status"] == "failed"
    assert "disk is full" in failed["error"], failed
    assert "partial file was removed" in failed["error"]
    # Nothing half-written is left, and the earlier backup is untouched.
    assert sorted(p.name for p in (portal.data_dir / "backups").iterdir()) == [
        good["file"].rsplit("/", 1)[1]
    ]
    assert good_again == good
    assert sha256(good["file"]) == good_sha
    incidents = portal.python("""
        import json
        from incidents.models import Incident
        print(json.dumps([i.title for i in Incident.objects.all()]))
    """)
    assert incidents == ["Backup of portal failed"]

    # With the disk still all but full, the portal answers: pages, and health saying what is wrong.
    port = free_port()
    web = portal.web(port)

    def health():
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/health", timeout=5
            ) as response:
                return response.status, json.load(response)
        except OSError:
            return None

    status, body = wait_for(health, timeout=60, what="the web server answers /api/health")
    assert web.poll() is None, portal.log_tail("web")
    assert status == 200
    assert body["status"] == "degraded" and body["database"] == "ok", body
    assert body["disk_free_gb"] < 0.01
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/account/login/", timeout=5) as response:
        assert response.status == 200
