import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import env

ROOT = Path(__file__).resolve().parents[2]


def run_check(tmp_path, **variables):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))}
    environ.update({"PORTAL_DATA_DIR": str(tmp_path), **variables})
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"PORTAL_DEBUG": "maybe"}, "PORTAL_DEBUG"),
        ({"PORTAL_DATABASE_URL": "postgres://u:p@host:notaport/db"}, "PORTAL_DATABASE_URL"),
        ({"PORTAL_DATABASE_URL": "mysql://localhost/db"}, "PORTAL_DATABASE_URL"),
        ({"PORTAL_REDIS_URL": "localhost:6379"}, "PORTAL_REDIS_URL"),
        ({"PORTAL_PORT": "eighty"}, "PORTAL_PORT"),
        ({"PORTAL_PORT": "70000"}, "PORTAL_PORT"),
        ({"PORTAL_TIME_ZONE": "Mars/Olympus"}, "PORTAL_TIME_ZONE"),
        ({"PORTAL_Q_WORKERS": "0"}, "PORTAL_Q_WORKERS"),
        ({"PORTAL_FILE_ROOTS": "relative/dir"}, "PORTAL_FILE_ROOTS"),
        ({"PORTAL_EMAIL_URL": "pigeon://coop"}, "PORTAL_EMAIL_URL"),
        ({"PORTAL_SECRET_KEY": "short"}, "PORTAL_SECRET_KEY"),
        ({"PORTAL_LOG_LEVEL": "chatty"}, "PORTAL_LOG_LEVEL"),
    ],
)
def test_a_bad_variable_stops_start_up_with_one_line_naming_it(tmp_path, variables, named):
    result = run_check(tmp_path, **variables)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr


def test_defaults_start_on_sqlite_in_the_data_dir_and_generate_a_secret_once(tmp_path):
    assert run_check(tmp_path).returncode == 0
    key_file = tmp_path / "secret_key"
    first = key_file.read_text()
    assert len(first) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert run_check(tmp_path).returncode == 0
    assert key_file.read_text() == first


def test_bool_accepts_the_usual_spellings(monkeypatch):
    for raw, expected in [("true", True), ("1", True), ("YES", True), ("off", False), ("0", False)]:
        monkeypatch.setenv("X_BOOL", raw)
        assert env.env_bool("X_BOOL") is expected


def test_database_url_switches_to_postgresql():
    os.environ["X_DB"] = "postgres://postgres@127.0.0.1:5432/portal"
    try:
        config = env.database_config("X_DB", Path("/tmp/x.sqlite3"))
    finally:
        del os.environ["X_DB"]
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "portal"
    assert config["PORT"] == 5432


def test_sqlite_is_tuned_for_concurrent_writers():
    config = env.sqlite_config(Path("/tmp/portal.sqlite3"))
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["timeout"] >= 5


def test_the_database_in_use_is_the_configured_one(db, settings):
    from django.db import connection

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        assert connection.vendor == "postgresql"
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_email_url_configures_smtp(monkeypatch):
    monkeypatch.setenv("X_MAIL", "smtp://ops%40example.com:s3cret@mail.example.com:587")
    config = env.email_config("X_MAIL")
    assert config["EMAIL_HOST"] == "mail.example.com"
    assert config["EMAIL_HOST_USER"] == "ops@example.com"
    assert config["EMAIL_USE_TLS"] is True


def test_django_q_is_configured_safely(settings):
    q = settings.Q_CLUSTER
    assert q["max_attempts"] >= 1
    assert q["ack_failures"] is True
    assert q["catch_up"] is False
    assert q["retry"] > q["timeout"]
    long = q["ALT_CLUSTERS"]["long"]
    assert long["retry"] > long["timeout"] > q["timeout"]
    if settings.REDIS_URL:
        assert q["redis"] == settings.REDIS_URL
    else:
        assert q["orm"] == "default"


def test_redis_database_offset_keeps_the_server_and_moves_the_database():
    assert env.redis_database_offset("redis://127.0.0.1:6379/0", 1) == "redis://127.0.0.1:6379/1"
    assert env.redis_database_offset("redis://:pw@cache:6380", 2) == "redis://:pw@cache:6380/2"
    assert (
        env.redis_database_offset("redis://cache/3?ssl_cert_reqs=none", 1)
        == "redis://cache/4?ssl_cert_reqs=none"
    )
    assert (
        env.redis_database_offset("unix:///run/redis.sock?db=2", 1) == "unix:///run/redis.sock?db=3"
    )


def test_each_test_worker_has_its_own_data_dir_and_redis_database(tmp_path):
    """`make test` runs pytest-xdist workers at once: two sharing a Redis database would clear each
    other's cache and queue."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))}
    environ.update(
        PORTAL_DATA_DIR=str(tmp_path),
        PORTAL_REDIS_URL="redis://127.0.0.1:6379/4",
        PYTEST_XDIST_WORKER="gw1",
    )
    shown = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; "
            "print(settings.DATA_DIR, settings.REDIS_URL, settings.Q_CLUSTER['redis'])",
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.split() == [str(tmp_path / "gw1"), *["redis://127.0.0.1:6379/5"] * 2], (
        shown.stderr
    )


def run_shell(tmp_path, code, **variables):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))}
    environ.update({"PORTAL_DATA_DIR": str(tmp_path), **variables})
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


LOG_BOTH = (
    "from django_q.conf import logger; logger.info('task chatter'); logger.warning('worth reading')"
)


def test_background_chatter_is_quiet_by_default_and_shown_at_info(tmp_path):
    quiet = run_shell(tmp_path, LOG_BOTH)
    assert "worth reading" in quiet.stderr and "task chatter" not in quiet.stderr
    chatty = run_shell(tmp_path, LOG_BOTH, PORTAL_LOG_LEVEL="info")
    assert "worth reading" in chatty.stderr and "task chatter" in chatty.stderr


def test_e_mails_without_a_mail_server_go_to_files_in_the_data_dir_not_the_terminal(tmp_path):
    sent = run_shell(
        tmp_path,
        "from django.core.mail import send_mail; "
        "send_mail('SEV1 payments', 'the whole body', 'portal@x.test', ['ana@x.test'])",
    )
    assert sent.returncode == 0, sent.stderr
    assert "the whole body" not in sent.stdout + sent.stderr
    [saved] = (tmp_path / "mail").iterdir()
    assert "the whole body" in saved.read_text()
    printed = run_shell(
        tmp_path,
        "from django.core.mail import send_mail; "
        "send_mail('SEV1', 'the whole body', 'portal@x.test', ['ana@x.test'])",
        PORTAL_EMAIL_URL="console://",
    )
    assert "the whole body" in printed.stdout


def test_without_redis_the_cache_is_shared_by_every_process_of_the_portal(tmp_path):
    # gunicorn runs two workers: what one caches or invalidates (a status page, a throttle count)
    # the other must see.
    assert (
        run_shell(
            tmp_path, "from django.core.cache import cache; cache.set('page', 'fresh', 60)"
        ).returncode
        == 0
    )
    seen = run_shell(tmp_path, "from django.core.cache import cache; print(cache.get('page'))")
    assert seen.stdout.strip().splitlines()[-1] == "fresh", seen.stderr
