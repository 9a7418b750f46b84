"""Probe kinds: one plain check function and one config validator per kind.

A check takes the probe's cleaned config and its limits and returns a Result;
it never raises for a failing target (that is a critical result) and is
bounded by `timeout`. Validators turn raw config into cleaned config or raise
ValidationError keyed by config field, so forms and the API show errors where
they belong.
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
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from core import parsers
from core.outbound import (
    RefusedAddress,
    check_host,
    check_peer,
    check_url,
    guard_response,
    validate_outbound_host,
    validate_outbound_url,
)
from core.paths import allowed_path, readable_path
from core.secrets import mask_url, redact, scrub
from probes import messages
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
    # What a sampled kind (SAMPLED_KINDS) keeps for its next run; None: nothing to keep.
    sample: dict | None = None
    # Why it failed, rendered in the reader's language (probes.messages), and the raw detail.
    code: str = ""
    params: dict | None = None
    detail: str = ""


def failed(code: str, params: dict | None = None, *, detail: str = "", status: str = Status.CRITICAL,
           value: float | None = None, latency_ms: float | None = None) -> Result:
    """A result that says why in words (probes.messages); `message` is those words as the check ran."""
    return Result(status, value, latency_ms, messages.render(code, params), code=code, params=params or {},
                  detail=detail)


@dataclass(frozen=True)
class Limits:
    timeout: float
    warning: float | None
    critical: float | None


# Thresholds ------------------------------------------------------------------

# (warning, critical, unit); None: the kind has no default thresholds.
DEFAULT_THRESHOLDS = {
    Kind.HTTP: (100.0, 500.0, "ms"),
    Kind.TCP: (100.0, 500.0, "ms"),
    Kind.DISK: (80.0, 90.0, "%"),
    Kind.MEMORY: (80.0, 90.0, "%"),
    Kind.CPU: (70.0, 85.0, "%"),
    Kind.FILE: (None, None, "min"),
    Kind.SQLITE: (64.0, 256.0, "MiB"),
    Kind.LOG_ERRORS: (1.0, 10.0, ""),
    Kind.TLS_EXPIRY: (30.0, 7.0, "d"),
    Kind.PROMETHEUS: (None, None, ""),
    Kind.DIRECTORY: (None, None, "GB"),
    Kind.SQL: (None, None, ""),
    Kind.REDIS: (None, None, ""),
    Kind.PROMQL: (None, None, ""),
    Kind.HOST_DISK: (80.0, 90.0, "%"),
    Kind.HOST_FILE: (None, None, "min"),
    Kind.HOST_DIRECTORY: (None, None, "GB"),
    Kind.HOST_SQLITE: (64.0, 256.0, "MiB"),
    Kind.HOST_LOG_ERRORS: (1.0, 10.0, ""),
    Kind.HOST_PROCESS: (None, None, ""),
    Kind.HOST_COMMAND: (None, None, ""),
}
# A disk measured in free GB (`measure: free_gb`): less is worse.
FREE_GB_THRESHOLDS = (10.0, 5.0, "GB free")
DISK_KINDS = (Kind.DISK, Kind.HOST_DISK)
DISK_MEASURES = ("used_percent", "free_gb")
# Kinds where a smaller value is worse (days left on a certificate).
LOWER_IS_WORSE = {Kind.TLS_EXPIRY}
# Kinds whose config says which way is worse (`direction: below`).
DIRECTED_KINDS = {Kind.PROMETHEUS, Kind.SQL, Kind.REDIS, Kind.PROMQL}


def value_unit(kind: str, config: dict | None = None) -> str:
    """The unit of a probe's value as pages show it: "ms" for HTTP/TCP (their value is the latency),
    "h" for a heartbeat (hours since the previous ping), else its thresholds' unit."""
    if kind in (Kind.HTTP, Kind.TCP):
        return "ms"
    if kind == Kind.HEARTBEAT:
        return "h"
    return default_thresholds(kind, config)[2]


