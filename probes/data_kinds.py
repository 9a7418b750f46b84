"""Probe kinds that ask a data store for one number: `sql` (a read-only scalar query on
PostgreSQL, MySQL/MariaDB or SQLite), `redis` (a field of INFO) and `promql` (an instant
query against a Prometheus HTTP API); plus `directory` (a folder's total size).

The connection string is the config's `url` key, so it is stored encrypted with the
rest of the config and shown masked like any probe URL (no password on a page).
A query is refused when the probe is saved unless it is one SELECT of one column;
when it runs, it runs in a read-only transaction under a statement timeout, and its
connection is closed whatever happens.
"""

import math
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

import requests
import sqlparse
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from sqlparse import tokens as T
from sqlparse.sql import Function, Identifier, IdentifierList, Parenthesis

from core import parsers
from core.outbound import RefusedAddress, check_host
from core.paths import readable_path
from core.secrets import mask_url, scrub
from probes import config
from probes.config import KindSettings
from probes.kinds import (
    CHOOSE,
    Limits,
    Result,
    _direction,
    _readable,
    _request_failure,
    fetch,
    grade,
    register,
)
from probes.models import Kind, Status

SQL_SCHEMES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}
APPLICATION_NAME = "ops-portal-probe"
# Words that make a SELECT write or lock; refused even though the read-only transaction would stop
# them.
WRITING_WORDS = {"INTO", "FOR UPDATE", "FOR SHARE", "LOCK", "FOR NO KEY UPDATE", "FOR KEY SHARE"}
GIB = 2**30


def _graded(value: float, limits: Limits, config: dict, latency: float, message: str) -> Result:
    return Result(
        grade(value, limits, lower_worse=config.get("direction") == "below"),
        value,
        latency,
        message,
    )


def _empty_result(config: dict, latency: float, message: str) -> Result:
    status = {"ok": Status.OK, "critical": Status.CRITICAL}.get(config.get("empty"), Status.ERROR)
    return Result(status, None, latency, message)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


# SQL -----------------------------------------------------------------------------


def check_scalar_query(query: str) -> str | None:
    """None when `query` is one SELECT of one column (no INTO, no locking clause), else why not."""
    statements = [s for s in sqlparse.split(query) if s.strip().rstrip(";").strip()]
    if len(statements) != 1:
        return _("Enter exactly one statement.")
    statement = sqlparse.parse(statements[0])[0]
    if statement.get_type() != "SELECT":
        return _("Only a SELECT may run here (the probe reads, never writes).")
    words = " ".join(
        token.normalized
        for token in statement.flatten()
        if token.ttype in T.Keyword or token.ttype in T.Keyword.DML
    )
    if any(f" {word} " in f" {words} " for word in WRITING_WORDS):
        return _("A SELECT that writes or locks rows is refused.")
    if any(
        token.ttype in T.Keyword.DML and token.normalized != "SELECT"
        for token in statement.flatten()
    ):
        return _("Only a SELECT may run here (the probe reads, never writes).")
    columns = _select_list(statement)
    if columns is None or isinstance(columns, IdentifierList) or (columns.ttype in T.Wildcard):
        return _(
            "The query must return one value: select one column (e.g. SELECT count(*) FROM …)."
        )
    return None


def _select_list(statement):
    """The token after the outermost SELECT (and DISTINCT): one column, an IdentifierList, or a
    wildcard."""
    seen_select = False
    for token in statement.tokens:
        if token.is_whitespace or token.ttype in T.Comment:
            continue
        if not seen_select:
            if token.ttype in T.Keyword.DML and token.normalized == "SELECT":
                seen_select = True
            elif token.ttype in T.Keyword.CTE or isinstance(
                token, Identifier | IdentifierList | Parenthesis
            ):
                continue  # WITH name AS (…)
            continue
        if token.ttype in T.Keyword and token.normalized in ("DISTINCT", "ALL"):
            continue
        if (
            isinstance(token, IdentifierList | Identifier | Function | Parenthesis)
            or token.ttype is not None
        ):
            return token
        return token
    return None


