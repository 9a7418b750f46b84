"""Tiny readers for PORTAL_* environment variables.

Each raises ConfigError (an ImproperlyConfigured) whose message starts with the
variable's name, so manage.py can stop start-up with one line naming it.
"""

import os
import zoneinfo
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ImproperlyConfigured):
    pass


def keep_files_private() -> None:
    """Files this process creates are its user's alone: the database and its WAL hold
    sessions and API tokens, backups hold everything. Called by manage.py, wsgi.py and
    asgi.py before settings are read, so it is in force before the first file exists."""
    os.umask(0o077)


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) readable by this user only; an existing folder is left
    as it is (`manage.py serve` tightens old ones)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    # Path.mkdir(parents=True) gives the parents the default mode: each level is made here.
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the maximum of {maximum}")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def env_log_level(name: str, default: str) -> str:
    value = env_str(name, default).upper()
    if value not in LOG_LEVELS:
        raise ConfigError(
            f"{name}={os.environ.get(name)!r} is not a log level; use one of "
            f"{', '.join(LOG_LEVELS)}"
        )
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_paths(name: str, default: list[Path]) -> list[Path]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    paths = []
    for part in raw.replace(os.pathsep, ",").split(","):
        part = part.strip()
        if not part:
            continue
        path = Path(part).expanduser()
        if not path.is_absolute():
            raise ConfigError(f"{name}: {part!r} is not an absolute path")
        paths.append(path.resolve())
    return paths


def env_time_zone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name}={value!r} is not a known time zone (e.g. UTC, Asia/Seoul)"
        ) from None
    return value


def env_holidays(name: str, default: str) -> str:
    """A country code the `holidays` library knows (KR, US…), or empty for no public holidays."""
    import holidays

    value = env_str(name, default).upper()
    if value and value not in holidays.list_supported_countries():
        raise ConfigError(
            f"{name}={value!r} is not a country the holidays library knows (e.g. KR, US, or empty)"
        )
    return value


def database_config(name: str, default_sqlite: Path) -> dict:
    """PORTAL_DATABASE_URL → a DATABASES entry; SQLite tuned for a web server plus workers."""
    import dj_database_url

    raw = env_str(name)
    if not raw:
        return sqlite_config(default_sqlite)
    scheme = raw.split(":", 1)[0].lower()
    if scheme in ("postgres", "postgresql", "pgsql"):
        try:
            config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
        except ValueError as exc:
            raise ConfigError(f"{name} could not be parsed: {exc}") from None
        if not config.get("NAME"):
            raise ConfigError(f"{name} names no database (postgres://user@host:5432/DBNAME)")
        return config
    if scheme == "sqlite":
        path = raw.split(":", 1)[1].lstrip("/")
        if not path or raw.startswith("sqlite://:memory:"):
            raise ConfigError(
                f"{name}: a SQLite URL needs a file path, e.g. sqlite:////srv/portal/db.sqlite3"
            )
        return sqlite_config(Path("/" + path))
    raise ConfigError(f"{name} must start with postgres:// or sqlite:/// (got {scheme!r})")


def sqlite_config(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # A web server and the worker cluster write at once: wait for the
            # lock instead of failing, and take it at BEGIN so a reader never
            # has to upgrade mid-transaction (the classic "database is locked").
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=20000; PRAGMA foreign_keys=ON;"
            ),
        },
        "TEST": {"NAME": str(path.with_name("test_" + path.name))},
    }


def redis_url(name: str) -> str:
    raw = env_str(name)
    if raw and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name} must start with redis://, rediss:// or unix:// (got {raw!r})")
    return raw


def redis_database_offset(url: str, offset: int) -> str:
    """The same Redis server, database number `offset` higher: redis://h:6379/2 + 1 →
    redis://h:6379/3."""
    from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix" or "db" in query:  # unix:///run/redis.sock?db=2 names it in the query
        query["db"] = [str(int(query.get("db", ["0"])[0]) + offset)]
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query, doseq=True)}"
    database = int(parts.path.strip("/") or 0) + offset
    return urlunsplit(parts._replace(path=f"/{database}"))


def email_config(name: str) -> dict:
    """PORTAL_EMAIL_URL: smtp://user:pass@host:587 (STARTTLS), smtps://… (TLS), or console://.
    Unset: the settings' default (each e-mail written to a file in the data dir)."""
    from urllib.parse import unquote, urlsplit

    raw = env_str(name)
    if not raw:
        return {}
    try:
        url = urlsplit(raw)
        port = url.port
    except ValueError as exc:
        raise ConfigError(f"{name} could not be parsed: {exc}") from None
    if url.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise ConfigError(
            f"{name} must look like smtp://user:password@host:587 or smtps://… or console://"
        )
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": url.hostname,
        "EMAIL_PORT": port or (465 if url.scheme == "smtps" else 587),
        "EMAIL_HOST_USER": unquote(url.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(url.password or ""),
        "EMAIL_USE_SSL": url.scheme == "smtps",
        "EMAIL_USE_TLS": url.scheme == "smtp" and port != 25,
    }


def secret_key(name: str, data_dir: Path) -> str:
    """PORTAL_SECRET_KEY, else one generated once into the data dir (mode 0600)."""
    value = env_str(name)
    if value:
        if len(value) < 50:
            raise ConfigError(f"{name} is too short: use at least 50 random characters")
        return value
    from django.core.management.utils import get_random_secret_key

    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    private_dir(data_dir)
    # Write aside, then link into place: link fails if another process won the
    # race, and nobody ever reads a half-written key.
    tmp = data_dir / f".secret_key.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(get_random_secret_key() + get_random_secret_key())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def field_keys(name: str, data_dir: Path) -> list[str]:
    """The keys of encrypted fields: PORTAL_FIELD_KEYS (comma-separated, the first
    encrypts, all decrypt), else `secret_fields.key` in the data dir, one key a line,
    generated once (mode 0600) beside `secret_key`."""
    from cryptography.fernet import Fernet

    value = env_str(name)
    if value:
        keys = [key.strip() for key in value.split(",") if key.strip()]
    else:
        path = data_dir / "secret_fields.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            tmp = data_dir / f".secret_fields.key.{os.getpid()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(Fernet.generate_key().decode() + "\n")
            try:
                os.link(tmp, path)  # as for secret_key: whoever links first wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                f"{name}: a key is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    if not keys:
        raise ConfigError(f"{name}: no key")
    return keys