def lower_is_worse(kind: str, config: dict) -> bool:
    return (kind in LOWER_IS_WORSE or (kind in DIRECTED_KINDS and config.get("direction") == "below")
            or (kind in DISK_KINDS and config.get("measure") == "free_gb"))


def default_thresholds(kind: str, config: dict | None = None) -> tuple:
    if kind in DISK_KINDS and (config or {}).get("measure") == "free_gb":
        return FREE_GB_THRESHOLDS
    return DEFAULT_THRESHOLDS.get(kind, (None, None, ""))


def limits_for(kind: str, warning, critical, timeout: float, config: dict | None = None) -> Limits:
    default_warning, default_critical, _unit = default_thresholds(kind, config)
    return Limits(timeout=timeout, warning=default_warning if warning is None else warning,
                  critical=default_critical if critical is None else critical)


def validate_thresholds(kind: str, config: dict, warning, critical) -> None:
    limits = limits_for(kind, warning, critical, 1, config)
    if limits.warning is None or limits.critical is None:
        return
    if lower_is_worse(kind, config):
        if limits.warning < limits.critical:
            raise ValidationError({"warning": _("For this kind a lower value is worse: the warning threshold "
                                                "must be at or above the critical one.")})
    elif limits.warning > limits.critical:
        raise ValidationError({"warning": _("The warning threshold must not be above the critical one.")})


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

def _text(config, key, errors, *, required=True, default=""):
    value = config.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        errors[key] = _("Enter text.")
        return default
    value = value.strip()
    if required and not value:
        errors[key] = _("This field is required.")
    return value


def _int(config, key, errors, *, default, minimum, maximum, required=False):
    value = config.get(key, default)
    if value in (None, ""):
        if required:
            errors[key] = _("This field is required.")
        return default
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        value = int(float(value))
    except (TypeError, ValueError):
        errors[key] = _("Enter a whole number.")
        return default
    if not minimum <= value <= maximum:
        errors[key] = _("Enter a number from %(min)s to %(max)s.") % {"min": minimum, "max": maximum}
    return value


def _bool(config, key, errors, *, default):
    value = config.get(key, default)
    if value in (None, ""):
        return default
    if not isinstance(value, bool):
        errors[key] = _("Enter true or false.")
        return default
    return value


def _url(config, key, errors):
    url = _text(config, key, errors)
    if url and key not in errors:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            errors[key] = _("Enter an http:// or https:// URL.")
            return url
        try:
            validate_outbound_url(url)
        except ValidationError as exc:
            errors[key] = exc  # keeps its code, refused_address
    return url


def _host(config, key, errors):
    host = _text(config, key, errors)
    if host and key not in errors:
        try:
            validate_outbound_host(host)
        except ValidationError as exc:
            errors[key] = exc
    return host


def _path(config, key, errors, *, allowed=allowed_path):
    raw = _text(config, key, errors)
    if raw and key not in errors:
        try:
            return str(allowed(raw))
        except ValidationError as exc:
            errors[key] = exc.messages[0]
    return raw


def _readable(path: str) -> tuple[Path | None, Result | None]:
    """(the resolved path to read, None), or (None, the refusal as a result). Checked again at run
    time: roots change, probes saved before them stay, a symlink can be swapped. (Backup
    destinations, rows in the database, are checked when the probe is saved.)"""
    try:
        return readable_path(path, backups=False), None
    except ValidationError as exc:
        return None, Result(Status.ERROR, message=exc.messages[0])


def _string_dict(config, key, errors):
    value = config.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        errors[key] = _("Enter an object of text names and text values.")
        return {}
    return value


def _raise(errors):
    if errors:
        raise ValidationError(errors)


# JSON expectations: "status in [ok, healthy]", "disk_free_gb >= 5", "database == ok"