class SqlUrl(config.Text):
    def read(self, value):
        url = super().read(value)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValidationError(
                _("Enter a connection URL such as postgresql://user:password@host:5432/database.")
            ) from None
        scheme = SQL_SCHEMES.get(parts.scheme.lower())
        if scheme is None:
            raise ValidationError(
                _("Enter a postgresql://, mysql:// (MariaDB too) or sqlite:/// URL.")
            )
        if scheme == "sqlite":
            try:
                readable_path(unquote(parts.path))
            except ValidationError as exc:
                raise ValidationError(exc.messages[0]) from None
        elif not parts.hostname or not parts.path.strip("/"):
            raise ValidationError(
                _("Name the host and the database: %(example)s.")
                % {"example": f"{parts.scheme}://user:password@host/database"}
            )
        else:
            config.validate_host_name(parts.hostname)  # keeps its code, refused_address
        return url


def _scalar(rows) -> tuple[bool, float | None, str]:
    """(found, value, what it was) of a fetchmany(2) result."""
    if not rows:
        return False, None, _("no row")
    if len(rows) > 1:
        raise ValueError(_("more than one row; the query must return one value"))
    if len(rows[0]) != 1:
        raise ValueError(_("more than one column; the query must return one value"))
    value = rows[0][0]
    if value is None:
        return False, None, "NULL"
    if isinstance(value, bool):
        return True, float(value), str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(_("not a number: %(value)s") % {"value": str(value)[:50]}) from None
    return True, number, f"{number:g}"


def _query_postgresql(parts, query: str, timeout: float):
    import psycopg

    options = (
        f"-c statement_timeout={max(1, int(timeout * 1000))} -c default_transaction_read_only=on"
    )
    connection = psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        dbname=unquote(parts.path.lstrip("/")),
        user=unquote(parts.username or "") or None,
        password=unquote(parts.password or "") or None,
        connect_timeout=max(1, math.ceil(timeout)),
        application_name=APPLICATION_NAME,
        options=options,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, prepare=False)
            return cursor.fetchmany(2)
    finally:
        connection.close()


def _query_mysql(parts, query: str, timeout: float):
    import pymysql

    seconds = max(1, math.ceil(timeout))
    connection = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        database=unquote(parts.path.lstrip("/")),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        connect_timeout=seconds,
        read_timeout=seconds + 1,
        write_timeout=seconds,
        charset="utf8mb4",
        program_name=APPLICATION_NAME,
    )
    try:
        with connection.cursor() as cursor:
            # The server stops the statement itself (MariaDB's max_statement_time, MySQL's
            # max_execution_time); the read timeout is the backstop if it does not.
            try:
                cursor.execute("SET SESSION max_statement_time = %s", [float(timeout)])
            except pymysql.err.MySQLError:
                cursor.execute("SET SESSION max_execution_time = %s", [int(timeout * 1000)])
            cursor.execute("START TRANSACTION READ ONLY")
            cursor.execute(query)
            rows = cursor.fetchmany(2)
            cursor.execute("ROLLBACK")
            return rows
    finally:
        connection.close()


def _query_sqlite(parts, query: str, timeout: float):
    path, refused = _readable(unquote(parts.path))
    if refused:
        raise PermissionError(refused.message)
    if not path.is_file():
        raise FileNotFoundError(_("the database file does not exist"))
    deadline = time.monotonic() + timeout
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
    try:
        # Interrupts a query still running at the deadline.
        connection.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        return connection.execute(query).fetchmany(2)
    finally:
        connection.close()


QUERY = {"postgresql": _query_postgresql, "mysql": _query_mysql, "sqlite": _query_sqlite}


def check_sql(config: dict, limits: Limits) -> Result:
    """The value is what the query returned; no row or NULL is handled by `empty`."""
    url = config["url"]
    parts = urlsplit(url)
    engine = SQL_SCHEMES[parts.scheme.lower()]
    started = time.monotonic()
    try:
        if engine != "sqlite":
            check_host(parts.hostname or "", resolve=True)
        rows = QUERY[engine](parts, config["query"], limits.timeout)
        found, value, shown = _scalar(rows)
    except RefusedAddress as exc:
        return Result(Status.CRITICAL, latency_ms=_ms(started), message=str(exc))
    except ValueError as exc:
        return Result(Status.ERROR, latency_ms=_ms(started), message=str(exc))
    except Exception as exc:  # the driver's error: a timeout, a refused login, a missing table
        # A driver's message can quote the connection string.
        error = scrub(f"{type(exc).__name__}: {exc}".strip(), url, mask_url)[:400]
        return Result(Status.ERROR, latency_ms=_ms(started), message=error)
    latency = _ms(started)
    if not found:
        return _empty_result(config, latency, _("the query returned %(what)s") % {"what": shown})
    return _graded(value, limits, config, latency, _("query returned %(value)s") % {"value": shown})


# Redis ---------------------------------------------------------------------------


class RedisUrl(config.Text):
    def read(self, value):
        url = super().read(value)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValidationError(
                _("Enter a redis:// or rediss:// URL, e.g. redis://:password@host:6379/0.")
            )
        config.validate_host_name(parts.hostname)
        return url


def check_redis(config: dict, limits: Limits) -> Result:
    """The value is one numeric field of INFO (e.g. used_memory, connected_clients);
    a keyspace field is read as db0.keys."""
    import redis

    url = config["url"]
    started = time.monotonic()
    client = redis.Redis.from_url(
        url,
        socket_timeout=limits.timeout,
        socket_connect_timeout=limits.timeout,
        retry_on_timeout=False,
        client_name=APPLICATION_NAME,
    )
    try:
        check_host(urlsplit(url).hostname or "", resolve=True)
        info = client.info(config.get("section") or "default")
    except RefusedAddress as exc:
        return Result(Status.CRITICAL, latency_ms=_ms(started), message=str(exc))
    except redis.RedisError as exc:
        return Result(
            Status.CRITICAL,
            latency_ms=_ms(started),
            message=scrub(_("Redis: %(error)s") % {"error": exc}, url, mask_url)[:400],
        )
    finally:
        client.close()
    latency = _ms(started)
    value = info
    for part in config["field"].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Result(
            Status.ERROR,
            latency_ms=latency,
            message=_("INFO has no numeric field %(field)s") % {"field": config["field"]},
        )
    return _graded(float(value), limits, config, latency, f"{config['field']} = {value}")


# PromQL --------------------------------------------------------------------------


def promql_value(data) -> tuple[list[float], str]:
    """The sample values of an instant query's answer, and what they were (the series' labels)."""
    if (
        not isinstance(data, dict)
        or data.get("status") != "success"
        or not isinstance(data.get("data"), dict)
    ):
        error = data.get("error") if isinstance(data, dict) else None
        raise ValueError(
            _("the query failed: %(error)s")
            % {"error": str(error or "not a Prometheus answer")[:200]}
        )
    kind, result = data["data"].get("resultType"), data["data"].get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [float(result[1])], "scalar"
    if kind != "vector" or not isinstance(result, list):
        raise ValueError(_("the query gave a %(kind)s, not an instant vector") % {"kind": kind})
    values, names = [], []
    for series in result:
        try:
            values.append(float(series["value"][1]))
        except (KeyError, IndexError, TypeError, ValueError):
            raise ValueError(_("a sample is not a number")) from None
        labels = series.get("metric") or {}
        names.append("{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))[:80] + "}")
    return values, ", ".join(names)[:200]


def check_promql(config: dict, limits: Limits) -> Result:
    """An instant query; the vector must reduce to one value (`reduce`: single, max, min, sum,
    avg)."""
    base = config["url"].rstrip("/")
    url = f"{base}/api/v1/query?{urlencode({'query': config['query']})}"
    try:
        fetched = fetch(url, timeout=limits.timeout, verify=config.get("verify_tls", True))
    except (requests.RequestException, RefusedAddress) as exc:
        return _request_failure(exc, config["url"], timeout=limits.timeout)
    latency = fetched.latency_ms
    try:
        data = parsers.loads(fetched.body)
    except ValueError:
        return Result(
            Status.CRITICAL,
            latency_ms=latency,
            message=_("HTTP %(code)s, not JSON") % {"code": fetched.status_code},
        )
    try:
        values, series = promql_value(data)
    except ValueError as exc:
        return Result(Status.ERROR, latency_ms=latency, message=str(exc))
    if not values:
        return _empty_result(config, latency, _("the query returned no series"))
    reduce = config.get("reduce", "single")
    if reduce == "single" and len(values) > 1:
        return Result(
            Status.ERROR,
            latency_ms=latency,
            message=_("%(count)s series (%(series)s); choose how to reduce them to one value")
            % {"count": len(values), "series": series},
        )
    value = {
        "single": values[0] if values else None,
        "max": max(values),
        "min": min(values),
        "sum": sum(values),
        "avg": sum(values) / len(values),
    }[reduce]
    if math.isnan(value):
        return Result(Status.ERROR, latency_ms=latency, message=_("the query returned NaN"))
    return _graded(value, limits, config, latency, f"{reduce} {value:g} ({series})")


# Directory size ------------------------------------------------------------------


