"""What each kind of target does: back up, verify, restore and rehearse.

Dispatch tables of plain functions (STYLE: kinds are a dict of functions):
BACKUPS by target kind, VERIFIERS / RESTORES / REHEARSALS by the backup file's
format. Everything here works on paths and raises `BackupError` with a message
meant for the person reading the run; `backups.services` does the bookkeeping.
"""

import contextlib
import errno
import gzip
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import quote

from django.db import connection
from django.utils.translation import gettext as _

from backups.models import BackupTarget, Format, Kind

# Big reads and writes: a backup is limited by the disk, not by Python calls.
CHUNK = 4 * 1024 * 1024
Progress = Callable[[int], None]


class BackupError(Exception):
    """A failure with a message for the run's reader (not a bug)."""


class HashingWriter:
    """The only way backup bytes reach the disk: hashes and counts them on the way,
    so the SHA-256 costs no second read."""

    def __init__(self, raw, progress: Progress):
        self.raw = raw
        self.progress = progress
        self.sha = hashlib.sha256()
        self.size = 0
        self.hashing = self

    def write(self, data) -> int:
        written = self.raw.write(data)
        self.sha.update(data)
        self.size += len(data)
        self.progress(self.size)
        return written

    def flush(self) -> None:
        self.raw.flush()


def private_opener(path, flags: int) -> int:
    """For open(..., opener=): a new file is its owner's alone (0600), whatever the umask."""
    return os.open(path, flags, 0o600)


@contextlib.contextmanager
def hashing_file(
    path: Path, progress: Progress, *, compress: bool = False
) -> Iterator[HashingWriter]:
    """Open `path` for writing through a HashingWriter (gzip-compressed when asked); fsync on
    success."""
    with open(path, "wb", opener=private_opener) as raw:
        writer = HashingWriter(raw, progress)
        if compress:
            with gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=6, mtime=0) as packed:
                packed.hashing = writer
                yield packed
        else:
            yield writer
        raw.flush()
        os.fsync(raw.fileno())


