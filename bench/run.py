"""`make bench`: serve the portal as in production on a scratch data dir, load it
from a separate process on 127.0.0.1, and print one table with the baselines
measured in the same run. Writes bench/results.json.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def load(url, requests, concurrency, headers=()):
    cmd = [PY, str(ROOT / "bench" / "load.py"), url, "--requests", str(requests), "--concurrency", str(concurrency)]
    for header in headers:
        cmd += ["--header", header]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    lat = out["latencies"]
    return {
        "requests": len(lat), "errors": out["errors"],
        "p50_ms": percentile(lat, 0.5) * 1000, "p95_ms": percentile(lat, 0.95) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000, "rps": len(lat) / out["elapsed"],
    }


def prepare_environment(backend: str, data_dir: Path) -> dict:
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings", PORTAL_DATA_DIR=str(data_dir), PORTAL_DEBUG="false",
        PORTAL_DEMO_DATA="false", PORTAL_ADMIN_PASSWORD="bench-" + os.urandom(8).hex(), PYTHONUNBUFFERED="1",
    )
    if backend == "postgres":
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS portal_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE portal_bench")
        environ["PORTAL_DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/portal_bench"
        environ["PORTAL_REDIS_URL"] = "redis://127.0.0.1:6379/15"
    return environ


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    args = parser.parse_args()

    data_dir = ROOT / "var" / "bench"
    environ = prepare_environment(args.backend, data_dir)
    manage = [PY, str(ROOT / "manage.py")]
    for step in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([*manage, *step], env=environ, check=True, cwd=ROOT)
    seeded = subprocess.run([PY, str(ROOT / "bench" / "seed.py"), "--tasks", str(args.tasks),
                             "--incidents", str(args.incidents)],
                            env=environ, check=True, capture_output=True, text=True, cwd=ROOT)
    creds = json.loads(seeded.stdout)
    work = work_rows(environ)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(data_dir / "serve.log", "w") as log:
        server = subprocess.Popen([*manage, "serve", "--no-setup", "--port", str(port)], env=environ, cwd=ROOT,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(base, server)
            rows = run_scenarios(base, creds, args)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    print_table(rows, args.backend)
    print_work_table(work)
    (ROOT / "bench" / "results.json").write_text(
        json.dumps({"backend": args.backend, "requests": rows, "work": work}, indent=2))


def wait_healthy(base, server, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the portal exited during start-up; see var/bench/serve.log")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as response:
                if json.load(response)["queue"] == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the portal did not become healthy; see var/bench/serve.log")


# name, path, baseline path (or None), budget, auth ("token", "session" or None)
SCENARIOS = [
    ("GET /api/health", "/api/health", "/api/bench/bare-health", None, None),
    ("API list /api/v1/tasks", "/api/v1/tasks", "/api/bench/bare/tasks", 1.5, "token"),
    ("API list /api/v1/incidents", "/api/v1/incidents", "/api/bench/bare/incidents", 1.5, "token"),
    ("API list incidents?status=resolved", "/api/v1/incidents?status=resolved", "/api/bench/bare/incidents", 1.5,
     "token"),
    ("API timeline (cursor)", "/api/v1/incidents/{incident}/timeline", "/api/bench/bare/timeline", 1.5, "token"),
    ("API detail /api/v1/incidents/<id>", "/api/v1/incidents/{incident}", "/api/bench/bare/incidents", 1.5, "token"),
    # The dashboard's budget is server time: measured one request at a time.
    ("page: dashboard (one at a time)", "/", None, 100.0, "session"),
    ("page: dashboard (4 at once)", "/", None, None, "session"),
    ("page: incident list", "/incidents/", None, None, "session"),
    ("page: incident list, filtered", "/incidents/?status=open&severity=sev1", None, None, "session"),
]


def headers_for(auth, creds):
    if auth == "token":
        return [f"Authorization: Token {creds['token']}"]
    if auth == "session":
        return [f"Cookie: sessionid={creds['session']}"]
    return []


def run_scenarios(base, creds, args):
    rows = []
    n, c = args.requests, args.concurrency
    for name, path, baseline, budget, auth in SCENARIOS:
        path = path.format(incident=creds["incident"])
        headers = headers_for(auth, creds)
        warm = load(base + path, 50, c, headers)
        if warm["errors"]:
            raise SystemExit(f"{name}: {path} answers errors; see var/bench/serve.log")
        measured = load(base + path, n, 1 if "one at a time" in name else c, headers)
        row = {"scenario": name, **measured, "baseline": baseline or "-", "baseline_p95_ms": None,
               "baseline_rps": None, "ratio": None, "budget": "-", "verdict": "-"}
        if baseline:
            load(base + baseline, 50, c, headers)
            base_figures = load(base + baseline, n, c, headers)
            row.update(baseline_p95_ms=base_figures["p95_ms"], baseline_rps=base_figures["rps"],
                       ratio=measured["p95_ms"] / base_figures["p95_ms"])
            if budget:
                row.update(budget=f"p95 ≤ {budget} × bare DRF", verdict="PASS" if row["ratio"] <= budget else "MISS")
        elif budget:
            row.update(budget=f"p95 ≤ {budget:.0f} ms", verdict="PASS" if measured["p95_ms"] <= budget else "MISS")
        rows.append(row)
    return rows


def sweep_rows(environ):
    out = json.loads(subprocess.run([PY, str(ROOT / "bench" / "sweep.py")], env=environ, check=True,
                                    capture_output=True, text=True, cwd=ROOT).stdout)
    rows = []
    for key in ("idle", "some", "due"):
        figures = out[key]
        extra = f", {out['due']['notifications']} notifications" if key == "due" else ""
        rows.append({
            "scenario": f"escalation sweep, {out['open']} open, {figures['incidents']} due",
            "figure": f"{figures['seconds'] * 1000:.1f} ms, {figures['queries']} queries{extra}",
            "baseline": "-", "ratio": None, "budget": "≤ 1000 ms",
            "verdict": "PASS" if figures["seconds"] <= 1 else "MISS",
        })
    return rows


# Scenarios of the apps that are not HTTP requests: each script prints a JSON
# list of {"scenario", "figure", "baseline", "ratio", "budget", "verdict"}.
WORK_SCRIPTS = ("probes.py", "backups.py", "reports.py", "checklists.py")


def work_rows(environ):
    rows = sweep_rows(environ)
    for script in WORK_SCRIPTS:
        path = ROOT / "bench" / script
        if not path.exists():
            continue
        result = subprocess.run([PY, str(path)], env=environ, capture_output=True, text=True, cwd=ROOT)
        if result.returncode:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append({"scenario": script, "figure": f"failed: {last[:80]}", "baseline": "-", "ratio": None,
                         "budget": "-", "verdict": "MISS"})
            continue
        rows.extend(json.loads(result.stdout))
    return rows


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_table(rows, backend):
    header = (f"{'scenario':44} {'n':>6} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>6} "
              f"{'base p95':>8} {'base r/s':>8} {'ratio':>5}  {'budget':22} verdict")
    print(f"\nbenchmarks on {backend}: 2 cores, load from a separate process on 127.0.0.1")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['scenario'][:44]:44} {r['requests']:>6} {r['errors']:>4} {fmt(r['p50_ms'], '8.1f')} "
              f"{fmt(r['p95_ms'], '8.1f')} {fmt(r['p99_ms'], '8.1f')} {fmt(r['rps'], '6.0f')} "
              f"{fmt(r['baseline_p95_ms'], '8.1f')} {fmt(r['baseline_rps'], '8.0f')} {fmt(r['ratio'], '5.2f')}  "
              f"{r['budget']:22} {r['verdict']}")


def print_work_table(rows):
    header = f"{'scenario':52} {'figure':44} {'baseline':30} {'ratio':>6}  {'budget':22} verdict"
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['scenario'][:52]:52} {r['figure'][:44]:44} {r['baseline'][:30]:30} {fmt(r['ratio'], '6.2f')}  "
              f"{r['budget'][:22]:22} {r['verdict']}")


if __name__ == "__main__":
    main()
