"""Files the portal creates are its user's alone: data dir 0700; database, WAL, secret key,
backups 0600."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from portal.management.commands.serve import tighten_modes

ROOT = Path(__file__).resolve().parents[2]

# Creates the database, writes through its WAL and reports the modes while the -wal and -shm exist.
REPORT_MODES = """
import json, sys
from pathlib import Path
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE t (x)")
    cursor.execute("INSERT INTO t VALUES (1)")
data = Path(settings.DATA_DIR)
db = Path(settings.DATABASES["default"]["NAME"])
paths = [data, data / "secret_key", db, Path(f"{db}-wal"), Path(f"{db}-shm")]
sys.stdout.write(json.dumps({p.name: oct(p.stat().st_mode & 0o777) for p in paths}))
"""


def portal_env(data_dir: Path) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))}
    return {**environ, "PORTAL_DATA_DIR": str(data_dir)}


def lax_umask():
    os.umask(0o022)


def test_a_new_data_dir_database_wal_and_secret_key_are_private_under_a_lax_umask(tmp_path):
    data_dir = tmp_path / "fresh" / "data"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", REPORT_MODES],
        cwd=ROOT,
        env=portal_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lax_umask,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "data": "0o700",
        "secret_key": "0o600",
        "portal.sqlite3": "0o600",
        "portal.sqlite3-wal": "0o600",
        "portal.sqlite3-shm": "0o600",
    }


def test_the_web_server_entry_points_set_a_private_umask_before_settings_are_read(tmp_path):
    for module in ("portal.wsgi", "portal.asgi"):
        script = f"import os, sys, {module}; sys.stdout.write(oct(os.umask(0)))"
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=portal_env(tmp_path / module),
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=lax_umask,
            check=True,
        )
        assert done.stdout.strip() == "0o77", module


def test_serve_takes_group_and_other_access_from_an_old_data_dir_and_database(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    for name in ("secret_key", "portal.sqlite3", "portal.sqlite3-wal"):
        (data_dir / name).write_text("x")
        (data_dir / name).chmod(0o644)
    elsewhere = tmp_path / "db" / "other.sqlite3"
    elsewhere.parent.mkdir()
    elsewhere.write_text("x")
    elsewhere.chmod(0o664)

    tighten_modes(data_dir, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(elsewhere)})

    assert data_dir.stat().st_mode & 0o777 == 0o700
    for path in (*data_dir.iterdir(), elsewhere):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_serve_leaves_an_already_private_data_dir_as_it_is(tmp_path):
    (tmp_path / "secret_key").write_text("x")
    (tmp_path / "secret_key").chmod(0o400)
    tmp_path.chmod(0o700)
    assert tighten_modes(tmp_path, settings.DATABASES["default"] | {"ENGINE": "x"}) == []
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o400