class Writeback:
    """Writes a file's pages to disk from a thread while the file is still being written.

    SQLite's backup API writes the copy page by page into the page cache; fsynced at the end, a
    gigabyte then waited for the disk all at once. Synced every tenth of a second meanwhile, the
    disk works while the copy is made. `finish()` syncs one last time and raises the first error
    any sync met, through the one descriptor that met it: Linux reports a write-back error once,
    so a sync through a descriptor opened later could miss it and call a lost write a backup.
    """

    INTERVAL = 0.1

    def __init__(self, path: Path):
        self.path, self.fd, self.error = path, None, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backup-writeback", daemon=True)
        self._thread.start()

    def _sync(self) -> None:
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:  # SQLite creates the file at its first write
                return
        os.fsync(self.fd)

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            try:
                self._sync()
            except OSError as exc:
                self.error = exc
                return

    def _end(self) -> None:
        self._stop.set()
        self._thread.join()

    def finish(self) -> None:
        self._end()
        try:
            if self.error is None:
                self._sync()
        except OSError as exc:
            self.error = exc
        finally:
            self.abandon()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Stop without a last sync (the file is being thrown away)."""
        self._end()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _NoWriteback:
    def __init__(self, path: Path):
        pass

    def finish(self) -> None:
        pass

    def abandon(self) -> None:
        pass


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def disk_full_message(exc: BaseException) -> str | None:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _(
            "The destination disk is full (no space left on device); the partial file was removed."
        )
    if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc):
        return _(
            "The destination disk is full (SQLite: database or disk is full); the partial file "
            "was removed."
        )
    return None


# --- SQLite -----------------------------------------------------------------


class _SourceChanged(Exception):
    pass


def sqlite_uri(path: str) -> str:
    # mode=rw: connecting must never create an empty database where the source should be.
    if path.startswith("file:"):
        return path
    if not Path(path).is_file():
        raise BackupError(_("The SQLite database %(path)s does not exist.") % {"path": path})
    return f"file:{quote(path)}?mode=rw"


def _open_copy(path: Path) -> sqlite3.Connection:
    path.unlink(missing_ok=True)
    # SQLite would create the file with the umask's mode; an empty file it takes as a new database.
    os.close(private_opener(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    dst = sqlite3.connect(path)
    # The copy is a fresh private file: no journal needed; it is fsynced once at the end.
    dst.execute("PRAGMA journal_mode=OFF")
    dst.execute("PRAGMA synchronous=OFF")
    return dst


def _close_copy(dst: sqlite3.Connection) -> None:
    try:
        # The copy inherits the source's WAL flag; a backup file is a standalone file, so it
        # leaves WAL mode and opening it later creates no -wal/-shm beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()


def copy_sqlite(
    src: sqlite3.Connection, path: Path, progress: Progress, *, durable: bool = True
) -> None:
    """The online backup API into a new file at `path`, in steps so progress shows, on disk when it
    returns (unless not `durable`: a scratch copy). A write to the source by another process
    restarts a stepped backup; under constant writes it would never end, so on the first restart the
    copy starts over in one step under one read snapshot."""
    start_writeback = Writeback if durable else _NoWriteback
    page_size = src.execute("PRAGMA page_size").fetchone()[0]
    last = {"remaining": None}

    def on_step(status, remaining, total):
        if last["remaining"] is not None and remaining >= last["remaining"]:
            raise _SourceChanged
        last["remaining"] = remaining
        progress((total - remaining) * page_size)

    dst, writeback = _open_copy(path), start_writeback(path)
    try:
        try:
            src.backup(dst, pages=max(1, 16 * 1024 * 1024 // page_size), progress=on_step)
        except _SourceChanged:
            # The aborted copy is half written with no journal: start again from an empty file.
            writeback.abandon()
            dst.close()
            dst, writeback = _open_copy(path), start_writeback(path)
            src.backup(dst, pages=-1)
    except BaseException:
        # A failed copy is thrown away, so it is closed as it is: on a full disk the journal
        # switch fails too ("disk I/O error") and would hide the real cause ("disk is full").
        writeback.abandon()
        dst.close()
        raise
    try:
        _close_copy(dst)
    finally:
        # The copy's pages are on disk (mostly written while it was made): raises a write-back
        # error.
        writeback.finish()


def backup_sqlite_path(
    source: str, temp: Path, progress: Progress, *, compress: bool
) -> tuple[str, int]:
    """Copy a live SQLite database into `temp`; returns (sha256, size) of the file written."""
    src = sqlite3.connect(sqlite_uri(source), uri=True, timeout=30)
    db_path = temp.with_name(temp.name + ".db") if compress else temp
    try:
        copy_sqlite(src, db_path, progress, durable=not compress)
    except sqlite3.DatabaseError as exc:
        if disk_full_message(exc):
            raise
        raise BackupError(
            _("SQLite could not copy %(path)s: %(error)s") % {"path": source, "error": exc}
        ) from exc
    finally:
        src.close()
    if compress:
        try:
            with open(db_path, "rb") as plain, hashing_file(temp, progress, compress=True) as out:
                shutil.copyfileobj(plain, out, CHUNK)
            return out.hashing.sha.hexdigest(), out.hashing.size
        finally:
            db_path.unlink(missing_ok=True)
    # SQLite's pager writes the copy page by page, so there is no stream to hash on the
    # way; the one pass below reads pages the kernel still holds in its cache (copy_sqlite
    # has synced them to disk).
    return sha256_of(temp)


# --- PostgreSQL -------------------------------------------------------------


def pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            _(
                "%(tool)s was not found on this machine: install the Debian package "
                "postgresql-client (apt install postgresql-client)."
            )
            % {"tool": name}
        )
    return found


def pg_env(password: str | None = None) -> dict:
    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = password
    return env


def run_pg(args: list[str], *, password: str | None = None) -> str:
    """Run a PostgreSQL client tool to completion; BackupError with its stderr on failure."""
    done = subprocess.run(args, capture_output=True, text=True, env=pg_env(password), check=False)
    if done.returncode != 0:
        raise BackupError(
            _("%(tool)s failed: %(error)s")
            % {"tool": Path(args[0]).name, "error": done.stderr.strip()[-2000:]}
        )
    return done.stdout


def pg_dump_into(dsn: str, out, *, password: str | None = None) -> None:
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [pg_tool("pg_dump"), "-Fc", "--no-password", "--dbname", dsn],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=pg_env(password),
        )
        try:
            while chunk := proc.stdout.read(CHUNK):
                out.write(chunk)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
        if proc.wait() != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()[-2000:]
            raise BackupError(_("pg_dump failed: %(error)s") % {"error": message})


def portal_pg() -> tuple[str, str | None]:
    """The portal's own PostgreSQL database as (conninfo, password); the password goes by
    environment."""
    from psycopg.conninfo import make_conninfo

    conf = connection.settings_dict
    parts = {
        "dbname": conf["NAME"],
        "host": conf.get("HOST") or None,
        "port": str(conf.get("PORT") or "") or None,
        "user": conf.get("USER") or None,
    }
    return make_conninfo("", **{k: v for k, v in parts.items() if v}), conf.get("PASSWORD") or None


def pg_source(target: BackupTarget) -> tuple[str, str | None]:
    """(conninfo without password, password): a password on pg_dump's command line
    would be readable by every local user in the process list."""
    if target.kind == Kind.PORTAL_DB:
        return portal_pg()
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(target.source)
    except psycopg.ProgrammingError:  # unreadable: pg_dump reports it
        return target.source, None
    password = parts.pop("password", None)
    return make_conninfo("", **parts), password or None


# --- Backups by kind ----------------------------------------------------------


def backup_sqlite(target: BackupTarget, temp: Path, progress: Progress) -> tuple[str, str, int]:
    sha, size = backup_sqlite_path(target.source, temp, progress, compress=target.compress)
    return Format.SQLITE, sha, size


def copy_damaged_sqlite(
    target: BackupTarget, temp: Path, progress: Progress
) -> tuple[str, str, int]:
    """The bytes of a database SQLite can no longer open, as they are (the runbooks' ".broken"
    copy)."""
    with open(target.source, "rb") as src, hashing_file(temp, progress) as out:
        shutil.copyfileobj(src, out, CHUNK)
    return Format.SQLITE, out.hashing.sha.hexdigest(), out.hashing.size


def is_damaged(error: str) -> bool:
    return "file is not a database" in error or "malformed" in error


def backup_postgres(target: BackupTarget, temp: Path, progress: Progress) -> tuple[str, str, int]:
    dsn, password = pg_source(target)
    pg_tool("pg_dump")
    with hashing_file(temp, progress) as out:
        pg_dump_into(dsn, out, password=password)
    return Format.PG_DUMP, out.hashing.sha.hexdigest(), out.hashing.size


def backup_portal_db(target: BackupTarget, temp: Path, progress: Progress) -> tuple[str, str, int]:
    if connection.vendor == "postgresql":
        return backup_postgres(target, temp, progress)
    if connection.vendor == "sqlite":
        sha, size = backup_sqlite_path(
            connection.settings_dict["NAME"], temp, progress, compress=target.compress
        )
        return Format.SQLITE, sha, size
    raise BackupError(
        _("The portal's database engine %(vendor)s cannot be backed up.")
        % {"vendor": connection.vendor}
    )


def backup_directory(target: BackupTarget, temp: Path, progress: Progress) -> tuple[str, str, int]:
    root = Path(target.source)
    if not root.is_dir():
        raise BackupError(_("The folder %(path)s does not exist.") % {"path": root})
    patterns = target.exclude_patterns()
    destination = Path(target.destination).resolve()

    def keep(info: tarfile.TarInfo):
        relative = info.name.removeprefix("./")
        if any(fnmatch(relative, p) or fnmatch(Path(relative).name, p) for p in patterns):
            return None
        # A destination inside the source must not archive itself (and its partial file).
        if (root / relative).resolve() == destination:
            return None
        return info

    with (
        hashing_file(temp, progress, compress=True) as out,
        tarfile.open(fileobj=out, mode="w|") as tar,
    ):
        tar.add(root, arcname=".", filter=keep)
    return Format.TAR, out.hashing.sha.hexdigest(), out.hashing.size


def backup_file(target: BackupTarget, temp: Path, progress: Progress) -> tuple[str, str, int]:
    source = Path(target.source)
    if not source.is_file():
        raise BackupError(_("The file %(path)s does not exist.") % {"path": source})
    with open(source, "rb") as src, hashing_file(temp, progress, compress=target.compress) as out:
        shutil.copyfileobj(src, out, CHUNK)
    return Format.FILE, out.hashing.sha.hexdigest(), out.hashing.size


BACKUPS = {
    Kind.PORTAL_DB: backup_portal_db,
    Kind.SQLITE: backup_sqlite,
    Kind.POSTGRES: backup_postgres,
    Kind.DIRECTORY: backup_directory,
    Kind.FILE: backup_file,
}

EXTENSIONS = {
    Format.SQLITE: "sqlite3",
    Format.PG_DUMP: "dump",
    Format.TAR: "tar.gz",
    Format.FILE: "bak",
}


def format_of(target: BackupTarget) -> str:
    """The format a target's backups have (and so the only format it accepts in a restore)."""
    if target.kind == Kind.PORTAL_DB:
        return Format.PG_DUMP if connection.vendor == "postgresql" else Format.SQLITE
    return {
        Kind.SQLITE: Format.SQLITE,
        Kind.POSTGRES: Format.PG_DUMP,
        Kind.DIRECTORY: Format.TAR,
        Kind.FILE: Format.FILE,
    }[target.kind]


