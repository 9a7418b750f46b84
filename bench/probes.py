"""Probe scheduler benchmarks; prints one JSON list of rows.

Run with PORTAL_DATA_DIR pointing at an already-migrated scratch data dir:

    PORTAL_DATA_DIR=/tmp/probes-bench .venv/bin/python manage.py migrate
    PORTAL_DATA_DIR=/tmp/probes-bench .venv/bin/python bench/probes.py

1. One tick of 500 HTTP probes against a local server answering in 100 ms;
   budget 3 × the ideal ⌈500 / pool⌉ × 100 ms.
2. A sustained run: 1 000 HTTP probes at a 60 s interval, staggered over the
   minute, driven by the tick's own loop (services.run_scheduler, what
   probes.tasks.tick runs) in a child process; its CPU share of one core and
   its RSS are reported; budget < 50 % of one core.

The target server runs in its own process, so its CPU is not counted.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

SERVICE = "bench-probes"
DELAY = 0.1


def serve(delay: float) -> None:
    """The target: answers every GET with health JSON after `delay` seconds."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = b'{"status": "healthy", "disk_free_gb": 12.5}'

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = (
            1024  # 50 probes connect at once; the default backlog of 5 would drop SYNs
        )

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def start_server():
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/api/health"


def stop(process):
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def setup_django():
    import django

    django.setup()


def make_probes(url: str, count: int, *, spread_seconds: float = 0):
    from datetime import timedelta

    from django.utils import timezone

    from incidents.models import Service
    from probes.kinds import HttpSettings
    from probes.models import Probe

    clear()
    service = Service.objects.create(name=SERVICE)
    config = HttpSettings.clean_config({"url": url, "expect": ["status in [ok, healthy]"]})
    now = timezone.now()
    Probe.objects.bulk_create(
        [
            Probe(
                service=service,
                name=f"http-{i}",
                kind="http",
                config=config,
                interval=60,
                timeout=5,
                next_run_at=now + timedelta(seconds=spread_seconds * i / count),
            )
            for i in range(count)
        ],
        batch_size=500,
    )


def clear():
    from incidents.models import Incident, Service
    from probes.models import Probe, ProbeResult

    ProbeResult.objects.filter(probe__service__name=SERVICE).delete()
    Probe.objects.filter(service__name=SERVICE).delete()
    Incident.objects.filter(service__name=SERVICE).delete()
    Service.objects.filter(name=SERVICE).delete()


def one_tick(url: str) -> dict:
    import psutil
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from probes import services
    from probes.models import ProbeResult

    count, pool = 500, services.POOL_SIZE
    make_probes(url, count)
    rss_before = psutil.Process().memory_info().rss
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        ran = services.run_due(limit=1000)
        seconds = time.perf_counter() - started
    rss_after = psutil.Process().memory_info().rss
    statuses = dict(
        ProbeResult.objects.filter(probe__service__name=SERVICE)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    ideal = math.ceil(count / pool) * DELAY
    ratio = seconds / ideal
    clear()
    return {
        "scenario": f"probe tick: {count} HTTP probes, target answers in 100 ms, pool {pool}",
        "figure": f"{seconds:.2f} s ({ran} ran, results {statuses}, {len(queries)} queries, "
        f"RSS +{(rss_after - rss_before) / 2**20:.0f} MiB)",
        "baseline": f"ideal {ideal:.2f} s",
        "ratio": round(ratio, 2),
        "budget": "≤ 3 × ideal",
        "verdict": "PASS" if ratio <= 3 else "MISS",
    }


def sustain(seconds: float) -> None:
    """Child process: the tick loop for `seconds`; prints its own CPU and memory."""
    import resource

    import psutil

    from probes import services

    me = psutil.Process()
    cpu_before, started = me.cpu_times(), time.monotonic()
    ran = services.run_scheduler(seconds=seconds)
    wall = time.monotonic() - started
    cpu_after = me.cpu_times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    print(
        json.dumps(
            {
                "ran": ran,
                "wall": wall,
                "cpu": cpu,
                "rss_mib": me.memory_info().rss / 2**20,
                "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def sustained(url: str, seconds: float) -> dict:
    from probes.models import ProbeResult

    count = 1000
    make_probes(url, count, spread_seconds=60)
    child = subprocess.run(
        [sys.executable, __file__, "--sustain", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    out = json.loads(child.stdout.strip().splitlines()[-1])
    share = out["cpu"] / out["wall"]
    expected = count * seconds / 60
    errors = (
        ProbeResult.objects.filter(probe__service__name=SERVICE)
        .exclude(status__in=["ok", "warning"])
        .count()
    )
    clear()
    return {
        "scenario": f"sustained: {count} HTTP probes at 60 s interval for {seconds:.0f} s "
        "(tick loop, child process)",
        "figure": f"CPU {share * 100:.1f} % of one core; RSS {out['rss_mib']:.0f} MiB "
        f"(peak {out['max_rss_mib']:.0f}); {out['ran']} runs (≈{expected:.0f} due), "
        f"{errors} failed",
        "baseline": "one core",
        "ratio": round(share, 3),
        "budget": "< 50 % of one core",
        "verdict": "PASS" if share < 0.5 and out["ran"] >= 0.95 * expected else "MISS",
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sustain", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=75, help="length of the sustained run")
    args = parser.parse_args()
    if args.serve:
        serve(DELAY)
        return
    setup_django()
    if args.sustain:
        sustain(args.sustain)
        return
    server, url = start_server()
    try:
        rows = [one_tick(url), sustained(url, args.seconds)]
    finally:
        stop(server)
        clear()
    print(json.dumps(rows, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
