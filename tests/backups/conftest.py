import sqlite3
import uuid

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
        return BackupTarget.objects.create(name=name or f"t-{uuid.uuid4().hex[:6]}", kind=kind,
                                           source=source or "", **fields)

    return make


@pytest.fixture
def pg_database():
    """A scratch PostgreSQL database on the local server with one table of 50 rows; dropped afterwards."""
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