def extension(target: BackupTarget) -> str:
    ext = EXTENSIONS[format_of(target)]
    return (
        f"{ext}.gz"
        if target.compress
        and target.kind in (Kind.SQLITE, Kind.FILE, Kind.PORTAL_DB)
        and format_of(target) != Format.PG_DUMP
        else ext
    )


# --- Reading backups back -------------------------------------------------------


@contextlib.contextmanager
def plain_copy(path: Path) -> Iterator[Path]:
    """The backup as a plain file: itself, or for .gz a decompressed scratch copy beside it."""
    if path.suffix != ".gz":
        yield path
        return
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}.unpacked")
    try:
        with gzip.open(path, "rb") as packed, open(scratch, "wb") as plain:
            shutil.copyfileobj(packed, plain, CHUNK)
        yield scratch
    finally:
        scratch.unlink(missing_ok=True)


def integrity_check(con: sqlite3.Connection) -> tuple[bool, str]:
    rows = [row[0] for row in con.execute("PRAGMA integrity_check")]
    return rows == ["ok"], "integrity_check: " + "; ".join(rows[:5])


def open_readonly(path: Path) -> sqlite3.Connection:
    # immutable=1: a backup file never changes, so SQLite needs no lock or -wal/-shm beside it.
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)


def table_counts(con: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    ]
    # Table names cannot be bound parameters: quote them as SQL identifiers ("" inside).
    quoted = {name: '"' + name.replace('"', '""') + '"' for name in names}
    return {
        name: con.execute("SELECT count(*) FROM " + quoted[name]).fetchone()[0]  # noqa: S608
        for name in names
    }