EXPECTATION = re.compile(r"^\s*(?P<path>[A-Za-z_][\w.-]*)\s*(?P<op>==|!=|>=|<=|>|<|not in|in)\s*(?P<value>.+?)\s*$")


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
            "==": lambda: actual == expected, "!=": lambda: actual != expected,
            ">=": lambda: actual >= expected, "<=": lambda: actual <= expected,
            ">": lambda: actual > expected, "<": lambda: actual < expected,
            "in": lambda: actual in expected, "not in": lambda: actual not in expected,
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


def fetch(url: str, *, method: str = "GET", headers: dict | None = None, timeout: float,
          verify: bool = True, redirects: bool = True) -> Fetched:
    """One request whose body read stops at BODY_LIMIT and whose total time stops at `timeout`.

    requests' timeout bounds each socket operation, not the whole exchange; a
    server trickling bytes would hold us forever, hence the deadline.
    """
    started = time.monotonic()
    deadline = started + timeout
    check_url(url, resolve=True)
    # The hook refuses a redirect to, or a connection landing on, a link-local or metadata address
    # before its body is read: a probe result never shows what such a target answered.
    with requests.request(method, url, headers={"User-Agent": USER_AGENT, **(headers or {})},
                          timeout=(timeout, timeout), verify=verify, allow_redirects=redirects,
                          stream=True, hooks={"response": guard_response}) as response:
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


def _expectations(config, key, errors):
    expect = config.get(key) or []
    if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
        errors[key] = _("Enter a list of expectations.")
        return []
    for line in expect:
        try:
            parse_expectation(line)
        except ValueError:
            errors[key] = _("Cannot read %(line)r; write e.g. `status in [ok, healthy]` or "
                            "`disk_free_gb >= 5`.") % {"line": line}
            break
    return expect


def validate_http(config: dict) -> dict:
    errors = {}
    cleaned = {
        "url": _url(config, "url", errors),
        "method": _text(config, "method", errors, required=False, default="GET").upper() or "GET",
        "headers": _string_dict(config, "headers", errors),
        "verify_tls": _bool(config, "verify_tls", errors, default=True),
        "follow_redirects": _bool(config, "follow_redirects", errors, default=True),
        "health": _text(config, "health", errors, required=False, default="auto") or "auto",
    }
    if cleaned["method"] not in HTTP_METHODS:
        errors["method"] = _("Choose one of %(methods)s.") % {"methods": ", ".join(HTTP_METHODS)}
    if cleaned["health"] not in HEALTH_MODES:
        errors["health"] = _("Choose one of %(modes)s.") % {"modes": ", ".join(HEALTH_MODES)}
    codes = config.get("expected_status") or [200]
    if not isinstance(codes, list) or not all(isinstance(c, int) and 100 <= c <= 599 for c in codes):
        errors["expected_status"] = _("Enter a list of HTTP status codes (100–599).")
    cleaned["expected_status"] = codes
    cleaned["expect"] = _expectations(config, "expect", errors)
    cleaned["expect_warning"] = _expectations(config, "expect_warning", errors)
    _raise(errors)
    return cleaned


def _not_json(body: bytes) -> str:
    """Why a body that should be JSON is not, in words an on-call reader understands."""
    head = body[:BODY_LIMIT]
    if HTML_START.match(head) or b"<html" in head[:1024].lower():
        title = HTML_TITLE.search(head)
        if title:
            text = " ".join(title[1].decode("utf-8", "replace").split())[:TITLE_SHOWN]
            return _("the body is not JSON but an HTML page (%(title)s): an error, proxy or login page?") % {
                "title": redact(text)}
        return _("the body is not JSON but an HTML page: an error, proxy or login page?")
    return _("the body is not JSON")


