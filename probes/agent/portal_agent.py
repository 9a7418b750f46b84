#!/usr/bin/env python3
"""Ops portal push agent: runs the checks the portal assigned to this host and pushes the results.

One file, Python 3.9 or newer, standard library only: it runs on a Linux or
Windows host where nothing can be installed.

    # a loop, as a service runs it:
    python3 portal_agent.py --url https://portal.example --token-file agent.token
    # once, from cron or the Task Scheduler:
    python3 portal_agent.py --url https://portal.example --token-file agent.token --once
    # what it would run:
    python3 portal_agent.py --url https://portal.example --token-file agent.token --dry-run

Every run's results are written to the spool directory first and deleted once
the portal has acknowledged them, so a portal outage loses nothing: the next
run sends what is waiting, oldest first. Each batch carries an id the portal
remembers, so a batch sent twice is recorded once. The spool is bounded
(--spool-max batches; the oldest go first). The list of checks is cached there
too, so checks keep running while the portal is away.

The loop stops on SIGTERM (a service manager's stop) or Ctrl+C, whatever signals the process
was started with ignoring, and exits 0; a batch it was writing is either whole in the spool or not
there (os.replace).

Exit codes of --once: 0 everything sent, 2 results kept in the spool for the next
run (the portal was unreachable), 3 the portal refused the token.
"""

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

VERSION = "1.0.0"
# Filled in by the portal when the agent is downloaded from a host's page.
DEFAULT_URL = ""
DEFAULT_HOST = ""

OK, CRITICAL, ERROR = "ok", "critical", "error"
MESSAGE_LIMIT = 300
GIB = 1024**3
MIB = 1024**2
CHECKS_CACHE = "checks.json"
BATCH_SUFFIX = ".batch.json"


def log(text):
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} {text}", file=sys.stderr, flush=True)


def now_iso():
    return datetime.now(timezone.utc).isoformat()


def result(probe, status, value=None, message="", latency_ms=None, at=None):
    return {
        "probe": probe,
        "at": at or now_iso(),
        "status": status,
        "value": value,
        "latency_ms": latency_ms,
        "message": str(message)[:MESSAGE_LIMIT],
    }


# Checks ------------------------------------------------------------------------
# Each takes the check's config and timeout and returns (status, value, message);
# the portal grades the value against the probe's thresholds when the status is ok.


def check_disk(config, timeout):
    usage = shutil.disk_usage(config["path"])
    used = round(usage.used / usage.total * 100, 1) if usage.total else 0.0
    free_gb = round(usage.free / GIB, 2)
    value = free_gb if config.get("measure") == "free_gb" else used
    return OK, value, f"{used} % used, {free_gb} GB free"


def check_file(config, timeout):
    try:
        stat = os.stat(config["path"])
    except FileNotFoundError:
        return CRITICAL, None, "the file does not exist"
    age = round((time.time() - stat.st_mtime) / 60, 1)
    minimum, maximum = config.get("min_size_bytes") or 0, config.get("max_size_bytes") or 0
    if stat.st_size < minimum:
        return CRITICAL, age, f"{stat.st_size} bytes, expected at least {minimum}"
    if maximum and stat.st_size > maximum:
        return CRITICAL, age, f"{stat.st_size} bytes, expected at most {maximum}"
    return OK, age, f"{stat.st_size} bytes, {age} min old"


def check_directory(config, timeout):
    root = config["path"]
    if not os.path.isdir(root):
        return CRITICAL, None, "the directory does not exist"
    deadline = time.monotonic() + timeout
    total, files = 0, 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # removed while we walked
            files += 1
        if time.monotonic() > deadline:
            return ERROR, None, f"not summed within {timeout} s ({files} files so far)"
    size = round(total / GIB, 3)
    return OK, size, f"{size} GB in {files} files"


def check_sqlite(config, timeout):
    path = Path(config["path"])
    if not path.is_file():
        return CRITICAL, None, "the database file does not exist"
    pragma = "integrity_check" if config.get("check") == "integrity_check" else "quick_check"
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout
        )
        try:
            rows = [row[0] for row in connection.execute(f"PRAGMA {pragma}").fetchmany(5)]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return CRITICAL, None, f"{pragma} failed: {exc}"
    if rows != ["ok"]:
        return CRITICAL, None, "; ".join(map(str, rows))
    wal = path.with_name(path.name + "-wal")
    wal_mib = round(wal.stat().st_size / MIB, 2) if wal.exists() else 0.0
    return OK, wal_mib, f"{pragma} ok; WAL {wal_mib} MiB"


