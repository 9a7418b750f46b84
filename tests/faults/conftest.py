"""A portal of its own for each fault test, driven through real processes.

Each test gets a data dir, a database (SQLite, or a PostgreSQL database of its
own when the suite runs on PostgreSQL) and, where it asks, a Redis of its own,
so that killing, locking or filling them never touches the suite's database or
the shared servers. `Portal.python(code)` runs a snippet in a fresh Django
process and returns what it printed as JSON; `Portal.start(...)` starts a
qcluster, gunicorn or any manage.py command and `Portal.stop` ends it with a
bounded grace period, then kills its whole process group.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests import once
from tests.once import pg_admin_dsn

ROOT = Path(settings.BASE_DIR)
PG = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.2):
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout`
    seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what} (last: {last!r})")


class Portal:
    def __init__(self, root: Path, database_url: str, redis_url: str | None = None, **extra_env):
        self.root = root
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs = root / "logs"
        self.logs.mkdir(exist_ok=True)
        # What file probes watch: outside the data dir, which probes may never read. The data dir
        # is a root too, for backups written into it.
        self.files = root / "files"
        self.files.mkdir(exist_ok=True)
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PORTAL_", "Q_CLUSTER", "PYTEST_XDIST"))
        }
        # One set of field keys for every portal of the run (and this process): a database copied
        # from the template, or written by another data dir's processes, still decrypts.
        environ.update(
            PORTAL_DATA_DIR=str(self.data_dir),
            PORTAL_DATABASE_URL=database_url,
            PORTAL_FILE_ROOTS=f"{self.files},{self.data_dir}",
            PORTAL_FIELD_KEYS=",".join(settings.FIELD_KEYS),
            PYTHONUNBUFFERED="1",
            DJANGO_SETTINGS_MODULE="portal.settings",
            **extra_env,
        )
        if redis_url:
            environ["PORTAL_REDIS_URL"] = redis_url
        self.env = environ
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def python(self, code: str, *, timeout: float = 120, **env) -> object:
        """Run `code` after django.setup() in a new process; the JSON of its last printed line."""
        script = "import django\ndjango.setup()\n" + textwrap.dedent(code)
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            raise AssertionError(f"snippet failed ({done.returncode}):\n{done.stderr[-3000:]}")
        lines = done.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else None

    def manage(
        self, *args, timeout: float = 180, check: bool = True, **env
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode:
            raise AssertionError(
                f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def start(self, name: str, argv: list[str], **env) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log = log
        proc.name = name
        self.processes.append((name, proc))
        return proc

    def qcluster(
        self, name: str = "workers", *, cluster: str | None = None, **env
    ) -> subprocess.Popen:
        if cluster:
            env["Q_CLUSTER_NAME"] = cluster
        return self.start(name, [sys.executable, "manage.py", "qcluster"], **env)

    def web(self, port: int) -> subprocess.Popen:
        """gunicorn as `serve` starts it (static files collected first, as `serve` does)."""
        if not (self.data_dir / "static" / "staticfiles.json").exists():
            self.manage("collectstatic", "--noinput", "-v0")
        run_dir = self.data_dir / "run"
        run_dir.mkdir(exist_ok=True)
        return self.start(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "60",
                "--worker-tmp-dir",
                str(run_dir),
                "--no-control-socket",
            ],
        )

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.logs / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, proc: subprocess.Popen, grace: float = 15) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        # Whatever is left of its group (q workers, gunicorn workers) goes too.
        self.kill(proc)
        proc.log.close()

    def stop_all(self) -> None:
        # The test is over: a short grace (a tick in progress would hold a cluster for up to a
        # minute).
        for _name, proc in reversed(self.processes):
            if proc.poll() is None or not proc.log.closed:
                self.stop(proc, grace=3)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite portal database, made once a run (tests/once.py); each test copies it."""

    def build(path):
        Portal(path.parent / "faults-template", f"sqlite:///{path}").manage("migrate", "-v0")

    return once.sqlite_file(tmp_path_factory, "faults-template", build)


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory):
    """A migrated PostgreSQL database, made once a run (tests/once.py); each test creates its own
    from it (CREATE … TEMPLATE), under the run's lock for it."""
    import psycopg

    def build(name):
        with psycopg.connect(pg_admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        Portal(Path(f"/tmp/{name}"), pg_admin_dsn(name).replace("postgresql", "postgres")).manage(
            "migrate", "-v0"
        )

    return once.pg_template(tmp_path_factory, "portal_faults_template", build)


@pytest.fixture
def own_sqlite(tmp_path, sqlite_template):
    """A migrated SQLite portal database of this test's own (whatever the suite's backend)."""
    path = tmp_path / "own.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return path


@pytest.fixture
def fresh_database(request):
    """A URL of a migrated portal database of this test's own, on the suite's backend."""
    if not PG:
        yield f"sqlite:///{request.getfixturevalue('own_sqlite')}"
        return
    import psycopg

    template = request.getfixturevalue("pg_template")
    name = f"portal_faults_{uuid.uuid4().hex[:8]}"
    with (
        once.run_lock(request.getfixturevalue("tmp_path_factory"), "portal_faults_template"),
        psycopg.connect(pg_admin_dsn(), autocommit=True) as conn,
    ):
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield pg_admin_dsn(name).replace("postgresql", "postgres")
    with psycopg.connect(pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_portal(request, tmp_path):
    portals = []

    def make(*, redis_url: str | None = None, database_url: str | None = None, **env) -> Portal:
        database_url = database_url or request.getfixturevalue("fresh_database")
        portal = Portal(tmp_path / f"portal-{len(portals)}", database_url, redis_url, **env)
        portals.append(portal)
        return portal

    yield make
    for portal in portals:
        portal.stop_all()


class RedisServer:
    """A redis-server of this test's own on a free port: stopping it never touches the shared
    one."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self.ping, timeout=20, what="redis-server answers PING")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def scaled_redis_url(request):
    """On the PostgreSQL + Redis run, the URL of a Redis broker; else None (the embedded ORM
    broker).

    The broker is a redis-server of this test's own, the same program as the shared one: its queue
    and its data are never mixed with those of another test run on the same machine.
    """
    if not settings.REDIS_URL:
        return None
    return request.getfixturevalue("own_redis").url


class Hook:
    """A real webhook receiver: records every POST; paths under /hang/ read the request and never
    answer.

    `answered` holds the requests it answered 200 to; `intercept(path, body)`, if set and true for a
    request, leaves that one unanswered (a test kills the sender at that moment).
    """

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler

        from tests.conftest import LocalHTTPServer

        self.received: list[tuple[float, str, dict]] = []
        self.answered: list[tuple[float, str, dict]] = []
        self.intercept = None
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died after its headers (a killed cluster): no page arrived, and no
                    # real endpoint would answer one.
                    return
                call = (time.monotonic(), self.path, json.loads(body or b"{}"))
                hook.received.append(call)
                if self.path.startswith("/hang/") or (hook.intercept and hook.intercept(*call[1:])):
                    hook.release.wait()
                    return
                hook.answered.append(call)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        # A sender killed mid-request is part of some tests, not an error worth a traceback.
        self.server.handle_error = lambda request, client_address: None
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [path for _at, path, _body in self.received]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


class PostgresServer:
    """A throwaway PostgreSQL cluster of this test's own (initdb, run as the postgres user, on a
    free port), so the test can stop and restart it without touching the shared server."""

    def __init__(self):
        self.port = free_port()
        self.root = Path(f"/tmp/faults-pg-{uuid.uuid4().hex[:8]}")
        self.root.mkdir()
        shutil.chown(self.root, "postgres")
        self.data = self.root / "data"
        self.as_postgres(
            [
                "initdb",
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )

    def as_postgres(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["su", "postgres", "-c", " ".join(argv)],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        options = f"'-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off'"
        self.as_postgres(
            [
                "pg_ctl",
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.root / "log"),
                "-w",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        self.as_postgres(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"], check=False)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def own_postgres():
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