def health_status(data, mode: str) -> tuple[str | None, str]:
    """(the status a health document's `status` word means, a note), or (None, "") when the body
    has no word to go by (and the mode does not require one)."""
    word = data.get("status") if isinstance(data, dict) else None
    status = HEALTH_WORDS.get(word.strip().lower()) if isinstance(word, str) else None
    if status is None:
        if mode == "require":
            return Status.CRITICAL, _("no health status in the body (expected e.g. \"status\": \"pass\")")
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
        fetched = fetch(config["url"], method=config.get("method", "GET"), headers=config.get("headers"),
                        timeout=limits.timeout, verify=config.get("verify_tls", True),
                        redirects=config.get("follow_redirects", True))
    except (requests.RequestException, RefusedAddress) as exc:
        return _request_failure(exc, config["url"], timeout=limits.timeout)
    latency = fetched.latency_ms
    expected = config.get("expected_status") or [200]
    if fetched.status_code not in expected:
        return failed("http_status", {"code": fetched.status_code, "expected": ", ".join(map(str, expected))},
                      value=latency, latency_ms=latency)
    critical_rules, warning_rules = config.get("expect") or [], config.get("expect_warning") or []
    mode = config.get("health", "auto")
    needs_json = bool(critical_rules or warning_rules) or mode == "require"
    status, context, problems = grade(latency, limits), [f"HTTP {fetched.status_code}"], []
    if fetched.truncated:
        if needs_json:
            return Result(Status.CRITICAL, latency, latency,
                          _("the body is larger than %(limit)s bytes; not parsed") % {"limit": BODY_LIMIT})
        context.append(_("body read capped at %(limit)s bytes") % {"limit": BODY_LIMIT})
        return Result(status, latency, latency, "; ".join(context))
    try:
        data = parsers.loads(fetched.body) if needs_json or (mode == "auto" and fetched.body.lstrip()[:1] == b"{") \
            else None
    except ValueError:
        if needs_json:
            return Result(Status.CRITICAL, latency, latency, _not_json(fetched.body))
        data = None
    # An expectation on `status` is the probe saying how to read it: the conventions step aside.
    rules_read_status = any(parse_expectation(rule)[0] == "status" for rule in critical_rules + warning_rules)
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


def validate_tcp(config: dict) -> dict:
    errors = {}
    cleaned = {"host": _host(config, "host", errors),
               "port": _int(config, "port", errors, default=None, minimum=1, maximum=65535, required=True)}
    _raise(errors)
    return cleaned


def check_tcp(config: dict, limits: Limits) -> Result:
    started = time.monotonic()
    try:
        check_host(config["host"], resolve=True)
        with socket.create_connection((config["host"], config["port"]), timeout=limits.timeout) as sock:
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
        # How full the data dir's disk is reads no file in it: the one place outside the roots allowed.
        if value.startswith("/") and "\x00" not in value and Path(value).resolve() == Path(settings.DATA_DIR).resolve():
            return Path(settings.DATA_DIR)
        raise


def _measure(config, errors):
    measure = _text(config, "measure", errors, required=False, default="used_percent") or "used_percent"
    if measure not in DISK_MEASURES:
        errors["measure"] = _("Choose used_percent or free_gb.")
    return measure


def validate_disk(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _path(config, "path", errors, allowed=_disk_path), "measure": _measure(config, errors)}
    _raise(errors)
    return cleaned


def disk_usage(path: str) -> tuple[float, float]:
    """(percent used, GB free)."""
    usage = psutil.disk_usage(path)
    return usage.percent, round(usage.free / 2**30, 2)


def check_disk(config: dict, limits: Limits, *, measure: Callable[[str], tuple] = disk_usage) -> Result:
    """The value is the percentage used, or the free GB (`measure: free_gb`, lower is worse)."""
    try:
        used, free_gb = measure(config["path"])
    except OSError as exc:
        return Result(Status.CRITICAL, message=str(exc))
    message = _("%(used).1f %% used, %(free)s GB free") % {"used": used, "free": free_gb}
    if config.get("measure") == "free_gb":
        return Result(grade(free_gb, limits, lower_worse=True), free_gb, None, message)
    return Result(grade(used, limits), used, None, message)


def validate_nothing(config: dict) -> dict:
    return {}


# CPU and memory are judged on a sustained value, never on one instantaneous reading: a busy second
# (a deploy, a neighbour's build) must not page anybody. Each run keeps a sample on its probe
# (Probe.sample) that the next run, in whichever worker, starts from.
SAMPLED_KINDS = {Kind.CPU, Kind.MEMORY}
# A previous CPU reading older than this is no baseline (the portal was down, the probe paused).
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


def check_cpu(config: dict, limits: Limits, *, previous: dict | None = None,
              counters: Callable[[], tuple] | None = None, measure: Callable[[float], float] | None = None) -> Result:
    """The value is the average CPU use since the previous run. A first run (or one after a long gap,
    or a reboot) has no baseline: it shows a short glance, graded at most a warning, which never pages."""
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
        return Result(_at_most_warning(grade(glance, limits)), glance, None,
                      _("%(used).1f %% CPU right now; judged on the average from the next run on")
                      % {"used": glance}, sample)
    return Result(grade(used, limits), used, None,
                  _("%(used).1f %% CPU on average over the last %(seconds)s s") % {"used": used,
                                                                                   "seconds": round(gap)},
                  sample)


def memory_percent() -> float:
    return psutil.virtual_memory().percent


def check_memory(config: dict, limits: Limits, *, previous: dict | None = None,
                 measure: Callable[[], float] | None = None) -> Result:
    """The value is the mean of the readings of the last MEMORY_WINDOW seconds, this one included."""
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
    readings = [*kept[-(MEMORY_READINGS - 1):], [now, current]]
    mean = round(sum(value for _at, value in readings) / len(readings), 1)
    if len(readings) == 1:
        message = _("%(used).1f %% memory used") % {"used": current}
    else:
        message = _("%(used).1f %% memory used on average over %(count)s readings (%(now).1f %% now)") % {
            "used": mean, "count": len(readings), "now": current}
    return Result(grade(mean, limits), mean, None, message, {"readings": readings})


def validate_file(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _path(config, "path", errors, allowed=readable_path),
               "min_size_bytes": _int(config, "min_size_bytes", errors, default=0, minimum=0, maximum=2**62),
               "max_size_bytes": _int(config, "max_size_bytes", errors, default=0, minimum=0, maximum=2**62)}
    if cleaned["max_size_bytes"] and cleaned["max_size_bytes"] < cleaned["min_size_bytes"]:
        errors["max_size_bytes"] = _("The maximum must not be below the minimum (0: no maximum).")
    _raise(errors)
    return cleaned


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
        return Result(Status.CRITICAL, age, None, _("%(size)s bytes, expected at least %(min)s") % {
            "size": stat.st_size, "min": config["min_size_bytes"]})
    if config.get("max_size_bytes") and stat.st_size > config["max_size_bytes"]:
        return Result(Status.CRITICAL, age, None, _("%(size)s bytes, expected at most %(max)s") % {
            "size": stat.st_size, "max": config["max_size_bytes"]})
    return Result(grade(age, limits), age, None, _("%(size)s bytes, %(age)s min old") % {
        "size": stat.st_size, "age": age})


SQLITE_CHECKS = ("quick_check", "integrity_check")


def validate_sqlite(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _path(config, "path", errors, allowed=readable_path),
               "check": _text(config, "check", errors, required=False, default="quick_check") or "quick_check"}
    if cleaned["check"] not in SQLITE_CHECKS:
        errors["check"] = _("Choose quick_check or integrity_check.")
    _raise(errors)
    return cleaned


