"""The serve command as `make run` uses it: real gunicorn, real clusters, real signals."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve_env(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))}
    # the test follows the clusters' task log
    environ.update(
        PORTAL_DATA_DIR=str(tmp_path),
        PORTAL_ADMIN_PASSWORD="smoke-test-pw",
        PYTHONUNBUFFERED="1",
        PORTAL_LOG_LEVEL="INFO",
    )
    if settings.REDIS_URL:
        # A Redis database of its own, so tasks queued by other tests never reach this cluster.
        environ["PORTAL_REDIS_URL"] = urlsplit(settings.REDIS_URL)._replace(path="/14").geturl()
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # A database of its own: the server commits rows the test database must not see.
        import psycopg

        db = settings.DATABASES["default"]
        params = {
            "host": db["HOST"],
            "port": db["PORT"] or 5432,
            "user": db["USER"],
            "dbname": "postgres",
        }
        with psycopg.connect(**params, password=db["PASSWORD"] or None, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS portal_smoke WITH (FORCE)")
            conn.execute("CREATE DATABASE portal_smoke")
        environ["PORTAL_DATABASE_URL"] = (
            f"postgres://{db['USER']}@{db['HOST']}:{params['port']}/portal_smoke"
        )
    return environ


def read_until(proc, needle, timeout):
    deadline = time.monotonic() + timeout
    seen = []
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            seen.append(line)
            if needle in line:
                return "".join(seen)
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.1)
    raise AssertionError(f"{needle!r} not printed within {timeout}s:\n" + "".join(seen[-40:]))


def test_serve_starts_web_and_workers_and_stops_them_all_on_ctrl_c(serve_env):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=serve_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = read_until(proc, "Ops Portal is running at", timeout=150)
        assert "Admin login: admin" in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
            report = json.load(response)
        assert report["status"] == "healthy", report
        assert report["queue"] == "ok"
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/account/login/", timeout=5
        ) as response:
            assert response.status == 200
            assert b"csrfmiddlewaretoken" in response.read()
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/static/portal/portal.css", timeout=5
        ) as response:
            assert response.status == 200
        ping = str(uuid.uuid4())
        with pytest.raises(urllib.error.HTTPError) as unknown:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/heartbeats/{ping}", timeout=5)
        assert unknown.value.code == 404
        family = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in family)
        assert "gunicorn" in names
        assert names.count("qcluster") >= 2
        # Stop while the main cluster runs a probe tick: a task that loops for most of a minute,
        # which held Ctrl+C until the cluster was killed (core.shutdown).
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "--no-imports",
                "-c",
                "from django_q.tasks import async_task; async_task('probes.tasks.tick')",
            ],
            cwd=ROOT,
            env=serve_env,
            check=True,
            timeout=60,
        )
        output += read_until(proc, "'probes.tasks.tick'", timeout=60)

        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        assert time.monotonic() - started < 10
        assert proc.returncode == 0
        rest = proc.stdout.read() or ""
        assert "killing it" not in rest, rest  # every child stopped on its own, none was killed
        # gunicorn's access log has the ping, without its token.
        assert '"GET /api/v1/heartbeats/••• HTTP/1.1" 404' in output + rest, rest
        assert ping not in output + rest
        time.sleep(0.2)
        left = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert left == [], [" ".join(p.cmdline()) for p in left]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_explains_a_port_already_in_use(serve_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--no-setup"],
            cwd=ROOT,
            env=serve_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr
