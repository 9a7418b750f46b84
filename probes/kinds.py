"""Probe kinds: one plain check function and one settings declaration per kind (`register`).

A check takes the probe's cleaned config and its limits and returns a Result;
it never raises for a failing target (that is a critical result) and is
bounded by `timeout`. A kind's settings (probes.config.KindSettings) turn raw config into
cleaned config or raise ValidationError keyed by config field, so forms and the API show
errors where they belong; the same fields draw the probe form.
"""

import json
import re
import socket
import sqlite3
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import parsers
from core.outbound import (
    RefusedAddress,
    check_host,
    check_peer,
    check_url,
    guard_response,
)
from core.paths import allowed_path, readable_path
from core.secrets import mask_url, redact, scrub
from probes import config, messages
from probes.config import KindSettings
from probes.models import HOST_KINDS, Kind, Status

BODY_LIMIT = 1024 * 1024  # bytes of a response body we ever read
MATCH_SHOWN = 200  # characters of a matching log line a result shows
USER_AGENT = "ops-portal-probe/1"

# A probe with verify_tls off chose so; urllib3 would otherwise log a warning on every run.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@dataclass(frozen=True)
class Result:
    status: str
    value: float | None = None
    latency_ms: float | None = None
    message: str = ""
    # What a sampled kind (KindSpec.sampled) keeps for its next run; None: nothing to keep.
    sample: dict | None = None
    # Why it failed, rendered in the reader's language (probes.messages), and the raw detail.
    code: str = ""
    params: dict | None = None
    detail: str = ""


def failed(
    code: str,
    params: dict | None = None,
    *,
    detail: str = "",
    status: str = Status.CRITICAL,
    value: float | None = None,
    latency_ms: float | None = None,
) -> Result:
    """A result that says why in words (probes.messages); `message` is those words as the check
    ran."""
    return Result(
        status,
        value,
        latency_ms,
        messages.render(code, params),
        code=code,
        params=params or {},
        detail=detail,
    )


@dataclass(frozen=True)
class Limits:
    timeout: float
    warning: float | None
    critical: float | None


# Thresholds ------------------------------------------------------------------


@dataclass(frozen=True)
class KindSpec:
    """What a kind is: its settings (one declaration: validation, API and form), its check and
    its default (warning, critical, unit); None: no default threshold."""

    settings: type[KindSettings]
    check: Callable
    thresholds: tuple = (None, None, "")
    lower_is_worse: bool = False  # a smaller value is worse (days left on a certificate)
    sampled: bool = False  # the check keeps a sample for its next run (Probe.sample)


KINDS: dict[str, KindSpec] = {}
CHECKS: dict[str, Callable] = {}  # kind → check, what run_check calls


def register(
    *kinds: str,
    check: Callable,
    thresholds: tuple = (None, None, ""),
    lower_is_worse: bool = False,
    sampled: bool = False,
):
    """Class decorator: `kinds` are configured by this KindSettings and checked by `check`."""

    def declare(settings: type[KindSettings]) -> type[KindSettings]:
        for kind in kinds:
            KINDS[kind] = KindSpec(settings, check, thresholds, lower_is_worse, sampled)
            CHECKS[kind] = check
        return settings

    return declare


# A disk measured in free GB (`measure: free_gb`): less is worse.
FREE_GB_THRESHOLDS = (10.0, 5.0, "GB free")
DISK_MEASURES = ("used_percent", "free_gb")


def _has_setting(kind: str, key: str) -> bool:
    return kind in KINDS and key in KINDS[kind].settings.base_fields


def value_unit(kind: str, config: dict | None = None) -> str:
    """The unit of a probe's value as pages show it: "ms" for HTTP/TCP (their value is the latency),
    "h" for a heartbeat (hours since the previous ping), else its thresholds' unit."""
    if kind in (Kind.HTTP, Kind.TCP):
        return "ms"
    if kind == Kind.HEARTBEAT:
        return "h"
    return default_thresholds(kind, config)[2]


def lower_is_worse(kind: str, config: dict) -> bool:
    # A kind with a `direction` setting says which way is worse; a disk measured in free GB, lower.
    return (
        (kind in KINDS and KINDS[kind].lower_is_worse)
        or (_has_setting(kind, "direction") and config.get("direction") == "below")
        or (_has_setting(kind, "measure") and config.get("measure") == "free_gb")
    )


def default_thresholds(kind: str, config: dict | None = None) -> tuple:
    if _has_setting(kind, "measure") and (config or {}).get("measure") == "free_gb":
        return FREE_GB_THRESHOLDS
    return KINDS[kind].thresholds if kind in KINDS else (None, None, "")


def limits_for(kind: str, warning, critical, timeout: float, config: dict | None = None) -> Limits:
    default_warning, default_critical, _unit = default_thresholds(kind, config)
    return Limits(
        timeout=timeout,
        warning=default_warning if warning is None else warning,
        critical=default_critical if critical is None else critical,
    )


def validate_thresholds(kind: str, config: dict, warning, critical) -> None:
    limits = limits_for(kind, warning, critical, 1, config)
    if limits.warning is None or limits.critical is None:
        return
    if lower_is_worse(kind, config):
        if limits.warning < limits.critical:
            raise ValidationError(
                {
                    "warning": _(
                        "For this kind a lower value is worse: the warning threshold "
                        "must be at or above the critical one."
                    )
                }
            )
    elif limits.warning > limits.critical:
        raise ValidationError(
            {"warning": _("The warning threshold must not be above the critical one.")}
        )


def grade(value: float, limits: Limits, *, lower_worse: bool = False) -> str:
    def beyond(threshold):
        return threshold is not None and (value <= threshold if lower_worse else value >= threshold)

    if beyond(limits.critical):
        return Status.CRITICAL
    if beyond(limits.warning):
        return Status.WARNING
    return Status.OK


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


# Config helpers --------------------------------------------------------------


def _readable(path: str) -> tuple[Path | None, Result | None]:
    """(the resolved path to read, None), or (None, the refusal as a result). Checked again at run
    time: roots change, probes saved before them stay, a symlink can be swapped. (Backup
    destinations, rows in the database, are checked when the probe is saved.)"""
    try:
        return readable_path(path, backups=False), None
    except ValidationError as exc:
        return None, Result(Status.ERROR, message=exc.messages[0])


# JSON expectations: "status in [ok, healthy]", "disk_free_gb >= 5", "database == ok"

EXPECTATION = re.compile(
    r"^\s*(?P<path>[A-Za-z_][\w.-]*)\s*(?P<op>==|!=|>=|<=|>|<|not in|in)\s*(?P<value>.+?)\s*$"
)


def _literal(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return parsers.loads(text)
    except ValueError:
        if re.fullmatch(r"[\w.-]+", text):
            return text  # a bare word: ok, healthy
        raise ValueError(text) from None


def parse_expectation(text: str) -> tuple[str, str, object]:
    match = EXPECTATION.match(text or "")
    if not match:
        raise ValueError(text)
    op, raw = match["op"], match["value"].strip()
    if op.endswith("in"):
        if not (raw.startswith("[") and raw.endswith("]")):
            raise ValueError(text)
        inner = raw[1:-1].strip()
        value = [_literal(part) for part in inner.split(",")] if inner else []
    else:
        value = _literal(raw)
        if op in (">", "<", ">=", "<=") and not isinstance(value, int | float):
            raise ValueError(text)
    return match["path"], op, value


def explain_expectation(data, expectation: str) -> tuple[str, dict] | None:
    """None when the JSON document meets the expectation, else why not as (code, params)."""
    path, op, expected = parse_expectation(expectation)
    actual = data
    for part in path.split("."):
        if not isinstance(actual, dict) or part not in actual:
            return messages.expectation_failed(path, op, expected, None, missing=True)
        actual = actual[part]
    try:
        met = {
            "==": lambda: actual == expected,
            "!=": lambda: actual != expected,
            ">=": lambda: actual >= expected,
            "<=": lambda: actual <= expected,
            ">": lambda: actual > expected,
            "<": lambda: actual < expected,
            "in": lambda: actual in expected,
            "not in": lambda: actual not in expected,
        }[op]()
    except TypeError:
        met = False
    if met:
        return None
    return messages.expectation_failed(path, op, expected, actual)


def check_expectation(data, expectation: str) -> str | None:
    """None when the JSON document meets the expectation, else why not, in words."""
    problem = explain_expectation(data, expectation)
    return None if problem is None else messages.render(*problem)


# Fetching over HTTP, capped ---------------------------------------------------


@dataclass
class Fetched:
    status_code: int
    body: bytes
    truncated: bool
    latency_ms: float


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: dict | None = None,
    timeout: float,
    verify: bool = True,
    redirects: bool = True,
) -> Fetched:
    """One request whose body read stops at BODY_LIMIT and whose total time stops at `timeout`.

    requests' timeout bounds each socket operation, not the whole exchange; a
    server trickling bytes would hold us forever, hence the deadline.
    """
    started = time.monotonic()
    deadline = started + timeout
    check_url(url, resolve=True)
    # The hook refuses a redirect to, or a connection landing on, a link-local or metadata address
    # before its body is read: a probe result never shows what such a target answered.
    with requests.request(
        method,
        url,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=(timeout, timeout),
        verify=verify,
        allow_redirects=redirects,
        stream=True,
        hooks={"response": guard_response},
    ) as response:
        chunks, size, truncated = [], 0, False
        for chunk in response.iter_content(64 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > BODY_LIMIT:
                truncated = True
                break
            if time.monotonic() > deadline:
                raise requests.Timeout(_("the body took longer than the timeout"))
        body = b"".join(chunks)[:BODY_LIMIT]
        return Fetched(response.status_code, body, truncated, _ms(started))


def _request_failure(exc: Exception, url: str, *, timeout: float | None = None) -> Result:
    """Why a request failed in words ("connection refused", "timed out after 5 s"), the library's
    own text kept as the detail."""
    if isinstance(exc, RefusedAddress):
        return Result(Status.CRITICAL, message=str(exc))
    # requests quotes the URL in its errors; results are shown to everyone.
    error = scrub(str(exc), url, mask_url)
    code, params = messages.classify(exc, timeout=timeout)
    if isinstance(exc, requests.exceptions.SSLError) and not code.startswith("tls"):
        code, params = "tls_error", {}
    return failed(code or "connect", params, detail=error)


# Kinds -----------------------------------------------------------------------

HTTP_METHODS = ("GET", "HEAD", "POST")

# How a JSON body's top-level `status` is read: the words of the IETF health+json draft
# (pass/warn/fail and its aliases ok/up, down/error) and Spring Boot Actuator (UP, DOWN,
# OUT_OF_SERVICE, UNKNOWN), compared without case. A word not listed changes nothing.
HEALTH_WORDS = {
    **dict.fromkeys(("pass", "ok", "healthy", "up"), Status.OK),
    **dict.fromkeys(("warn", "warning", "degraded"), Status.WARNING),
    **dict.fromkeys(("fail", "unhealthy", "down", "error", "out_of_service"), Status.CRITICAL),
}
# `auto`: a JSON body with a status word is graded by it; `require`: the body must be such a
# document (an HTML page or a missing status is critical); `off`: the body's status is not read.
HEALTH_MODES = ("auto", "require", "off")
HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body|<title)", re.IGNORECASE)
HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
TITLE_SHOWN = 80  # characters of an HTML page's title a result quotes


def _not_json(body: bytes) -> str:
    """Why a body that should be JSON is not, in words an on-call reader understands."""
    head = body[:BODY_LIMIT]
    if HTML_START.match(head) or b"<html" in head[:1024].lower():
        title = HTML_TITLE.search(head)
        if title:
            text = " ".join(title[1].decode("utf-8", "replace").split())[:TITLE_SHOWN]
            return _(
                "the body is not JSON but an HTML page (%(title)s): an error, proxy or login page?"
            ) % {"title": redact(text)}
        return _("the body is not JSON but an HTML page: an error, proxy or login page?")
    return _("the body is not JSON")


def health_status(data, mode: str) -> tuple[str | None, str]:
    """(the status a health document's `status` word means, a note), or (None, "") when the body
    has no word to go by (and the mode does not require one)."""
    word = data.get("status") if isinstance(data, dict) else None
    status = HEALTH_WORDS.get(word.strip().lower()) if isinstance(word, str) else None
    if status is None:
        if mode == "require":
            return Status.CRITICAL, _(
                'no health status in the body (expected e.g. "status": "pass")'
            )
        return None, ""
    note = _("health %(word)s") % {"word": json.dumps(word)[:40]}
    output = data.get("output")  # the IETF draft's human-readable reason for warn/fail
    if status != Status.OK and isinstance(output, str) and output.strip():
        note += ": " + redact(" ".join(output.split()))[:200]
    return status, note


def _worse(a: str, b: str) -> str:
    order = (Status.OK, Status.WARNING, Status.CRITICAL)
    return max(a, b, key=order.index)


def check_http(config: dict, limits: Limits) -> Result:
    try:
        fetched = fetch(
            config["url"],
            method=config.get("method", "GET"),
            headers=config.get("headers"),
            timeout=limits.timeout,
            verify=config.get("verify_tls", True),
            redirects=config.get("follow_redirects", True),
        )
    except (requests.RequestException, RefusedAddress) as exc:
        return _request_failure(exc, config["url"], timeout=limits.timeout)
    latency = fetched.latency_ms
    expected = config.get("expected_status") or [200]
    if fetched.status_code not in expected:
        return failed(
            "http_status",
            {"code": fetched.status_code, "expected": ", ".join(map(str, expected))},
            value=latency,
            latency_ms=latency,
        )
    critical_rules, warning_rules = config.get("expect") or [], config.get("expect_warning") or []
    mode = config.get("health", "auto")
    needs_json = bool(critical_rules or warning_rules) or mode == "require"
    status, context, problems = grade(latency, limits), [f"HTTP {fetched.status_code}"], []
    if fetched.truncated:
        if needs_json:
            return Result(
                Status.CRITICAL,
                latency,
                latency,
                _("the body is larger than %(limit)s bytes; not parsed") % {"limit": BODY_LIMIT},
            )
        context.append(_("body read capped at %(limit)s bytes") % {"limit": BODY_LIMIT})
        return Result(status, latency, latency, "; ".join(context))
    try:
        data = (
            parsers.loads(fetched.body)
            if needs_json or (mode == "auto" and fetched.body.lstrip()[:1] == b"{")
            else None
        )
    except ValueError:
        if needs_json:
            return Result(Status.CRITICAL, latency, latency, _not_json(fetched.body))
        data = None
    # An expectation on `status` is the probe saying how to read it: the conventions step aside.
    rules_read_status = any(
        parse_expectation(rule)[0] == "status" for rule in critical_rules + warning_rules
    )
    if data is not None and mode != "off" and not rules_read_status:
        health, note = health_status(data, mode)
        if health is not None:
            (context if health == Status.OK else problems).append((health, note))
    coded = []  # (level, code, params) of the expectations not met, to say in the reader's language
    for rules, level in ((critical_rules, Status.CRITICAL), (warning_rules, Status.WARNING)):
        for expectation in rules:
            problem = explain_expectation(data, expectation)
            if problem:
                problems.append((level, messages.render(*problem)))
                coded.append((level, *problem))
    for level, _note in problems:
        status = _worse(status, level)
    if len(problems) == 1 and coded and _worse(grade(latency, limits), coded[0][0]) == coded[0][0]:
        # One field is all that is wrong: its words, translated where it is read (probes.messages).
        _level, code, params = coded[0]
        return failed(code, params, status=status, value=latency, latency_ms=latency)
    # The reasons first, the worst first: a page quotes the start of the message.
    reasons = [note for _level, note in sorted(problems, key=lambda p: p[0] != Status.CRITICAL)]
    context = [note if isinstance(note, str) else note[1] for note in context]
    return Result(status, latency, latency, "; ".join([*reasons, *context]))


def check_tcp(config: dict, limits: Limits) -> Result:
    started = time.monotonic()
    try:
        check_host(config["host"], resolve=True)
        with socket.create_connection(
            (config["host"], config["port"]), timeout=limits.timeout
        ) as sock:
            latency = _ms(started)
            check_peer(sock)
    except RefusedAddress as exc:
        return Result(Status.CRITICAL, message=str(exc))
    except OSError as exc:
        code, params = messages.classify(exc, timeout=limits.timeout)
        return failed(code or "connect", params, detail=str(exc))
    return Result(grade(latency, limits), latency, latency, _("connected"))


def _disk_path(value: str) -> Path:
    try:
        return allowed_path(value)
    except ValidationError:
        # How full the data dir's disk is reads no file in it: the one place outside the roots
        # allowed.
        if (
            value.startswith("/")
            and "\x00" not in value
            and Path(value).resolve() == Path(settings.DATA_DIR).resolve()
        ):
            return Path(settings.DATA_DIR)
        raise


def disk_usage(path: str) -> tuple[float, float]:
    """(percent used, GB free)."""
    usage = psutil.disk_usage(path)
    return usage.percent, round(usage.free / 2**30, 2)


def check_disk(
    config: dict, limits: Limits, *, measure: Callable[[str], tuple] = disk_usage
) -> Result:
    """The value is the percentage used, or the free GB (`measure: free_gb`, lower is worse)."""
    try:
        used, free_gb = measure(config["path"])
    except OSError as exc:
        return Result(Status.CRITICAL, message=str(exc))
    message = _("%(used).1f %% used, %(free)s GB free") % {"used": used, "free": free_gb}
    if config.get("measure") == "free_gb":
        return Result(grade(free_gb, limits, lower_worse=True), free_gb, None, message)
    return Result(grade(used, limits), used, None, message)


# CPU and memory (sampled kinds) are judged on a sustained value, never on one instantaneous
# reading: a busy second (a deploy, a neighbour's build) must not page anybody. Each run keeps a
# sample on its probe (Probe.sample) that the next run, in whichever worker, starts from. A previous
# CPU reading older than this is no baseline (the portal was down, the probe paused).
CPU_BASELINE_MAX_AGE = 3600.0
# Memory: the mean of the readings of this many last seconds (the current one included).
MEMORY_WINDOW = 300.0
MEMORY_READINGS = 30  # kept at most, whatever the interval


def cpu_counters() -> tuple[float, float]:
    """(busy seconds, total seconds) of all CPUs since boot: the difference of two readings is the
    average use between them, however long apart (psutil.cpu_percent does the same, per process)."""
    times = psutil.cpu_times()
    # Linux counts guest time inside user time already.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


def cpu_percent(timeout: float) -> float:
    # The first run's glance: sampled over a short window (the first non-blocking call says 0.0).
    return psutil.cpu_percent(interval=min(0.5, timeout))


def _at_most_warning(status: str) -> str:
    return Status.WARNING if status == Status.CRITICAL else status


def check_cpu(
    config: dict,
    limits: Limits,
    *,
    previous: dict | None = None,
    counters: Callable[[], tuple] | None = None,
    measure: Callable[[float], float] | None = None,
) -> Result:
    """The value is the average CPU use since the previous run. A first run (or one after a long
    gap, or a reboot) has no baseline: it shows a short glance, graded at most a warning, which
    never pages."""
    now = time.time()
    busy, total = (counters or cpu_counters)()
    sample = {"at": now, "busy": busy, "total": total}
    previous = previous or {}
    try:
        gap = now - float(previous["at"])
        spent = total - float(previous["total"])
        used = round(min(100.0, max(0.0, (busy - float(previous["busy"])) / spent * 100)), 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        gap = spent = None
    if gap is None or not 0 < gap <= CPU_BASELINE_MAX_AGE or spent <= 0:
        glance = round((measure or cpu_percent)(limits.timeout), 1)
        return Result(
            _at_most_warning(grade(glance, limits)),
            glance,
            None,
            _("%(used).1f %% CPU right now; judged on the average from the next run on")
            % {"used": glance},
            sample,
        )
    return Result(
        grade(used, limits),
        used,
        None,
        _("%(used).1f %% CPU on average over the last %(seconds)s s")
        % {"used": used, "seconds": round(gap)},
        sample,
    )


def memory_percent() -> float:
    return psutil.virtual_memory().percent


def check_memory(
    config: dict,
    limits: Limits,
    *,
    previous: dict | None = None,
    measure: Callable[[], float] | None = None,
) -> Result:
    """The value is the mean of the readings of the last MEMORY_WINDOW seconds, this one
    included."""
    now = time.time()
    current = float((measure or memory_percent)())
    kept = []
    for reading in (previous or {}).get("readings", []):
        try:
            at, value = float(reading[0]), float(reading[1])
        except (TypeError, ValueError, IndexError):
            continue
        if now - MEMORY_WINDOW < at < now:
            kept.append([at, value])
    readings = [*kept[-(MEMORY_READINGS - 1) :], [now, current]]
    mean = round(sum(value for _at, value in readings) / len(readings), 1)
    if len(readings) == 1:
        message = _("%(used).1f %% memory used") % {"used": current}
    else:
        message = _(
            "%(used).1f %% memory used on average over %(count)s readings (%(now).1f %% now)"
        ) % {"used": mean, "count": len(readings), "now": current}
    return Result(grade(mean, limits), mean, None, message, {"readings": readings})


def check_file(config: dict, limits: Limits, *, now: float | None = None) -> Result:
    """The value is the file's age in minutes; thresholds apply to it."""
    path, refused = _readable(config["path"])
    if refused:
        return refused
    try:
        stat = path.stat()
    except FileNotFoundError:
        return Result(Status.CRITICAL, message=_("the file does not exist"))
    except OSError as exc:
        return Result(Status.CRITICAL, message=str(exc))
    age = round(((now or time.time()) - stat.st_mtime) / 60, 1)
    if stat.st_size < config.get("min_size_bytes", 0):
        return Result(
            Status.CRITICAL,
            age,
            None,
            _("%(size)s bytes, expected at least %(min)s")
            % {"size": stat.st_size, "min": config["min_size_bytes"]},
        )
    if config.get("max_size_bytes") and stat.st_size > config["max_size_bytes"]:
        return Result(
            Status.CRITICAL,
            age,
            None,
            _("%(size)s bytes, expected at most %(max)s")
            % {"size": stat.st_size, "max": config["max_size_bytes"]},
        )
    return Result(
        grade(age, limits),
        age,
        None,
        _("%(size)s bytes, %(age)s min old") % {"size": stat.st_size, "age": age},
    )


SQLITE_CHECKS = ("quick_check", "integrity_check")


def check_sqlite(config: dict, limits: Limits) -> Result:
    """PRAGMA quick_check/integrity_check on a read-only connection; the value is the WAL size in
    MiB."""
    path, refused = _readable(config["path"])
    if refused:
        return refused
    if not path.is_file():
        return Result(Status.CRITICAL, message=_("the database file does not exist"))
    started = time.monotonic()
    pragma = "integrity_check" if config.get("check") == "integrity_check" else "quick_check"
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=limits.timeout)
        try:
            rows = [row[0] for row in connection.execute(f"PRAGMA {pragma}").fetchmany(5)]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return Result(
            Status.CRITICAL,
            latency_ms=_ms(started),
            message=_("%(pragma)s failed: %(error)s") % {"pragma": pragma, "error": exc},
        )
    latency = _ms(started)
    if rows != ["ok"]:
        return Result(
            Status.CRITICAL, latency_ms=latency, message=redact("; ".join(map(str, rows)), 500)
        )
    wal = path.with_name(path.name + "-wal")
    wal_mib = round(wal.stat().st_size / 2**20, 2) if wal.exists() else 0.0
    return Result(
        grade(wal_mib, limits),
        wal_mib,
        latency,
        _("%(pragma)s ok; WAL %(wal)s MiB") % {"pragma": pragma, "wal": wal_mib},
    )


def check_log_errors(config: dict, limits: Limits) -> Result:
    """The value is how many lines in the last `tail_kib` KiB match the pattern."""
    path, refused = _readable(config["path"])
    if refused:
        return refused
    pattern = re.compile(config.get("pattern", "ERROR"))
    tail = config.get("tail_kib", 64) * 1024
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - tail))
            text = handle.read(tail).decode("utf-8", errors="replace")
    except OSError as exc:
        return Result(Status.CRITICAL, message=str(exc))
    lines = text.splitlines()
    if size > tail and lines:
        lines = lines[1:]  # the first line was cut in the middle
    matches = [line for line in lines if pattern.search(line)]
    message = _("%(count)s matching lines") % {"count": len(matches)}
    if matches:
        message += ": " + redact(matches[-1].strip(), MATCH_SHOWN)
    return Result(grade(len(matches), limits), len(matches), None, message)


def check_process(config: dict, limits: Limits) -> Result:
    """The value is how many processes have that name; none is critical."""
    name = config["name"]
    count = sum(1 for proc in psutil.process_iter(["name"]) if proc.info["name"] == name)
    if not count:
        return Result(Status.CRITICAL, 0, None, _("no process named %(name)s") % {"name": name})
    return Result(Status.OK, count, None, _("%(count)s running") % {"count": count})