def check_directory(config: dict, limits: Limits) -> Result:
    """The value is the folder's total size in GB (files under it, links not followed)."""
    path, refused = _readable(config["path"])
    if refused:
        return refused
    if not Path(path).is_dir():
        return Result(Status.CRITICAL, message=_("the directory does not exist"))
    started = time.monotonic()
    deadline = started + limits.timeout
    total, files = 0, 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # removed while we walked
            files += 1
        if files > config.get("max_files", 100_000) or time.monotonic() > deadline:
            return Result(
                Status.ERROR,
                latency_ms=_ms(started),
                message=_("stopped after %(files)s files: too many to sum within the timeout")
                % {"files": files},
            )
    size = round(total / GIB, 3)
    return Result(
        grade(size, limits),
        size,
        _ms(started),
        _("%(size)s GB in %(files)s files") % {"size": size, "files": files},
    )


# The kinds' settings -------------------------------------------------------------


def _empty():
    return config.Choice(
        label=gettext_lazy("When there is no value"),
        message=gettext_lazy("Choose error, critical or ok."),
        choices=[
            ("error", gettext_lazy("error")),
            ("critical", gettext_lazy("critical")),
            ("ok", gettext_lazy("ok")),
        ],
    )


@register(Kind.SQL, check=check_sql)
class SqlSettings(KindSettings):
    url = SqlUrl(
        label=gettext_lazy("Connection URL"),
        required=True,
        max_length=2000,
        help_text=gettext_lazy(
            "postgresql://user:password@host:5432/db, mysql://… (MariaDB too) or "
            "sqlite:////absolute/path.db; the password is stored encrypted and shown masked."
        ),
    )
    query = config.Text(
        label=gettext_lazy("Query"),
        required=True,
        max_length=5000,
        widget=config.lines(),
        help_text=gettext_lazy(
            "One SELECT returning one value, e.g. SELECT count(*) FROM "
            "workflow_instances WHERE status = 'FAILED'."
        ),
    )
    direction = _direction()
    empty = _empty()

    def rules(self, cleaned, errors):
        if cleaned.get("query"):
            if len(cleaned["query"]) > 5000:
                errors["query"] = _("At most 5000 characters.")
            elif problem := check_scalar_query(cleaned["query"]):
                errors["query"] = problem


@register(Kind.REDIS, check=check_redis)
class RedisSettings(KindSettings):
    url = RedisUrl(
        label=gettext_lazy("Redis URL"),
        required=True,
        max_length=2000,
        help_text=gettext_lazy("redis://:password@host:6379/0; the password is stored encrypted."),
    )
    section = config.Text(
        label=gettext_lazy("INFO section"),
        max_length=50,
        help_text=gettext_lazy("e.g. memory; empty: the default sections."),
    )
    field = config.Text(
        label=gettext_lazy("Field"),
        required=True,
        max_length=100,
        help_text=gettext_lazy("e.g. used_memory."),
    )
    direction = _direction()

    def rules(self, cleaned, errors):
        if (
            cleaned.get("field")
            and not cleaned["field"].replace("_", "").replace(".", "").isalnum()
        ):
            errors["field"] = _(
                "Enter a field name of INFO, e.g. used_memory or connected_clients."
            )


@register(Kind.PROMQL, check=check_promql)
class PromqlSettings(KindSettings):
    url = config.Url(
        label=gettext_lazy("Prometheus URL"),
        help_text=gettext_lazy("The server's base URL, e.g. http://prometheus:9090."),
    )
    query = config.Text(
        label=gettext_lazy("PromQL query"), required=True, max_length=2000, widget=config.lines()
    )
    reduce = config.Choice(
        label=gettext_lazy("Several series"),
        message=CHOOSE,
        choices=[
            ("single", gettext_lazy("must be one series")),
            ("max", gettext_lazy("take the largest")),
            ("min", gettext_lazy("take the smallest")),
            ("sum", gettext_lazy("add them up")),
            ("avg", gettext_lazy("take the mean")),
        ],
    )
    empty = _empty()
    direction = _direction()
    verify_tls = config.Boolean(label=gettext_lazy("Verify the TLS certificate"))

    def rules(self, cleaned, errors):
        if len(cleaned.get("query", "")) > 2000:
            errors["query"] = _("At most 2000 characters.")


@register(Kind.DIRECTORY, check=check_directory, thresholds=(None, None, "GB"))
class DirectorySettings(KindSettings):
    path = config.Path(allowed=readable_path)
    max_files = config.Integer(
        label=gettext_lazy("Stop after this many files"),
        default=100_000,
        minimum=1,
        maximum=10_000_000,
    )
