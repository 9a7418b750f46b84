import getpass
import shutil
import socket
import sqlite3
import subprocess
import textwrap
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from psycopg import sql

from backups.models import BackupTarget
from tests.incidents.factories import make_service


@pytest.fixture
def roots(settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    return tmp_path


def make_sqlite(path, rows: int = 100):
    con = sqlite3.connect(path)
    with con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT)")
        con.executemany("INSERT INTO item (name) VALUES (?)", [(f"item-{n}",) for n in range(rows)])
    con.close()
    return path


@pytest.fixture
def make_target(db, roots):
    def make(kind="sqlite", name=None, source=None, **fields):
        if source is None and kind == "sqlite":
            source = str(make_sqlite(roots / f"src-{uuid.uuid4().hex[:6]}.sqlite3"))
        fields.setdefault("service", make_service())
        fields.setdefault("destination", str(roots / "backups"))
        return BackupTarget.objects.create(
            name=name or f"t-{uuid.uuid4().hex[:6]}", kind=kind, source=source or "", **fields
        )

    return make


@pytest.fixture
def pg_database():
    """A scratch PostgreSQL database on the local server with one table of 50 rows; dropped
    afterwards."""
    name = f"backup_src_{uuid.uuid4().hex[:10]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(dsn) as con:
        con.execute("CREATE TABLE item (id serial PRIMARY KEY, name text)")
        con.execute("INSERT INTO item (name) SELECT 'item-' || g FROM generate_series(1, 50) g")
    yield dsn
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


PASSWORD = "correct horse battery staple 19"


@pytest.fixture(scope="session")
def restic_template(tmp_path_factory) -> Path:
    """One repository initialised with PASSWORD, copied by each test that needs an empty one:
    `restic init` calibrates its key derivation and costs seconds of CPU each time. The copies share
    a repository id, and their caches one folder, which restic keeps by content (file names are
    hashes), so one copy's files never stand for another's."""
    folder = tmp_path_factory.mktemp("restic-template")
    password = folder / "password"
    password.write_text(PASSWORD)
    subprocess.run(
        ["restic", "init", "--repo", str(folder / "repo"), "--quiet"],
        env={"PATH": "/usr/bin:/bin", "RESTIC_PASSWORD_FILE": str(password)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return folder / "repo"


def empty_repository(template: Path, url: Path, name: str):
    """A saved Repository at `url`, a copy of the template, as `init_repository` leaves it."""
    from django.utils import timezone

    from backups import services
    from backups.models import Repository

    shutil.copytree(template, url)
    repository = Repository.objects.create(
        name=name, url=str(url), password=PASSWORD, initialised_at=timezone.now()
    )
    return services.refresh_repository(repository=repository)


@pytest.fixture
def local_repository(db, roots, tmp_path, restic_template):
    """An empty restic repository in a temp folder (the portal's own `init` is tested with the
    `repository` fixture of test_offsite.py)."""
    return empty_repository(restic_template, tmp_path / "restic", f"nas-{uuid.uuid4().hex[:6]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory):
    """Our own sshd on 127.0.0.1 (throwaway host and user keys, its own config; the system's sshd
    and ~/.ssh are never touched) and an ssh_config for the portal's restic to reach it."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    home = tmp_path_factory.mktemp("sftp")
    for key in ("host_key", "user_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / key)], check=True
        )
    (home / "authorized_keys").write_text((home / "user_key.pub").read_text())
    port = _free_port()
    (home / "sshd_config").write_text(
        textwrap.dedent(f"""\
        ListenAddress 127.0.0.1
        Port {port}
        HostKey {home / "host_key"}
        AuthorizedKeysFile {home / "authorized_keys"}
        PidFile none
        UsePAM no
        StrictModes no
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitRootLogin prohibit-password
        Subsystem sftp internal-sftp
        """)
    )
    # sshd's privilege separation folder; Debian's service unit makes it the same way.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    server = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(home / "sshd_config")], stderr=subprocess.PIPE
    )
    host_key = (home / "host_key.pub").read_text().split()[:2]
    (home / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    (home / "ssh_config").write_text(
        textwrap.dedent(f"""\
        Host 127.0.0.1
          Port {port}
          IdentityFile {home / "user_key"}
          IdentitiesOnly yes
          UserKnownHostsFile {home / "known_hosts"}
          StrictHostKeyChecking yes
        """)
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"sshd did not start: {server.stderr.read().decode()}") from None
            time.sleep(0.05)
    yield SimpleNamespace(
        port=port, config=home / "ssh_config", folder=home, user=getpass.getuser()
    )
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    server.stderr.close()