def check_tls_expiry(config: dict, limits: Limits, *, now: datetime | None = None) -> Result:
    """The value is days until the certificate expires."""
    from cryptography import x509

    context = ssl.create_default_context()
    if not config.get("verify_tls", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    started = time.monotonic()
    server_name = config.get("server_name") or config["host"]
    try:
        check_host(config["host"], resolve=True)
        with socket.create_connection(
            (config["host"], config["port"]), timeout=limits.timeout
        ) as raw:
            check_peer(raw)
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
    except RefusedAddress as exc:
        return Result(Status.CRITICAL, message=str(exc))
    except (OSError, ssl.SSLError) as exc:
        code, params = messages.classify(exc, timeout=limits.timeout)
        return failed(code or "tls_error", params, detail=str(exc))
    latency = _ms(started)
    expires = x509.load_der_x509_certificate(der).not_valid_after_utc
    days = round((expires - (now or datetime.now(UTC))).total_seconds() / 86400, 1)
    return Result(
        grade(days, limits, lower_worse=True),
        days,
        latency,
        _("expires %(date)s (%(days)s days)") % {"date": expires.date().isoformat(), "days": days},
    )


def check_prometheus(config: dict, limits: Limits) -> Result:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        fetched = fetch(
            config["url"], timeout=limits.timeout, verify=config.get("verify_tls", True)
        )
    except (requests.RequestException, RefusedAddress) as exc:
        return _request_failure(exc, config["url"], timeout=limits.timeout)
    if fetched.status_code != 200:
        return Result(
            Status.CRITICAL, latency_ms=fetched.latency_ms, message=f"HTTP {fetched.status_code}"
        )
    wanted = config.get("labels") or {}
    try:
        for family in text_string_to_metric_families(
            fetched.body.decode("utf-8", errors="replace")
        ):
            for sample in family.samples:
                if sample.name == config["metric"] and all(
                    sample.labels.get(k) == v for k, v in wanted.items()
                ):
                    value = float(sample.value)
                    status = grade(value, limits, lower_worse=config.get("direction") == "below")
                    return Result(status, value, fetched.latency_ms, f"{sample.name} = {value:g}")
    except ValueError:
        # The parser's error quotes the line it choked on, and a scraped page can hold anything
        # (a config dump with db_password=…): results are shown to every viewer.
        return Result(
            Status.CRITICAL, latency_ms=fetched.latency_ms, message=_("not a Prometheus text page")
        )
    return Result(
        Status.CRITICAL,
        latency_ms=fetched.latency_ms,
        message=_("no sample %(metric)s%(labels)s")
        % {"metric": config["metric"], "labels": json.dumps(wanted) if wanted else ""},
    )


def check_heartbeat(config: dict, limits: Limits) -> Result:
    """Only called when the heartbeat is overdue: its next run is pushed forward on every ping."""
    return Result(Status.CRITICAL, message=_("no ping within the period and grace time"))


# Host kinds: checked by the host's agent (probes/agent/portal_agent.py), which pushes the result;
# the portal validates their settings and grades the value. Their paths are the host's own, so
# PORTAL_FILE_ROOTS does not apply, but an agent only runs what the portal assigned to it.


def check_on_host(config: dict, limits: Limits) -> Result:
    """A host's probe runs on its host; the portal never runs it (it is never due here)."""
    return Result(Status.ERROR, message=_("checked by the host's agent, not by the portal"))


# Kinds: one declaration each --------------------------------------------------------
# A kind is its settings (a KindSettings: validation, the API's config, the probe form's fields)
# registered with its check. Adding one: a Kind choice, a check function, a class here.

CHOOSE = gettext_lazy("Choose one of %(choices)s.")
EXPECTATION_HELP = gettext_lazy(
    "Cannot read %(line)r; write e.g. `status in [ok, healthy]` or `disk_free_gb >= 5`."
)
SIZE_RULE = gettext_lazy("The maximum must not be below the minimum (0: no maximum).")


def _choices(*keys: str):
    return [(key, key) for key in keys]


def _verify_tls():
    return config.Boolean(label=gettext_lazy("Verify the TLS certificate"))


def _direction():
    return config.Choice(
        label=gettext_lazy("Worse when the value is"),
        message=gettext_lazy("Choose above or below."),
        choices=[
            ("above", gettext_lazy("above the thresholds")),
            ("below", gettext_lazy("below the thresholds")),
        ],
    )


def _measure():
    return config.Choice(
        label=gettext_lazy("Measure"),
        message=gettext_lazy("Choose used_percent or free_gb."),
        choices=[
            (DISK_MEASURES[0], gettext_lazy("percentage used")),
            (DISK_MEASURES[1], gettext_lazy("free GB (lower is worse)")),
        ],
    )


def _sqlite_check():
    return config.Choice(
        label=gettext_lazy("Check"),
        choices=_choices(*SQLITE_CHECKS),
        message=gettext_lazy("Choose quick_check or integrity_check."),
    )


def _pattern():
    return config.Text(
        label=gettext_lazy("Pattern (regular expression)"), default="ERROR", max_length=500
    )


def _tail_kib():
    return config.Integer(
        label=gettext_lazy("Read the last KiB"), default=64, minimum=1, maximum=10240
    )


def _size(label, **kwargs):
    return config.Integer(label=label, default=0, minimum=0, maximum=2**62, **kwargs)


def _process_name():
    return config.Text(label=gettext_lazy("Process name"), required=True, max_length=255)


@register(Kind.HTTP, check=check_http, thresholds=(100.0, 500.0, "ms"))
class HttpSettings(KindSettings):
    url = config.Url(label=gettext_lazy("URL"))
    method = config.Choice(
        label=gettext_lazy("Method"), choices=_choices(*HTTP_METHODS), upper=True, message=CHOOSE
    )
    expected_status = config.StatusCodes(
        label=gettext_lazy("Expected status codes"),
        help_text=gettext_lazy("Comma-separated, e.g. 200, 204."),
    )
    expect = config.Lines(
        label=gettext_lazy("JSON expectations"),
        check=parse_expectation,
        message=EXPECTATION_HELP,
        help_text=gettext_lazy(
            "One per line, e.g. status in [ok, healthy] or disk_free_gb >= 5. Not met: critical."
        ),
    )
    expect_warning = config.Lines(
        label=gettext_lazy("JSON expectations for a warning"),
        check=parse_expectation,
        message=EXPECTATION_HELP,
        help_text=gettext_lazy(
            "Not met: warning, e.g. disk_free_gb >= 10 next to disk_free_gb >= 5 above."
        ),
    )
    health = config.Choice(
        label=gettext_lazy("Health status in the body"),
        message=CHOOSE,
        choices=[
            (
                "auto",
                gettext_lazy(
                    "read it when the body is JSON with a status (pass/ok/UP, warn/degraded, "
                    "fail/DOWN)"
                ),
            ),
            (
                "require",
                gettext_lazy("require it: a body without one, or an HTML page, is critical"),
            ),
            ("off", gettext_lazy("ignore it")),
        ],
    )
    headers = config.Pairs(
        label=gettext_lazy("Request headers"),
        sep=":",
        help_text=gettext_lazy("One per line: Name: value."),
    )
    verify_tls = _verify_tls()
    follow_redirects = config.Boolean(label=gettext_lazy("Follow redirects"))


@register(Kind.TCP, check=check_tcp, thresholds=(100.0, 500.0, "ms"))
class TcpSettings(KindSettings):
    host = config.HostName()
    port = config.Integer(label=gettext_lazy("Port"), required=True, minimum=1, maximum=65535)


@register(Kind.DISK, check=check_disk, thresholds=(80.0, 90.0, "%"))
class DiskSettings(KindSettings):
    path = config.Path(allowed=_disk_path)
    measure = _measure()


@register(Kind.CPU, check=check_cpu, thresholds=(70.0, 85.0, "%"), sampled=True)
@register(Kind.MEMORY, check=check_memory, thresholds=(80.0, 90.0, "%"), sampled=True)
class NoSettings(KindSettings):
    pass


class SizeRule(KindSettings):
    def rules(self, cleaned, errors):
        if cleaned.get("max_size_bytes") and cleaned["max_size_bytes"] < cleaned.get(
            "min_size_bytes", 0
        ):
            errors["max_size_bytes"] = str(SIZE_RULE)


@register(Kind.FILE, check=check_file, thresholds=(None, None, "min"))
class FileSettings(SizeRule):
    path = config.Path(allowed=readable_path)
    min_size_bytes = _size(gettext_lazy("Minimum size (bytes)"))
    max_size_bytes = _size(
        gettext_lazy("Maximum size (bytes)"), help_text=gettext_lazy("Empty or 0: no maximum.")
    )


@register(Kind.SQLITE, check=check_sqlite, thresholds=(64.0, 256.0, "MiB"))
class SqliteSettings(KindSettings):
    path = config.Path(allowed=readable_path)
    check = _sqlite_check()


class PatternRule(KindSettings):
    def rules(self, cleaned, errors):
        try:
            re.compile(cleaned.get("pattern", "ERROR"))
        except re.error as exc:
            errors["pattern"] = _("Not a valid regular expression: %(error)s") % {"error": exc}


@register(Kind.LOG_ERRORS, check=check_log_errors, thresholds=(1.0, 10.0, ""))
class LogErrorsSettings(PatternRule):
    path = config.Path(allowed=readable_path)
    pattern = _pattern()
    tail_kib = _tail_kib()


@register(Kind.PROCESS, check=check_process)
@register(Kind.HOST_PROCESS, check=check_on_host)
class ProcessSettings(KindSettings):
    name = _process_name()


@register(Kind.TLS_EXPIRY, check=check_tls_expiry, thresholds=(30.0, 7.0, "d"), lower_is_worse=True)
class TlsExpirySettings(KindSettings):
    host = config.HostName()
    port = config.Integer(label=gettext_lazy("Port"), default=443, minimum=1, maximum=65535)
    server_name = config.Text(label=gettext_lazy("Server name (SNI)"), max_length=255)
    verify_tls = _verify_tls()


@register(Kind.PROMETHEUS, check=check_prometheus)
class PrometheusSettings(KindSettings):
    url = config.Url(label=gettext_lazy("Metrics URL"))
    metric = config.Text(label=gettext_lazy("Sample name"), required=True, max_length=200)
    labels = config.Pairs(
        label=gettext_lazy("Labels"), sep="=", help_text=gettext_lazy("One per line: name=value.")
    )
    direction = _direction()
    verify_tls = _verify_tls()

    def rules(self, cleaned, errors):
        if cleaned.get("metric") and not re.fullmatch(
            r"[a-zA-Z_:][a-zA-Z0-9_:]*", cleaned["metric"]
        ):
            errors["metric"] = _("Not a Prometheus metric name.")


@register(Kind.HEARTBEAT, check=check_heartbeat)
class HeartbeatSettings(KindSettings):
    grace_seconds = config.Integer(
        label=gettext_lazy("Grace (seconds)"),
        default=300,
        minimum=0,
        maximum=7 * 86400,
        help_text=gettext_lazy("Extra time after the period before it turns critical."),
    )


# Host kinds: checked by the host's agent (probes/agent/portal_agent.py), which pushes the result;
# the portal validates their settings and grades the value. Their paths are the host's own, so
# PORTAL_FILE_ROOTS does not apply, but an agent only runs what the portal assigned to it.


@register(Kind.HOST_DISK, check=check_on_host, thresholds=(80.0, 90.0, "%"))
class HostDiskSettings(KindSettings):
    path = config.HostPath()
    measure = _measure()


@register(Kind.HOST_FILE, check=check_on_host, thresholds=(None, None, "min"))
class HostFileSettings(SizeRule):
    path = config.HostPath()
    min_size_bytes = _size(gettext_lazy("Minimum size (bytes)"))
    max_size_bytes = _size(
        gettext_lazy("Maximum size (bytes)"), help_text=gettext_lazy("Empty or 0: no maximum.")
    )


@register(Kind.HOST_DIRECTORY, check=check_on_host, thresholds=(None, None, "GB"))
class HostDirectorySettings(KindSettings):
    path = config.HostPath()


@register(Kind.HOST_SQLITE, check=check_on_host, thresholds=(64.0, 256.0, "MiB"))
class HostSqliteSettings(KindSettings):
    path = config.HostPath()
    check = _sqlite_check()


@register(Kind.HOST_LOG_ERRORS, check=check_on_host, thresholds=(1.0, 10.0, ""))
class HostLogErrorsSettings(PatternRule):
    path = config.HostPath()
    pattern = _pattern()
    tail_kib = _tail_kib()


@register(Kind.HOST_COMMAND, check=check_on_host)
class HostCommandSettings(KindSettings):
    """A program and its arguments, run without a shell; the value is its exit code (not 0:
    critical)."""

    argv = config.Argv(
        label=gettext_lazy("Command"),
        help_text=gettext_lazy(
            "The program and its arguments, run without a shell; exit code 0 is healthy."
        ),
    )


# The kinds that ask a data store for a number (sql, redis, promql, directory) declare themselves
# in probes.data_kinds, which builds on this module.
from probes import data_kinds  # noqa: E402, F401


def validate_config(kind: str, config) -> dict:
    """Cleaned config, or ValidationError keyed by config field ("__all__" when it is not an
    object)."""
    if not isinstance(config, dict):
        raise ValidationError(_("Enter an object of settings."))
    return KINDS[kind].settings.clean_config(config)


def _coded(error_dict: dict) -> dict:
    """Messages by config field; a message with its own code (refused_address) keeps it for the
    API."""
    from rest_framework.exceptions import ErrorDetail

    return {
        field: [
            ErrorDetail(message, code=error.code) if error.code else message
            for error in field_errors
            for message in error.messages
        ]
        for field, field_errors in error_dict.items()
    }


def validate_probe(
    *, kind: str, config, interval: int, timeout: float, warning, critical, host=None
) -> tuple[dict, dict]:
    """A whole probe's settings: (cleaned config, errors by field), the config's own errors
    nested under "config" by config key. A host kind needs a host (one that allows commands for a
    command check); other kinds run on the portal and take none."""
    errors, cleaned = {}, {}
    if kind in HOST_KINDS and host is None:
        errors["host"] = [_("A host check needs the host whose agent runs it.")]
    elif kind not in HOST_KINDS and host is not None:
        errors["host"] = [_("Only host kinds run on a host.")]
    elif kind == Kind.HOST_COMMAND and not host.allow_commands:
        errors["host"] = [_("A manager must allow command checks on this host first.")]
    try:
        cleaned = validate_config(kind, config)
    except ValidationError as exc:
        errors["config"] = _coded(exc.error_dict) if hasattr(exc, "error_dict") else exc.messages
    try:
        validate_thresholds(
            kind, cleaned or (config if isinstance(config, dict) else {}), warning, critical
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if timeout is not None and interval is not None and timeout > interval:
        errors["timeout"] = [_("The timeout must not be longer than the interval.")]
    return cleaned, errors


def run_check(kind: str, config: dict, limits: Limits, *, previous: dict | None = None) -> Result:
    """Run one check; a bug or surprise in a check is an `error` result, never an exception.
    `previous`: the sample a sampled kind kept at its last run (Probe.sample)."""
    started = time.monotonic()
    try:
        if KINDS[kind].sampled:
            return CHECKS[kind](config, limits, previous=previous)
        return CHECKS[kind](config, limits)
    except Exception as exc:
        return Result(
            Status.ERROR,
            latency_ms=_ms(started),
            message=f"{type(exc).__name__}: {exc}"[:500],
            detail=f"{type(exc).__name__}: {exc}"[:500],
        )