def verify_sqlite(path: Path) -> tuple[bool, str]:
    with plain_copy(path) as plain:
        con = open_readonly(plain)
        try:
            return integrity_check(con)
        except sqlite3.DatabaseError as exc:
            return False, f"integrity_check: {exc}"
        finally:
            con.close()


def verify_pg_dump(path: Path) -> tuple[bool, str]:
    try:
        listing = run_pg([pg_tool("pg_restore"), "--list", str(path)])
    except BackupError as exc:
        return False, str(exc)
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    return True, _("pg_restore --list: %(count)d entries") % {"count": len(entries)}


def verify_tar(path: Path) -> tuple[bool, str]:
    count = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                count += 1
                if member.isfile():
                    with tar.extractfile(member) as fh:
                        while fh.read(CHUNK):
                            pass
    except (tarfile.TarError, OSError, EOFError) as exc:
        return False, _("The archive does not list cleanly: %(error)s") % {"error": exc}
    return True, _("The archive lists cleanly: %(count)d entries") % {"count": count}


def verify_file(path: Path) -> tuple[bool, str]:
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as packed:
                while packed.read(CHUNK):
                    pass
        except (OSError, EOFError) as exc:
            return False, _("The compressed copy is damaged: %(error)s") % {"error": exc}
    return True, _("The file reads back completely.")


VERIFIERS = {
    Format.SQLITE: verify_sqlite,
    Format.PG_DUMP: verify_pg_dump,
    Format.TAR: verify_tar,
    Format.FILE: verify_file,
}


# --- Restores ---------------------------------------------------------------------


def sidecars(path: str) -> list[Path]:
    return [Path(path + "-wal"), Path(path + "-shm")]


def restore_sqlite(backup: Path, into: str) -> tuple[bool, str]:
    """Write the backup into the live database through the backup API: readers see the old
    or the new database, never a half-copied file, and SQLite handles the -wal itself."""
    is_uri = into.startswith("file:")
    if not is_uri and not Path(into).exists():
        # A -wal/-shm without its database is stale: SQLite would replay it onto the restored file.
        for stale in sidecars(into):
            stale.unlink(missing_ok=True)
    with plain_copy(backup) as plain:
        src = open_readonly(plain)
        try:
            try:
                dst = sqlite3.connect(into, uri=is_uri, timeout=30)
                dst.execute("PRAGMA schema_version").fetchone()
                src.backup(dst)
            except sqlite3.DatabaseError:
                # The current file is too damaged for SQLite to write into. It was saved as the
                # safety copy first, so it and its now-meaningless -wal/-shm are replaced.
                dst.close()
                if is_uri:
                    raise
                for stale in (Path(into), *sidecars(into)):
                    stale.unlink(missing_ok=True)
                dst = sqlite3.connect(into, timeout=30)
                src.backup(dst)
            try:
                dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return integrity_check(dst)
            finally:
                dst.close()
        finally:
            src.close()


