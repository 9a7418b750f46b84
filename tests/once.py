"""What the pytest-xdist workers of one run make once and share: migrated databases.

A fresh `migrate` costs 10–14 s of CPU (Django renders the model states of ~100 migrations), and
every worker of every leg used to run its own, for its test database and for the fault tests'
template. Now the first worker to need one builds it under a lock in the run's own temporary
directory (the controller's basetemp, which every worker's basetemp is under) and the others copy
it: a SQLite file, or a PostgreSQL database used as a template (CREATE DATABASE … TEMPLATE).

Nothing is shared between two runs: the directory is the run's own, and a PostgreSQL template is
named with a random suffix and dropped when the run ends (`drop_templates`, from the controller's
`pytest_sessionfinish`).
"""

import contextlib
import fcntl
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

TEMPLATES = "pg-templates"  # the PostgreSQL templates this run made, one name a line


def run_root(tmp_path_factory) -> Path:
    """The directory every process of this run shares."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def run_lock(tmp_path_factory, name: str) -> Iterator[Path]:
    """Held by one process of this run at a time; yields the run's directory."""
    root = run_root(tmp_path_factory)
    with open(root / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def sqlite_file(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A SQLite file made once a run by `build(path)`; callers copy it, never write to it."""
    with run_lock(tmp_path_factory, name) as root:
        path = root / f"{name}.sqlite3"
        if not path.exists():
            partial = root / f"{name}.partial.sqlite3"
            build(partial)
            con = sqlite3.connect(partial)  # its WAL written back: the file alone is the database
            con.execute("PRAGMA journal_mode=DELETE")
            con.close()
            partial.rename(path)  # a build that failed half-way is never taken for a template
        return path


def pg_template(tmp_path_factory, name: str, build: Callable[[str], None]) -> str:
    """The name of a PostgreSQL database made once a run by `build(database name)`, to be cloned
    (CREATE DATABASE … TEMPLATE, under `run_lock(…, name)`: PostgreSQL refuses to copy a database
    another session is in)."""
    with run_lock(tmp_path_factory, name) as root:
        made = root / f"{name}.pg"
        if made.exists():
            return made.read_text()
        database = f"{name}_{uuid.uuid4().hex[:8]}"
        with (root / TEMPLATES).open("a") as registry:
            registry.write(database + "\n")  # before it exists: a failed build is dropped too
        build(database)
        made.write_text(database)
        return database


def pg_admin_dsn(dbname: str = "postgres") -> str:
    """A psycopg DSN for a database on the suite's PostgreSQL server."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{dbname}"


def drop_templates(root: Path) -> None:
    """Drop the PostgreSQL templates this run made (its processes have all ended)."""
    registry = root / TEMPLATES
    if not registry.exists():
        return
    import psycopg

    with psycopg.connect(pg_admin_dsn(), autocommit=True) as conn:
        for database in registry.read_text().split():
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    registry.unlink()