def check_log_errors(config, timeout):
    pattern = re.compile(config.get("pattern") or "ERROR")
    tail = int(config.get("tail_kib") or 64) * 1024
    try:
        with open(config["path"], "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - tail))
            text = handle.read(tail).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return CRITICAL, None, "the log file does not exist"
    lines = text.splitlines()
    if size > tail and lines:
        lines = lines[1:]  # cut in the middle
    matches = [line for line in lines if pattern.search(line)]
    message = f"{len(matches)} matching lines"
    if matches:
        message += ": " + matches[-1].strip()[:200]
    return OK, len(matches), message


def process_names(timeout):
    if sys.platform.startswith("win"):
        output = subprocess.run(
            ["tasklist", "/FO", "CSV", "/NH"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        ).stdout
        names = [line.split('","')[0].strip('"') for line in output.splitlines() if line.strip()]
        # "python.exe" answers to "python" too.
        return names + [name[:-4] for name in names if name.lower().endswith(".exe")]
    proc = Path("/proc")
    if proc.is_dir():
        names = []
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    names.append((entry / "comm").read_text().strip())
                except OSError:
                    continue  # ended meanwhile
        return names
    output = subprocess.run(
        ["ps", "-axo", "comm="], capture_output=True, text=True, timeout=timeout, check=False
    ).stdout
    return [os.path.basename(line.strip()) for line in output.splitlines() if line.strip()]


def check_process(config, timeout):
    name = config["name"]
    count = sum(1 for running in process_names(timeout) if running == name)
    if not count:
        return CRITICAL, 0, f"no process named {name}"
    return OK, count, f"{count} running"


def check_command(config, timeout):
    try:
        done = subprocess.run(
            config["argv"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return CRITICAL, None, f"still running after {timeout} s (stopped)"
    except OSError as exc:
        return CRITICAL, None, f"cannot run: {exc}"
    output = (done.stdout.strip() or done.stderr.strip()).splitlines()
    last = output[-1][:200] if output else ""
    status = OK if done.returncode == 0 else CRITICAL
    return status, done.returncode, f"exit {done.returncode}" + (f": {last}" if last else "")


CHECKS = {
    "host_disk": check_disk,
    "host_file": check_file,
    "host_directory": check_directory,
    "host_sqlite": check_sqlite,
    "host_log_errors": check_log_errors,
    "host_process": check_process,
    "host_command": check_command,
}


def run_one(check):
    started = time.monotonic()
    function = CHECKS.get(check.get("kind"))
    if function is None:
        return result(
            check.get("id"),
            ERROR,
            message=f"this agent ({VERSION}) has no check {check.get('kind')!r}",
        )
    try:
        status, value, message = function(
            check.get("config") or {}, float(check.get("timeout") or 10)
        )
    except Exception as exc:  # one check's surprise is its result, never the end of the run
        status, value, message = ERROR, None, f"{type(exc).__name__}: {exc}"
    return result(
        check["id"], status, value, message, round((time.monotonic() - started) * 1000, 1)
    )


# Talking to the portal -----------------------------------------------------------


class Refused(Exception):
    """The portal answered and will not take this (bad token, bad batch): retrying will not help."""

    def __init__(self, code, text):
        super().__init__(f"HTTP {code}: {text}")
        self.code = code


class Portal:
    def __init__(self, url, token, timeout=30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": f"ops-portal-agent/{VERSION}",
            "X-Agent-Version": VERSION,
        }
        # --url is checked to be http(s) in parse_args.
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only
                return json.loads(response.read(10 * MIB) or b"{}")
        except urllib.error.HTTPError as exc:
            text = exc.read(2000).decode("utf-8", errors="replace")
            if exc.code in (408, 429) or exc.code >= 500:
                raise OSError(
                    f"HTTP {exc.code}"
                ) from None  # the portal is in trouble: keep and retry
            raise Refused(exc.code, text) from None

    def checks(self):
        return self.request("GET", "/api/v1/agent/checks")

    def push(self, batch):
        return self.request("POST", "/api/v1/agent/results", batch)


class Spool:
    """Batches waiting for the portal, one file each, oldest first; at most `limit` kept."""

    def __init__(self, directory, limit):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.limit = limit

    def write(self, name, payload):
        final = self.directory / name
        partial = self.directory / (name + ".part")
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)  # a crash leaves the old file or the new one, never half of one

    def add(self, batch):
        # The time first so names sort oldest first; the batch id keeps them unique.
        self.write(f"{time.time_ns():020d}-{batch['batch']}{BATCH_SUFFIX}", batch)
        waiting = self.pending()
        for old in waiting[: max(0, len(waiting) - self.limit)]:
            log(f"spool full ({self.limit} batches): dropping the oldest, {old.name}")
            old.unlink()

    def pending(self):
        return sorted(self.directory.glob("*" + BATCH_SUFFIX))

    def cached_checks(self):
        try:
            return json.loads((self.directory / CHECKS_CACHE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def flush(portal, spool, retries, backoff):
    """Send the waiting batches, oldest first; returns how many were acknowledged.
    Stops at the first one the portal cannot take now (kept for the next run)."""
    sent = 0
    for path in spool.pending():
        try:
            batch = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log(f"unreadable spool file {path.name}: removed")
            path.unlink()
            continue
        for attempt in range(retries + 1):
            try:
                answer = portal.push(batch)
                break
            except Refused as exc:
                if exc.code == 401:
                    raise
                # The portal will never take this batch as it is: kept aside, not retried forever.
                log(f"batch {batch.get('batch')} refused ({exc}); moved to {path.name}.refused")
                os.replace(path, str(path) + ".refused")
                answer = None
                break
            except (OSError, ValueError) as exc:
                if attempt == retries:
                    log(
                        f"portal unreachable ({exc}); {len(spool.pending())} batches kept in the "
                        "spool"
                    )
                    return sent
                time.sleep(backoff * (2**attempt))
        if answer is None:
            continue
        for rejected in answer.get("rejected") or []:
            log(f"result rejected by the portal: {rejected}")
        path.unlink()
        sent += 1
    return sent


def load_checks(portal, spool):
    """The assigned checks from the portal (cached), or the cached list while it is away."""
    try:
        config = portal.checks()
    except (OSError, ValueError) as exc:
        cached = spool.cached_checks()
        if cached is None:
            log(f"portal unreachable ({exc}) and no cached list of checks yet")
            return None
        log(
            f"portal unreachable ({exc}); running the {len(cached.get('checks', []))} cached checks"
        )
        return cached
    if DEFAULT_HOST and config.get("host") != DEFAULT_HOST:
        log(
            f"this agent was downloaded for {DEFAULT_HOST!r} but its token is "
            f"{config.get('host')!r}'s"
        )
    spool.write(CHECKS_CACHE, config)
    return config


def run_once(portal, spool, args):
    config = load_checks(portal, spool)
    if config is not None:
        checks = config.get("checks") or []
        results = [run_one(check) for check in checks]
        size = max(1, int(config.get("max_batch") or 500))
        for start in range(0, len(results), size):
            spool.add(
                {
                    "batch": str(uuid.uuid4()),
                    "agent_version": VERSION,
                    "results": results[start : start + size],
                }
            )
    sent = flush(portal, spool, args.retries, args.backoff)
    interval = int(config.get("interval") or 60) if config else 60
    return sent, interval


def dry_run(portal, spool):
    config = load_checks(portal, spool)
    if config is None:
        return 1
    print(
        f"host {config.get('host')!r}: every {config.get('interval')} s, "
        f"{len(config.get('checks') or [])} checks"
    )
    for check in config.get("checks") or []:
        print(
            f"  would run #{check['id']} {check['kind']} {json.dumps(check.get('config'))}"
            f" (timeout {check.get('timeout')} s)"
        )
    print(f"  {len(spool.pending())} batches waiting in {spool.directory}")
    return 0


def read_token(args):
    token = os.environ.get("PORTAL_AGENT_TOKEN", "")
    if args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
    if not token:
        raise SystemExit("no token: pass --token-file or set PORTAL_AGENT_TOKEN")
    return token


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Run this host's checks for the ops portal and push the results."
    )
    parser.add_argument(
        "--url", default=os.environ.get("PORTAL_URL", DEFAULT_URL), help="the portal's base URL"
    )
    parser.add_argument(
        "--token-file", help="file holding the host's token (or set PORTAL_AGENT_TOKEN)"
    )
    parser.add_argument(
        "--spool-dir",
        default=os.environ.get("PORTAL_AGENT_SPOOL", "portal-agent-spool"),
        help="where results wait for the portal (default: ./portal-agent-spool)",
    )
    parser.add_argument(
        "--spool-max", type=int, default=2000, help="batches kept at most while the portal is away"
    )
    parser.add_argument("--once", action="store_true", help="run the checks once, push, and exit")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the assigned checks; run and push nothing"
    )
    parser.add_argument(
        "--retries", type=int, default=3, help="retries of a push before keeping it for later"
    )
    parser.add_argument(
        "--backoff", type=float, default=2.0, help="seconds before the first retry (doubling)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds for one request to the portal"
    )
    parser.add_argument("--version", action="version", version=VERSION)
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error("--url must be an http:// or https:// URL")
    return args


def stop(_signum, _frame):
    raise KeyboardInterrupt


def main(argv=None):
    # Set, not inherited: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    args = parse_args(argv)
    portal = Portal(args.url, read_token(args), args.timeout)
    spool = Spool(args.spool_dir, args.spool_max)
    try:
        if args.dry_run:
            return dry_run(portal, spool)
        while True:
            started = time.monotonic()
            sent, interval = run_once(portal, spool, args)
            if sent:
                log(f"pushed {sent} batches")
            if args.once:
                return 0 if not spool.pending() else 2
            time.sleep(max(1.0, interval - (time.monotonic() - started)))
    except Refused as exc:
        log(f"the portal refused the token ({exc}); is it the current one?")
        return 3
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