def restore_pg_dump(backup: Path, into: str, *, password: str | None = None) -> tuple[bool, str]:
    import psycopg

    run_pg(
        [
            pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            "--dbname",
            into,
            str(backup),
        ],
        password=password,
    )
    with psycopg.connect(into, password=password) if password else psycopg.connect(into) as con:
        tables = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()[0]
    return True, _("pg_restore finished; %(count)d tables present") % {"count": tables}


def restore_tar(backup: Path, into: str) -> tuple[bool, str]:
    Path(into).mkdir(parents=True, exist_ok=True)
    with tarfile.open(backup, "r:gz") as tar:
        # The "data" filter refuses absolute paths, links out of the folder and device files.
        tar.extractall(into, filter="data")
        count = len(tar.getmembers())
    return True, _("%(count)d entries extracted") % {"count": count}


def restore_file(backup: Path, into: str) -> tuple[bool, str]:
    final = Path(into)
    temp = final.with_name(f".{final.name}.restoring")
    try:
        opener = gzip.open if backup.suffix == ".gz" else open
        with opener(backup, "rb") as src, open(temp, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(temp, final)
        fsync_dir(final.parent)
    finally:
        temp.unlink(missing_ok=True)
    return True, _("%(size)d bytes written") % {"size": final.stat().st_size}


def restore_into_target(target: BackupTarget, backup: Path, fmt: str) -> tuple[bool, str]:
    if fmt == Format.PG_DUMP:
        dsn, password = pg_source(target)
        return restore_pg_dump(backup, dsn, password=password)
    into = connection.settings_dict["NAME"] if target.kind == Kind.PORTAL_DB else target.source
    return RESTORES[fmt](backup, into)


RESTORES = {Format.SQLITE: restore_sqlite, Format.TAR: restore_tar, Format.FILE: restore_file}


# --- Rehearsals: restore into scratch and look inside -------------------------------


def rehearse_sqlite(target: BackupTarget, backup: Path, scratch: Path) -> tuple[bool, dict]:
    copy = scratch / "rehearsal.sqlite3"
    ok, detail = restore_sqlite(backup, str(copy))
    con = open_readonly(copy)
    try:
        counts = table_counts(con) if ok else {}
    finally:
        con.close()
    return ok, {"integrity": detail, "tables": counts}


def rehearse_pg_dump(target: BackupTarget, backup: Path, scratch: Path) -> tuple[bool, dict]:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    listing = verify_pg_dump(backup)
    if not listing[0]:
        return False, {"pg_restore_list": listing[1]}
    dsn, password = pg_source(target)
    scratch_db = f"rehearsal_{uuid.uuid4().hex[:12]}"
    extra = {"password": password} if password else {}
    admin = make_conninfo(dsn, dbname="postgres", **extra)
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch_db)))
    try:
        into = make_conninfo(dsn, dbname=scratch_db)
        run_pg(
            [
                pg_tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--no-password",
                "--dbname",
                into,
                str(backup),
            ],
            password=password,
        )
        params = conninfo_to_dict(into) | ({"password": password} if password else {})
        with psycopg.connect(**params) as con:
            tables = con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE "
                "table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', "
                "'information_schema') ORDER BY 1, 2"
            ).fetchall()
            counts = {
                f"{schema}.{name}": con.execute(
                    sql.SQL("SELECT count(*) FROM {}.{}").format(
                        sql.Identifier(schema), sql.Identifier(name)
                    )
                ).fetchone()[0]
                for schema, name in tables
            }
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(scratch_db)
                )
            )
    return True, {"pg_restore_list": listing[1], "tables": counts}


def rehearse_tar(target: BackupTarget, backup: Path, scratch: Path) -> tuple[bool, dict]:
    ok, detail = restore_tar(backup, str(scratch / "tree"))
    files = sum(1 for p in (scratch / "tree").rglob("*") if p.is_file())
    return ok, {"extract": detail, "files": files}


def rehearse_file(target: BackupTarget, backup: Path, scratch: Path) -> tuple[bool, dict]:
    ok, detail = restore_file(backup, str(scratch / "restored"))
    return ok, {"restore": detail}


REHEARSALS = {
    Format.SQLITE: rehearse_sqlite,
    Format.PG_DUMP: rehearse_pg_dump,
    Format.TAR: rehearse_tar,
    Format.FILE: rehearse_file,
}
