"""`make bench`: serve the portal as in production on a scratch data dir, load it
from a separate process on 127.0.0.1, and print one table with the baselines
measured in the same run. Writes bench/results.json.

    bench/run.py --backend sqlite|postgres --scale small|full [--only api|pages|work]
                 [--data-dir DIR] [--reuse] [--database NAME] [--redis-db N]

`--reuse` keeps a data dir (and PostgreSQL database) that an earlier run seeded completely at the
same scale, as its bench-seed.json says, instead of seeding again: the full dataset takes long to
write. The work scenarios change the data (sends, runs, results), so a reused dataset is for the
HTTP scenarios above all; a run for the record seeds afresh.

`--only` (repeatable) runs some groups of scenarios, for work on one of them; such a partial
run prints its table but leaves bench/results.json alone. A scenario with a baseline is measured
interleaved with it, request by request (see bench/load.py).

The dataset is DESIGN §9's, built by `manage.py seed_bench` (`small`: a tenth of
its history, for a run of a few minutes; `full`: all of it).
"""

import argparse
import json
import os
import platform
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
# Per scale: requests per HTTP scenario, django-q task history rows, seconds of the sustained probe
# run.
PER_SCALE = {
    "small": {"requests": 200, "tasks": 10_000, "probe_seconds": 75},
    "full": {"requests": 1500, "tasks": 100_000, "probe_seconds": 180},
}


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


def load(urls, requests, concurrency, headers=()) -> list[dict]:
    """Figures per URL of `requests` GETs each; several URLs are sent in turn on every connection
    (see bench/load.py), so a scenario and its baseline are measured under the same conditions."""
    cmd = [
        PY,
        str(ROOT / "bench" / "load.py"),
        *urls,
        "--requests",
        str(requests),
        "--concurrency",
        str(concurrency),
    ]
    for header in headers:
        cmd += ["--header", header]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    figures = []
    for latencies, errors in zip(out["latencies"], out["errors"], strict=True):
        figures.append(
            {
                "requests": len(latencies),
                "errors": errors,
                "p50_ms": percentile(latencies, 0.5) * 1000,
                "p95_ms": percentile(latencies, 0.95) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000,
                # Alone, the URL's requests/s; sharing the connections, what its latencies allow
                # them (Little's law: connections / mean latency).
                "rps": (
                    len(latencies) / out["elapsed"]
                    if len(urls) == 1
                    else concurrency / (sum(latencies) / len(latencies))
                ),
            }
        )
    return figures


SEED_RECORD = "bench-seed.json"  # in the data dir, written once a seed is complete


