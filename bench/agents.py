"""Push agents' load on the portal; prints one JSON list of rows.

200 hosts, each with 10 checks, report once a minute as the agent does: GET its
checks, then POST a batch of 10 results. The hosts are spread evenly over the
minute. The portal runs as in production (`manage.py serve`: gunicorn plus the
django-q2 clusters, whose tick also runs the silent-host sweep) in a child
process; its whole process tree's CPU is measured over the run, and the p95 of
the push endpoint from this process (urllib, one thread per in-flight host).

Run with PORTAL_DATA_DIR pointing at an already-migrated scratch data dir
(bench/run.py does); `--hosts` and `--seconds` scale it.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from bench.run import free_port, percentile

SERVICE = "bench-agents"
CHECKS_PER_HOST = 10
BUDGET_P95_MS = 250
BUDGET_CPU = 0.25  # of one core, for 200 hosts


def make_hosts(count: int) -> list[tuple[str, list[int]]]:
    """(token, probe ids) per host."""
    from incidents.models import Service
    from probes.models import Host, Probe

    clear()
    service = Service.objects.create(name=SERVICE)
    hosts, tokens = [], []
    for i in range(count):
        host = Host(name=f"{SERVICE}-{i}", service=service, interval=60, grace=120)
        tokens.append(host.new_token())
        hosts.append(host)
    Host.objects.bulk_create(hosts)
    hosts = list(Host.objects.filter(service=service).order_by("name"))
    Probe.objects.bulk_create(
        [
            Probe(
                service=service,
                host=host,
                name=f"{host.name} log {n}",
                kind="host_log_errors",
                next_run_at=None,
                config={"path": f"/var/log/app{n}.log", "pattern": "ERROR", "tail_kib": 64},
            )
            for host in hosts
            for n in range(CHECKS_PER_HOST)
        ],
        batch_size=500,
    )
    by_host = {}
    for host_id, probe_id in (
        Probe.objects.filter(service=service).values_list("host_id", "id").order_by("id")
    ):
        by_host.setdefault(host_id, []).append(probe_id)
    names = {host.name: host.pk for host in hosts}
    return [(token, by_host[names[f"{SERVICE}-{i}"]]) for i, token in enumerate(tokens)]


def clear():
    from incidents.models import Incident, Service
    from probes.models import AgentBatch, Host, Probe, ProbeResult

    ProbeResult.objects.filter(probe__service__name=SERVICE).delete()
    Probe.objects.filter(service__name=SERVICE).delete()
    AgentBatch.objects.filter(host__service__name=SERVICE).delete()
    Host.objects.filter(service__name=SERVICE).delete()
    Incident.objects.filter(service__name=SERVICE).delete()
    Service.objects.filter(name=SERVICE).delete()


def wait_healthy(base: str, process, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the portal stopped while starting")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the portal did not become healthy")


def tree_cpu(process) -> dict:
    """CPU seconds of the process and its descendants, web (gunicorn) apart."""
    import psutil

    total = web = 0.0
    root = psutil.Process(process.pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            seconds = times.user + times.system
            total += seconds
            if "gunicorn" in " ".join(proc.cmdline()):
                web += seconds
        except psutil.NoSuchProcess:
            continue
    return {"total": total, "web": web}


def agent_cycle(
    base: str, token: str, probe_ids: list[int], pushes: list, gets: list, errors: list
):
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "X-Agent-Version": "bench",
    }
    try:
        started = time.perf_counter()
        with urllib.request.urlopen(
            urllib.request.Request(base + "/api/v1/agent/checks", headers=headers), timeout=30
        ) as response:
            response.read()
        gets.append(time.perf_counter() - started)
        now = datetime.now(UTC).isoformat()
        body = json.dumps(
            {
                "batch": str(uuid.uuid4()),
                "agent_version": "bench",
                "results": [
                    {
                        "probe": pk,
                        "at": now,
                        "status": "ok",
                        "value": 0,
                        "latency_ms": 1.5,
                        "message": "0 matching lines",
                    }
                    for pk in probe_ids
                ],
            }
        ).encode()
        started = time.perf_counter()
        with urllib.request.urlopen(
            urllib.request.Request(
                base + "/api/v1/agent/results", data=body, headers=headers, method="POST"
            ),
            timeout=30,
        ) as response:
            answer = json.loads(response.read())
        pushes.append(time.perf_counter() - started)
        if answer["accepted"] != len(probe_ids):
            errors.append(f"accepted {answer['accepted']}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")


def run(hosts: int, seconds: float) -> dict:
    from probes.models import ProbeResult

    agents = make_hosts(hosts)
    environ = {**os.environ, "PYTHONUNBUFFERED": "1"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Closed below, once the server has stopped.
    log = open(Path(os.environ["PORTAL_DATA_DIR"]) / "agents-serve.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--no-setup", "--port", str(port)],
        env=environ,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    pushes, gets, errors, threads = [], [], [], []
    try:
        wait_healthy(base, server)
        time.sleep(5)  # the clusters' start-up is not the agents' load
        cpu_before, started = tree_cpu(server), time.monotonic()
        # Host i reports at i × 60 / hosts seconds past each minute, as agents started at random
        # times do.
        fired = 0
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= seconds:
                break
            due = int(elapsed * hosts / 60) + 1
            while fired < due:
                token, ids = agents[fired % hosts]
                thread = threading.Thread(
                    target=agent_cycle, args=(base, token, ids, pushes, gets, errors)
                )
                thread.start()
                threads.append(thread)
                fired += 1
            time.sleep(0.01)
        for thread in threads:
            thread.join(60)
        wall = time.monotonic() - started
        cpu_after = tree_cpu(server)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    stored = ProbeResult.objects.filter(probe__service__name=SERVICE).count()
    clear()
    share = (cpu_after["total"] - cpu_before["total"]) / wall
    web_share = (cpu_after["web"] - cpu_before["web"]) / wall
    p95 = percentile(pushes, 0.95) * 1000
    return {
        "scenario": f"agents: {hosts} hosts × {CHECKS_PER_HOST} results/min "
        f"for {seconds:.0f} s (GET + push)",
        "figure": f"push p50 {percentile(pushes, 0.5) * 1000:.0f} / p95 {p95:.0f} ms, GET p95 "
        f"{percentile(gets, 0.95) * 1000:.0f} ms; server CPU {share * 100:.1f} % of one core (web "
        f"{web_share * 100:.1f} %); {len(pushes)} pushes, {stored} results, {len(errors)} errors"
        + (f" ({errors[0][:60]})" if errors else ""),
        "baseline": "one core",
        "ratio": round(share, 3),
        "budget": f"p95 < {BUDGET_P95_MS} ms, CPU < {BUDGET_CPU * 100:.0f} %",
        "verdict": "PASS" if p95 < BUDGET_P95_MS and share < BUDGET_CPU and not errors else "MISS",
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument(
        "--seconds", type=float, default=60, help="length of the run (one report per host a minute)"
    )
    args = parser.parse_args()
    import django

    django.setup()
    print(json.dumps([run(args.hosts, args.seconds)], ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