def check_sqlite(config: dict, limits: Limits) -> Result:
    """PRAGMA quick_check/integrity_check on a read-only connection; the value is the WAL size in MiB."""
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
        return Result(Status.CRITICAL, latency_ms=_ms(started), message=_("%(pragma)s failed: %(error)s") % {
            "pragma": pragma, "error": exc})
    latency = _ms(started)
    if rows != ["ok"]:
        return Result(Status.CRITICAL, latency_ms=latency, message=redact("; ".join(map(str, rows)), 500))
    wal = path.with_name(path.name + "-wal")
    wal_mib = round(wal.stat().st_size / 2**20, 2) if wal.exists() else 0.0
    return Result(grade(wal_mib, limits), wal_mib, latency,
                  _("%(pragma)s ok; WAL %(wal)s MiB") % {"pragma": pragma, "wal": wal_mib})


def validate_log_errors(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _path(config, "path", errors, allowed=readable_path),
               "pattern": _text(config, "pattern", errors, required=False, default="ERROR") or "ERROR",
               "tail_kib": _int(config, "tail_kib", errors, default=64, minimum=1, maximum=10240)}
    try:
        re.compile(cleaned["pattern"])
    except re.error as exc:
        errors["pattern"] = _("Not a valid regular expression: %(error)s") % {"error": exc}
    _raise(errors)
    return cleaned


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


def validate_process(config: dict) -> dict:
    errors = {}
    cleaned = {"name": _text(config, "name", errors)}
    _raise(errors)
    return cleaned


def check_process(config: dict, limits: Limits) -> Result:
    """The value is how many processes have that name; none is critical."""
    name = config["name"]
    count = sum(1 for proc in psutil.process_iter(["name"]) if proc.info["name"] == name)
    if not count:
        return Result(Status.CRITICAL, 0, None, _("no process named %(name)s") % {"name": name})
    return Result(Status.OK, count, None, _("%(count)s running") % {"count": count})


def validate_tls_expiry(config: dict) -> dict:
    errors = {}
    cleaned = {"host": _host(config, "host", errors),
               "port": _int(config, "port", errors, default=443, minimum=1, maximum=65535),
               "server_name": _text(config, "server_name", errors, required=False),
               "verify_tls": _bool(config, "verify_tls", errors, default=True)}
    _raise(errors)
    return cleaned


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
        with socket.create_connection((config["host"], config["port"]), timeout=limits.timeout) as raw:
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
    return Result(grade(days, limits, lower_worse=True), days, latency,
                  _("expires %(date)s (%(days)s days)") % {"date": expires.date().isoformat(), "days": days})


def validate_prometheus(config: dict) -> dict:
    errors = {}
    cleaned = {"url": _url(config, "url", errors),
               "metric": _text(config, "metric", errors),
               "labels": _string_dict(config, "labels", errors),
               "direction": _text(config, "direction", errors, required=False, default="above") or "above",
               "verify_tls": _bool(config, "verify_tls", errors, default=True)}
    if cleaned["metric"] and not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", cleaned["metric"]):
        errors["metric"] = _("Not a Prometheus metric name.")
    if cleaned["direction"] not in ("above", "below"):
        errors["direction"] = _("Choose above or below.")
    _raise(errors)
    return cleaned


def check_prometheus(config: dict, limits: Limits) -> Result:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        fetched = fetch(config["url"], timeout=limits.timeout, verify=config.get("verify_tls", True))
    except (requests.RequestException, RefusedAddress) as exc:
        return _request_failure(exc, config["url"], timeout=limits.timeout)
    if fetched.status_code != 200:
        return Result(Status.CRITICAL, latency_ms=fetched.latency_ms, message=f"HTTP {fetched.status_code}")
    wanted = config.get("labels") or {}
    try:
        for family in text_string_to_metric_families(fetched.body.decode("utf-8", errors="replace")):
            for sample in family.samples:
                if sample.name == config["metric"] and all(sample.labels.get(k) == v for k, v in wanted.items()):
                    value = float(sample.value)
                    status = grade(value, limits, lower_worse=config.get("direction") == "below")
                    return Result(status, value, fetched.latency_ms, f"{sample.name} = {value:g}")
    except ValueError:
        # The parser's error quotes the line it choked on, and a scraped page can hold anything
        # (a config dump with db_password=…): results are shown to every viewer.
        return Result(Status.CRITICAL, latency_ms=fetched.latency_ms, message=_("not a Prometheus text page"))
    return Result(Status.CRITICAL, latency_ms=fetched.latency_ms,
                  message=_("no sample %(metric)s%(labels)s") % {"metric": config["metric"],
                                                                   "labels": json.dumps(wanted) if wanted else ""})