def reusable_seed(data_dir: Path, backend: str, scale: str) -> dict | None:
    """What an earlier complete seed of this data dir recorded, if of this backend and scale."""
    try:
        record = json.loads((data_dir / SEED_RECORD).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return record if (record.get("backend"), record.get("scale")) == (backend, scale) else None


def prepare_environment(
    backend: str, data_dir: Path, *, fresh=True, database="portal_bench", redis_db=15
) -> dict:
    if fresh:
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        PORTAL_DATA_DIR=str(data_dir),
        PORTAL_DEBUG="false",
        PORTAL_DEMO_DATA="false",
        PORTAL_ADMIN_PASSWORD="bench-" + os.urandom(8).hex(),
        PYTHONUNBUFFERED="1",
    )
    if backend == "postgres":
        import psycopg
        from psycopg import sql

        if fresh:
            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as conn:
                name = sql.Identifier(database)
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
        environ["PORTAL_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
        environ["PORTAL_REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
    return environ


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--scale", choices=list(PER_SCALE), default="small")
    parser.add_argument("--requests", type=int, help="per HTTP scenario (default: by scale)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--only",
        action="append",
        choices=["api", "pages", "work"],
        help="run only these groups of scenarios (repeatable; default: all)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="default: var/bench/<backend> (emptied unless --reuse)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the data dir's dataset if an earlier run seeded it at this scale",
    )
    parser.add_argument("--database", default="portal_bench", help="PostgreSQL database name")
    parser.add_argument("--redis-db", type=int, default=15, help="Redis database (PostgreSQL)")
    args = parser.parse_args()
    per_scale = PER_SCALE[args.scale]

    def wanted(group):
        return not args.only or group in args.only

    args.requests = args.requests or per_scale["requests"]
    began = time.monotonic()

    # The two backends can be run side by side.
    data_dir = (args.data_dir or ROOT / "var" / "bench" / args.backend).resolve()
    reused = reusable_seed(data_dir, args.backend, args.scale) if args.reuse else None
    environ = prepare_environment(
        args.backend,
        data_dir,
        fresh=reused is None,
        database=args.database,
        redis_db=args.redis_db,
    )
    manage = [PY, str(ROOT / "manage.py")]
    for step in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([*manage, *step], env=environ, check=True, cwd=ROOT)
    if reused:
        seed_seconds, creds = reused["seed_seconds"], reused["creds"]
        print(f"reusing the dataset seeded in {data_dir} ({seed_seconds:.0f} s)", flush=True)
    else:
        seed_started = time.monotonic()
        subprocess.run(
            [*manage, "seed_bench", "--scale", args.scale], env=environ, check=True, cwd=ROOT
        )
        seed_seconds = time.monotonic() - seed_started
        seeded = subprocess.run(
            [PY, str(ROOT / "bench" / "seed.py"), "--tasks", str(per_scale["tasks"])],
            env=environ,
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        creds = json.loads(seeded.stdout)
        record = {"backend": args.backend, "scale": args.scale, "seed_seconds": seed_seconds}
        (data_dir / SEED_RECORD).write_text(json.dumps({**record, "creds": creds}))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(data_dir / "serve.log", "w") as log:
        server = subprocess.Popen(
            [*manage, "serve", "--no-setup", "--port", str(port)],
            env=environ,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(base, server)
            rows = []
            if wanted("api"):
                rows += run_scenarios(base, creds, args, API_SCENARIOS)
                rows.append(web_worker_rss(server))
            if wanted("pages"):
                rows += run_scenarios(base, creds, args, PAGE_SCENARIOS)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    # After the server stops: the escalation sweep leaves sends queued that the portal's
    # workers would otherwise deliver during the HTTP scenarios.
    if wanted("work"):
        rows += work_rows(environ, per_scale)
    elapsed = time.monotonic() - began
    machine = describe_machine()
    print_table(rows, args, machine, seed_seconds, elapsed, reused=bool(reused))
    if args.only:
        return
    (ROOT / "bench" / "results.json").write_text(
        json.dumps(
            {
                "backend": args.backend,
                "scale": args.scale,
                "requests_per_scenario": args.requests,
                "concurrency": args.concurrency,
                "machine": machine,
                "seed_seconds": round(seed_seconds, 1),
                "dataset_reused": bool(reused),
                "elapsed_seconds": round(elapsed, 1),
                "rows": rows,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


def describe_machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import psutil

    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def web_worker_rss(server) -> dict:
    """RSS of each gunicorn worker (the children of the gunicorn master) after the API scenarios."""
    import psutil

    workers = [
        child
        for proc in psutil.Process(server.pid).children(recursive=True)
        if "gunicorn" in " ".join(proc.cmdline())
        for child in proc.children()
    ]
    rss = [w.memory_info().rss / 2**20 for w in workers]
    worst = max(rss, default=float("nan"))
    return {
        "scenario": f"web worker RSS after the API scenarios ({len(rss)} workers)",
        "figure": f"max {worst:.0f} MiB ({', '.join(f'{r:.0f}' for r in rss)})",
        "baseline": "-",
        "ratio": None,
        "budget": "≤ 150 MB",
        "verdict": "PASS" if worst * 2**20 <= 150e6 else "MISS",
    }


def wait_healthy(base, server, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the portal exited during start-up; see var/bench/<backend>/serve.log")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as response:
                if json.load(response)["queue"] == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the portal did not become healthy; see var/bench/<backend>/serve.log")


# name, path, baseline path (or None), budget, auth ("token", "session" or None).
# Details are held to the bare list of their resource, as DESIGN §9 states the budget.
API_SCENARIOS = [
    ("GET /api/health", "/api/health", "/api/bench/bare-health", None, None),
    ("API list tasks", "/api/v1/tasks", "/api/bench/bare/tasks", 1.5, "token"),
    ("API list incidents", "/api/v1/incidents", "/api/bench/bare/incidents", 1.5, "token"),
    (
        "API list incidents?status=resolved",
        "/api/v1/incidents?status=resolved",
        "/api/bench/bare/incidents",
        1.5,
        "token",
    ),
    (
        "API detail incident",
        "/api/v1/incidents/{incident}",
        "/api/bench/bare/incidents",
        1.5,
        "token",
    ),
    (
        "API timeline of one incident (cursor)",
        "/api/v1/incidents/{incident}/timeline",
        "/api/bench/bare/timeline",
        1.5,
        "token",
    ),
    ("API list postmortems", "/api/v1/postmortems", "/api/bench/bare/postmortems", 1.5, "token"),
    (
        "API detail postmortem",
        "/api/v1/postmortems/{postmortem}",
        "/api/bench/bare/postmortems",
        1.5,
        "token",
    ),
    ("API list probes", "/api/v1/probes", "/api/bench/bare/probes", 1.5, "token"),
    ("API detail probe", "/api/v1/probes/{probe}", "/api/bench/bare/probes", 1.5, "token"),
    (
        "API list probe results (cursor)",
        "/api/v1/probe-results",
        "/api/bench/bare/probe-results",
        1.5,
        "token",
    ),
    (
        "API list results of one probe",
        "/api/v1/probe-results?probe={probe}",
        "/api/bench/bare/probe-results",
        1.5,
        "token",
    ),
    (
        "API detail probe result",
        "/api/v1/probe-results/{result}",
        "/api/bench/bare/probe-results",
        1.5,
        "token",
    ),
    (
        "API list checklist runs (cursor)",
        "/api/v1/checklist-runs",
        "/api/bench/bare/checklist-runs",
        1.5,
        "token",
    ),
    (
        "API detail checklist run",
        "/api/v1/checklist-runs/{run}",
        "/api/bench/bare/checklist-runs",
        1.5,
        "token",
    ),
    (
        "API list backup runs (cursor)",
        "/api/v1/backup-runs",
        "/api/bench/bare/backup-runs",
        1.5,
        "token",
    ),
    (
        "API detail backup run",
        "/api/v1/backup-runs/{backup_run}",
        "/api/bench/bare/backup-runs",
        1.5,
        "token",
    ),
]
# Issue 22: every list and detail page p95 ≤ 150 ms and the dashboard ≤ 50 ms at full scale,
# server time: one request at a time ("one at a time" in the name sets the concurrency to 1).
PAGE_BUDGET_MS = 150.0
DASHBOARD_BUDGET_MS = 50.0
PAGES = [
    ("incident list", "/incidents/"),
    ("incident list, filtered", "/incidents/?status=triggered&severity=sev1"),
    ("incident list, resolved, page 500", "/incidents/?status=resolved&page=500"),
    ("incident list, title search", "/incidents/?q=disk"),
    ("incident detail (longest open timeline)", "/incidents/{incident}/"),
    ("who to call", "/incidents/who-to-call/"),
    ("incident reports (12 months)", "/incidents/reports/"),
    ("postmortem list", "/incidents/postmortems/"),
    ("postmortem detail", "/incidents/{postmortem_incident}/postmortem/"),
    ("routes", "/incidents/routes/"),
    ("probe grid", "/probes/"),
    ("probe detail", "/probes/{probe}/"),
    ("agent hosts", "/probes/hosts/"),
    ("my shift", "/checklists/"),
    ("checklist runs", "/checklists/runs/"),
    ("checklist run", "/checklists/runs/{run}/"),
    ("checklist templates", "/checklists/templates/"),
    ("checklist template", "/checklists/templates/{template}/"),
    ("playbooks", "/checklists/playbooks/"),
    ("backup targets", "/backups/"),
    ("backup target", "/backups/targets/{target}/"),
    ("backup runs", "/backups/runs/"),
    ("backup run", "/backups/runs/{backup_run}/"),
    ("restic repositories", "/backups/repositories/"),
    ("recoverability scorecard", "/backups/recoverability/"),
    ("on-call schedules", "/oncall/"),
    ("alert integrations", "/integrations/"),
    ("status pages (admin side)", "/status-pages/"),
    ("audit trail", "/audit/"),
]
PAGE_SCENARIOS = [
    ("page: dashboard (one at a time)", "/", None, DASHBOARD_BUDGET_MS, "session"),
    ("page: dashboard (4 at once)", "/", None, None, "session"),
    *[
        (f"page: {name} (one at a time)", path, None, PAGE_BUDGET_MS, "session")
        for name, path in PAGES
    ],
    # Public, anonymous, cached 15 s (issue 17): held to the bare Django view.
    (
        "page: public status page (anonymous)",
        "/status/{status_page}/",
        "/api/bench/bare-health",
        3.0,
        None,
    ),
    (
        "JSON: public status page (anonymous)",
        "/status/{status_page}/status.json",
        "/api/bench/bare-health",
        3.0,
        None,
    ),
]


def headers_for(auth, creds):
    if auth == "token":
        return [f"Authorization: Token {creds['token']}"]
    if auth == "session":
        return [f"Cookie: sessionid={creds['session']}"]
    return []


def run_scenarios(base, creds, args, scenarios):
    rows = []
    n, c = args.requests, args.concurrency
    for name, path, baseline, budget, auth in scenarios:
        path = path.format(**creds)
        headers = headers_for(auth, creds)
        [warm] = load([base + path], 30, c, headers)
        if warm["errors"]:
            rows.append(
                {
                    "scenario": name,
                    "path": path,
                    "figure": f"{warm['errors']} of 30 requests failed",
                    "baseline": "-",
                    "ratio": None,
                    "budget": "see var/bench/<backend>/serve.log",
                    "verdict": "MISS",
                }
            )
            print(f"  {name}: {path} answers errors; see var/bench/<backend>/serve.log", flush=True)
            continue
        concurrency = 1 if "one at a time" in name else c
        if baseline:
            load([base + baseline], 30, concurrency, headers)
            measured, base_figures = load([base + path, base + baseline], n, concurrency, headers)
        else:
            [measured] = load([base + path], n, concurrency, headers)
        row = {
            "scenario": name,
            "path": path,
            **measured,
            "figure": f"p50 {measured['p50_ms']:.1f} p95 {measured['p95_ms']:.1f} "
            f"p99 {measured['p99_ms']:.1f} ms, {measured['rps']:.0f}/s",
            "baseline": "-",
            "ratio": None,
            "budget": "-",
            "verdict": "-",
        }
        if measured["errors"]:
            row.update(verdict="MISS", budget=f"{measured['errors']} errors")
        if baseline:
            kind = "bare view" if "health" in baseline else "bare DRF list"
            row.update(
                baseline=f"{kind} p95 {base_figures['p95_ms']:.1f} ms, {base_figures['rps']:.0f}/s",
                baseline_p95_ms=base_figures["p95_ms"],
                ratio=measured["p95_ms"] / base_figures["p95_ms"],
            )
            if budget and not measured["errors"]:
                row.update(
                    budget=f"p95 ≤ {budget} × bare",
                    verdict="PASS" if row["ratio"] <= budget else "MISS",
                )
        elif budget and not measured["errors"]:
            row.update(
                budget=f"p95 ≤ {budget:.0f} ms",
                verdict="PASS" if measured["p95_ms"] <= budget else "MISS",
            )
        rows.append(row)
        print(f"  {name}: {row['figure']}  {row['verdict']}", flush=True)
    return rows


def sweep_rows(environ):
    out = json.loads(
        subprocess.run(
            [PY, str(ROOT / "bench" / "sweep.py")],
            env=environ,
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
    )
    rows = []
    for key in ("idle", "some", "due"):
        figures = out[key]
        extra = f", {out['due']['notifications']} notifications" if key == "due" else ""
        rows.append(
            {
                "scenario": f"escalation sweep, {out['open']} open, {figures['incidents']} due",
                "figure": f"{figures['seconds'] * 1000:.1f} ms, "
                f"{figures['queries']} queries{extra}",
                "baseline": "-",
                "ratio": None,
                "budget": "≤ 1000 ms",
                "verdict": "PASS" if figures["seconds"] <= 1 else "MISS",
            }
        )
    return rows


# Scenarios of the apps that are not HTTP requests: each script prints a JSON
# list of {"scenario", "figure", "baseline", "ratio", "budget", "verdict"}.
WORK_SCRIPTS = (
    "probes.py",
    "backups.py",
    "reports.py",
    "checklists.py",
    "runbook.py",
    "status.py",
    "offsite.py",
    "agents.py",
    "alerts.py",
    "pager.py",
)


def work_rows(environ, per_scale):
    rows = sweep_rows(environ)
    for script in WORK_SCRIPTS:
        path = ROOT / "bench" / script
        if not path.exists():
            continue
        extra = (
            ["--seconds", str(per_scale["probe_seconds"])]
            if script in ("probes.py", "agents.py")
            else []
        )
        print(f"bench/{script}…", flush=True)
        result = subprocess.run(
            [PY, str(path), *extra], env=environ, capture_output=True, text=True, cwd=ROOT
        )
        if result.returncode:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append(
                {
                    "scenario": script,
                    "figure": f"failed: {last[:80]}",
                    "baseline": "-",
                    "ratio": None,
                    "budget": "-",
                    "verdict": "MISS",
                }
            )
            continue
        rows.extend(json.loads(result.stdout))
    return rows


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_table(rows, args, machine, seed_seconds, elapsed, reused=False):
    seeded = f"seeded in {seed_seconds:.0f} s" + (", reused" if reused else "")
    header = f"{'scenario':48} {'figure':52} {'baseline':34} {'ratio':>6}  {'budget':22} verdict"
    print(
        f"\nbenchmarks on {args.backend}, scale {args.scale} ({seeded}), "
        f"{machine['cpus']} × {machine['cpu']}, {machine['ram_gb']} GB RAM; HTTP: {args.requests} "
        f"requests per scenario, {args.concurrency} connections from a separate process on "
        "127.0.0.1"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['scenario'][:48]:48} {r['figure'][:52]:52} {r['baseline'][:34]:34} "
            f"{fmt(r['ratio'], '6.2f')}  {r['budget'][:22]:22} {r['verdict']}"
        )
    verdicts = [r["verdict"] for r in rows]
    print(
        f"\n{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS; whole run "
        f"{elapsed / 60:.1f} min; load average at the end {machine['load_average']}"
    )


if __name__ == "__main__":
    main()
