"""The real agent script against a portal served from this test process, which a test can stop
and restart."""

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

from probes.models import Host
from tests.incidents.factories import make_service

AGENT = Path(settings.BASE_DIR) / "probes" / "agent" / "portal_agent.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ReusingServerThread(LiveServerThread):
    def _create_server(self, connections_override=None):
        return self.server_class(
            (self.host, self.port),
            QuietWSGIRequestHandler,
            allow_reuse_address=True,
            connections_override=connections_override,
        )


class RestartableServer:
    """The portal (test database included) in a thread on a fixed port: stop() takes it away,
    start() brings it back on the same address, as an agent sees an outage."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self):
        from pytest_django.live_server_helper import LiveServer

        self.server = LiveServer(f"127.0.0.1:{self.port}", start=False)
        # Back on the port it left: Django's live server refuses to reuse an address.
        self.server.thread.__class__ = ReusingServerThread
        self.server.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def portal_server(transactional_db, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    server = RestartableServer().start()
    yield server
    server.stop()


def make_host(name="datahub", **fields) -> tuple[Host, str]:
    host = Host(name=name, service=fields.pop("service", None) or make_service(), **fields)
    token = host.new_token()
    host.save()
    return host, token


def make_sqlite(path: Path, rows: int = 2000) -> Path:
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE workflow_instances (id INTEGER PRIMARY KEY, status TEXT, note TEXT)"
    )
    connection.executemany(
        "INSERT INTO workflow_instances (status, note) VALUES (?, ?)",
        [("DONE", "x" * 200) for _ in range(rows)],
    )
    connection.commit()
    connection.close()
    return path


def corrupt_sqlite(path: Path) -> None:
    """Garbage over every page but the first: the header still says SQLite, the b-trees are gone."""
    data = bytearray(path.read_bytes())
    page = 4096
    data[page:] = bytes((i * 7 + 13) % 256 for i in range(len(data) - page))
    path.write_bytes(bytes(data))


def run_agent(
    server_url: str,
    token_file: Path,
    spool: Path,
    *extra,
    python: str = sys.executable,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """`python -X dev portal_agent.py --once`; no retry pauses (an outage is the test's to make)."""
    return subprocess.run(
        [
            python,
            "-X",
            "dev",
            str(AGENT),
            "--url",
            server_url,
            "--token-file",
            str(token_file),
            "--spool-dir",
            str(spool),
            "--retries",
            "1",
            "--backoff",
            "0.05",
            "--timeout",
            "10",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_until(predicate, seconds, step=0.5):
    """Polls a real process's or server's state (an exit, a closed connection) until it holds."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(step)
