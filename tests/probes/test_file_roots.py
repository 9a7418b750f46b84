"""File-reading probes (file, sqlite, log_errors) read only under PORTAL_FILE_ROOTS, never the
portal's own files."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backups.models import BackupTarget
from probes.kinds import Limits, LogErrorsSettings, check_file, check_log_errors, check_sqlite
from probes.models import Kind, Probe
from tests.incidents.factories import make_service

validate_log_errors = LogErrorsSettings.clean_config

API = "/api/v1"
ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(1, None, None)
SECRET = "django-insecure-planted-secret-key-0123456789"


@pytest.fixture
def portal_dir(settings, tmp_path):
    """A data dir holding a secret_key, inside the one named root: the shape of today's default."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text(f"ERROR {SECRET}\n")
    settings.DATA_DIR = data
    settings.FILE_ROOTS = [tmp_path]
    return data


def create(api, path, kind=Kind.LOG_ERRORS):
    body = {
        "service": make_service().pk,
        "name": "leak",
        "kind": kind,
        "config": {"path": str(path)},
    }
    return api.post(f"{API}/probes", body, format="json")


def test_the_default_file_roots_are_empty(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))}
    environ["PORTAL_DATA_DIR"] = str(tmp_path)
    code = (
        "import django; django.setup(); "
        "from django.conf import settings; print(settings.FILE_ROOTS)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, "DJANGO_SETTINGS_MODULE": "portal.settings"},
    )
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("name", ["secret_key", "portal.sqlite3", "."])
def test_a_probe_on_the_data_dir_is_refused_even_under_a_root(api_as, portal_dir, name):
    response = create(api_as("manager"), portal_dir / name)
    assert response.status_code == 400
    assert "belongs to the portal itself" in response.json()["config"]["path"][0]
    assert not Probe.objects.exists()


def test_a_saved_probe_on_secret_key_is_refused_when_it_runs_and_echoes_nothing(db, portal_dir):
    result = check_log_errors(
        {"path": str(portal_dir / "secret_key"), "pattern": "ERROR", "tail_kib": 64}, LIMITS
    )
    assert result.status == "error"
    assert SECRET not in result.message
    assert result.value is None  # no match count either: it is an oracle for the file's content


@pytest.mark.parametrize("check", [check_file, check_sqlite])
def test_the_other_file_kinds_refuse_the_data_dir_when_they_run(db, portal_dir, check):
    assert check({"path": str(portal_dir / "secret_key")}, LIMITS).status == "error"


def test_the_project_tree_is_refused_even_under_a_root(api_as, settings):
    settings.FILE_ROOTS = [Path("/")]
    response = create(api_as("manager"), settings.BASE_DIR / "portal" / "settings.py")
    assert response.status_code == 400
    assert check_file({"path": str(settings.BASE_DIR / "manage.py")}, LIMITS).status == "error"


def test_a_backup_destination_is_refused_even_under_a_root(api_as, settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    (tmp_path / "backups").mkdir()
    BackupTarget.objects.create(
        name="db", kind="portal_db", destination=str(tmp_path / "backups"), service=make_service()
    )
    response = create(
        api_as("manager"), tmp_path / "backups" / "portal-2026.sqlite3", kind=Kind.SQLITE
    )
    assert response.status_code == 400
    assert "belongs to the portal itself" in response.json()["config"]["path"][0]


def test_a_path_outside_the_roots_is_refused(api_as, settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path / "logs"]
    response = create(api_as("manager"), "/etc/hostname")
    assert response.status_code == 400
    assert "outside the folders" in response.json()["config"]["path"][0]
    assert check_file({"path": "/etc/hostname"}, LIMITS).status == "error"


def test_with_no_roots_set_no_file_can_be_probed(api_as, settings, tmp_path):
    settings.FILE_ROOTS = []
    (tmp_path / "app.log").write_text("ERROR x\n")
    assert create(api_as("manager"), tmp_path / "app.log").status_code == 400


def test_a_log_inside_a_named_root_is_read_and_its_line_shown_bounded_and_redacted(
    api_as, settings, tmp_path
):
    logs = tmp_path / "logs"
    logs.mkdir()
    settings.FILE_ROOTS = [logs]
    log = logs / "app.log"
    log.write_text(
        "INFO fine\nERROR login failed for db_password=hunter2-in-the-log " + "x" * 1000 + "\n"
    )
    assert create(api_as("manager"), log).status_code == 201
    result = check_log_errors(validate_log_errors({"path": str(log)}), LIMITS)
    assert result.value == 1
    assert "ERROR login failed for db_password=" in result.message
    assert "hunter2-in-the-log" not in result.message
    assert len(result.message) < 260


def test_a_symlink_from_a_root_into_the_data_dir_is_refused(api_as, portal_dir, settings, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    settings.FILE_ROOTS = [logs, portal_dir]  # even a data dir named as a root stays refused
    (logs / "app.log").symlink_to(portal_dir / "secret_key")
    assert create(api_as("manager"), logs / "app.log").status_code == 400
    assert check_log_errors({"path": str(logs / "app.log")}, LIMITS).status == "error"


def test_a_symlink_from_a_root_to_outside_every_root_is_refused(db, settings, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    settings.FILE_ROOTS = [logs]
    (logs / "passwd.log").symlink_to("/etc/passwd")
    assert check_log_errors({"path": str(logs / "passwd.log")}, LIMITS).status == "error"