def validate_heartbeat(config: dict) -> dict:
    errors = {}
    cleaned = {"grace_seconds": _int(config, "grace_seconds", errors, default=300, minimum=0, maximum=7 * 86400)}
    _raise(errors)
    return cleaned


def check_heartbeat(config: dict, limits: Limits) -> Result:
    """Only called when the heartbeat is overdue: its next run is pushed forward on every ping."""
    return Result(Status.CRITICAL, message=_("no ping within the period and grace time"))


# Host kinds: checked by the host's agent (probes/agent/portal_agent.py), which pushes the result;
# the portal validates their settings and grades the value. Their paths are the host's own, so
# PORTAL_FILE_ROOTS does not apply, but an agent only runs what the portal assigned to it.

WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\[^\\/]+[\\/])")
COMMAND_ARGS_LIMIT = 50


def _host_path(config, key, errors):
    path = _text(config, key, errors)
    if path and key not in errors:
        if "\x00" in path or len(path) > 1000:
            errors[key] = _("Enter a path of at most 1000 characters.")
        elif not (path.startswith("/") or WINDOWS_ABSOLUTE.match(path)):
            errors[key] = _("Enter an absolute path on the host (/var/log/app.log or C:\\data\\app.log).")
    return path


def validate_host_disk(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _host_path(config, "path", errors), "measure": _measure(config, errors)}
    _raise(errors)
    return cleaned


def validate_host_file(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _host_path(config, "path", errors),
               "min_size_bytes": _int(config, "min_size_bytes", errors, default=0, minimum=0, maximum=2**62),
               "max_size_bytes": _int(config, "max_size_bytes", errors, default=0, minimum=0, maximum=2**62)}
    if cleaned["max_size_bytes"] and cleaned["max_size_bytes"] < cleaned["min_size_bytes"]:
        errors["max_size_bytes"] = _("The maximum must not be below the minimum (0: no maximum).")
    _raise(errors)
    return cleaned


def validate_host_directory(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _host_path(config, "path", errors)}
    _raise(errors)
    return cleaned


def validate_host_sqlite(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _host_path(config, "path", errors),
               "check": _text(config, "check", errors, required=False, default="quick_check") or "quick_check"}
    if cleaned["check"] not in SQLITE_CHECKS:
        errors["check"] = _("Choose quick_check or integrity_check.")
    _raise(errors)
    return cleaned


def validate_host_log_errors(config: dict) -> dict:
    errors = {}
    cleaned = {"path": _host_path(config, "path", errors),
               "pattern": _text(config, "pattern", errors, required=False, default="ERROR") or "ERROR",
               "tail_kib": _int(config, "tail_kib", errors, default=64, minimum=1, maximum=10240)}
    try:
        re.compile(cleaned["pattern"])
    except re.error as exc:
        errors["pattern"] = _("Not a valid regular expression: %(error)s") % {"error": exc}
    _raise(errors)
    return cleaned


def validate_host_command(config: dict) -> dict:
    """A program and its arguments, run without a shell; the value is its exit code (not 0: critical)."""
    errors = {}
    argv = config.get("argv")
    if not isinstance(argv, list) or not argv or len(argv) > COMMAND_ARGS_LIMIT or not all(
            isinstance(arg, str) and arg and "\x00" not in arg and len(arg) <= 1000 for arg in argv):
        errors["argv"] = _("Enter the program and its arguments (at most %(count)s).") % {"count": COMMAND_ARGS_LIMIT}
    _raise(errors)
    return {"argv": argv}


def check_on_host(config: dict, limits: Limits) -> Result:
    """A host's probe runs on its host; the portal never runs it (it is never due here)."""
    return Result(Status.ERROR, message=_("checked by the host's agent, not by the portal"))


def _data_kind(name: str) -> Callable:
    """A kind of probes.data_kinds, which builds on this module's helpers: looked up when called."""
    def call(*args, **kwargs):
        from probes import data_kinds

        return getattr(data_kinds, name)(*args, **kwargs)

    call.__name__ = name
    return call




CHECKS = {
    Kind.HTTP: check_http,
    Kind.TCP: check_tcp,
    Kind.DISK: check_disk,
    Kind.CPU: check_cpu,
    Kind.MEMORY: check_memory,
    Kind.FILE: check_file,
    Kind.SQLITE: check_sqlite,
    Kind.LOG_ERRORS: check_log_errors,
    Kind.PROCESS: check_process,
    Kind.TLS_EXPIRY: check_tls_expiry,
    Kind.PROMETHEUS: check_prometheus,
    Kind.HEARTBEAT: check_heartbeat,
    **dict.fromkeys(HOST_KINDS, check_on_host),
    Kind.DIRECTORY: _data_kind("check_directory"),
    Kind.SQL: _data_kind("check_sql"),
    Kind.REDIS: _data_kind("check_redis"),
    Kind.PROMQL: _data_kind("check_promql"),
}

VALIDATORS = {
    Kind.HTTP: validate_http,
    Kind.TCP: validate_tcp,
    Kind.DISK: validate_disk,
    Kind.CPU: validate_nothing,
    Kind.MEMORY: validate_nothing,
    Kind.FILE: validate_file,
    Kind.SQLITE: validate_sqlite,
    Kind.LOG_ERRORS: validate_log_errors,
    Kind.PROCESS: validate_process,
    Kind.TLS_EXPIRY: validate_tls_expiry,
    Kind.PROMETHEUS: validate_prometheus,
    Kind.HEARTBEAT: validate_heartbeat,
    Kind.HOST_DISK: validate_host_disk,
    Kind.HOST_FILE: validate_host_file,
    Kind.HOST_DIRECTORY: validate_host_directory,
    Kind.HOST_SQLITE: validate_host_sqlite,
    Kind.HOST_LOG_ERRORS: validate_host_log_errors,
    Kind.HOST_PROCESS: validate_process,
    Kind.HOST_COMMAND: validate_host_command,
    Kind.DIRECTORY: _data_kind("validate_directory"),
    Kind.SQL: _data_kind("validate_sql"),
    Kind.REDIS: _data_kind("validate_redis"),
    Kind.PROMQL: _data_kind("validate_promql"),
}


def validate_config(kind: str, config) -> dict:
    """Cleaned config, or ValidationError keyed by config field ("__all__" when it is not an object)."""
    if not isinstance(config, dict):
        raise ValidationError(_("Enter an object of settings."))
    return VALIDATORS[kind](config)


def _coded(error_dict: dict) -> dict:
    """Messages by config field; a message with its own code (refused_address) keeps it for the API."""
    from rest_framework.exceptions import ErrorDetail

    return {field: [ErrorDetail(message, code=error.code) if error.code else message
                    for error in field_errors for message in error.messages]
            for field, field_errors in error_dict.items()}


def validate_probe(*, kind: str, config, interval: int, timeout: float, warning, critical,
                   host=None) -> tuple[dict, dict]:
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
        validate_thresholds(kind, cleaned or (config if isinstance(config, dict) else {}), warning, critical)
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
        if kind in SAMPLED_KINDS:
            return CHECKS[kind](config, limits, previous=previous)
        return CHECKS[kind](config, limits)
    except Exception as exc:
        return Result(Status.ERROR, latency_ms=_ms(started), message=f"{type(exc).__name__}: {exc}"[:500],
                      detail=f"{type(exc).__name__}: {exc}"[:500])

