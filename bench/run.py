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


def load(url, requests, concurrency, token=None):
    cmd = [PY, str(ROOT / "bench" / "load.py"), url, "--requests", str(requests), "--concurrency", str(concurrency)]
    if token:
        cmd += ["--header", f"Authorization: Token {token}"]
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
    args = parser.parse_args()

    data_dir = ROOT / "var" / "bench"
    environ = prepare_environment(args.backend, data_dir)
    manage = [PY, str(ROOT / "manage.py")]
    for step in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([*manage, *step], env=environ, check=True, cwd=ROOT)
    seeded = subprocess.run([PY, str(ROOT / "bench" / "seed.py"), "--tasks", str(args.tasks)],
                            env=environ, check=True, capture_output=True, text=True, cwd=ROOT)
    token = json.loads(seeded.stdout)["token"]

    port = free_port()
    log = open(data_dir / "serve.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen([*manage, "serve", "--no-setup", "--port", str(port)], env=environ, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, server)
        rows = run_scenarios(base, token, args)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        log.close()
    print_table(rows, args.backend)
    (ROOT / "bench" / "results.json").write_text(json.dumps({"backend": args.backend, "rows": rows}, indent=2))


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


# (name, path, baseline path, budget ratio of p95 or None, needs token)
SCENARIOS = [
    ("GET /api/health", "/api/health", "/api/bench/bare-health", None, False),
    ("API list /api/v1/tasks", "/api/v1/tasks", "/api/bench/bare/tasks", 1.5, True),
]


def run_scenarios(base, token, args):
    rows = []
    n, c = args.requests, args.concurrency
    for name, path, baseline, budget, auth in SCENARIOS:
        warm = load(base + path, 50, c, token if auth else None)
        if warm["errors"]:
            raise SystemExit(f"{name}: {path} answers errors; see var/bench/serve.log")
        load(base + baseline, 50, c, token if auth else None)
        measured = load(base + path, n, c, token if auth else None)
        base_figures = load(base + baseline, n, c, token if auth else None)
        ratio = measured["p95_ms"] / base_figures["p95_ms"]
        rows.append({
            "scenario": name, **measured, "baseline": baseline, "baseline_p95_ms": base_figures["p95_ms"],
            "baseline_rps": base_figures["rps"], "ratio": ratio,
            "budget": f"p95 ≤ {budget} × baseline" if budget else "-",
            "verdict": ("PASS" if ratio <= budget else "MISS") if budget else "-",
        })
    return rows


def print_table(rows, backend):
    header = f"{'scenario':38} {'req':>5} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} " \
             f"{'base p95':>9} {'base r/s':>8} {'ratio':>6}  {'budget':24} verdict"
    print(f"\nbenchmarks on {backend} (2 cores; load from a separate process on 127.0.0.1; "
          f"{rows and rows[0]['requests']} requests per scenario)")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['scenario'][:38]:38} {r['requests']:>5} {r['errors']:>4} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['rps']:>7.0f} {r['baseline_p95_ms']:>9.1f} {r['baseline_rps']:>8.0f} "
              f"{r['ratio']:>6.2f}  {r['budget']:24} {r['verdict']}")


if __name__ == "__main__":
    main()
