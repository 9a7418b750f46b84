"""Serve the portal: gunicorn for the web, two django-q2 clusters for the work, the pager for pages.

One command, as `make run` needs it. Every child runs in its own session so
that Ctrl+C reaches only this supervisor, which then stops them in order with
a bounded grace period and kills whatever is left (a qcluster sent SIGTERM has
been seen to hang for an hour). A child that dies is started again after a
backoff while the others keep running, and /api/health says `degraded` until it
is back (the supervisor writes each child's state to <data dir>/run/children.json,
portal.health reads it). Only Ctrl+C (or SIGTERM) stops the portal.
"""

import contextlib
import ctypes
import errno
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django_q.tasks import async_task

from core import shutdown
from portal.env import env_int
from portal.health import CHILDREN_STATE

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
PR_SET_PDEATHSIG = 1
CLUSTERS = {"workers", "long-workers"}  # the children that are django-q2 clusters
# Seconds before a dead child is started again: the n-th restart in a row waits RESTART_BACKOFF[n].
# A child that ran for STABLE_AFTER seconds before it died starts the count again.
RESTART_BACKOFF = (1, 2, 5, 10, 30)
STABLE_AFTER = 60


def die_with_parent():
    # Linux: if the supervisor is killed outright, the child gets SIGTERM
    # instead of living on as an orphan.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_cluster_child():
    die_with_parent()
    shutdown.ignore_in_children()  # only workers catch the stop request (core.shutdown)


def port_in_use(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def tighten_modes(data_dir: Path, database: dict) -> list[Path]:
    """Take group and other access away from the data dir, the files in it and the SQLite database
    with its -wal and -shm: a portal set up before files were kept private (umask 077) has them
    0755/0644. Returns the paths changed."""
    paths = [data_dir, *(p for p in data_dir.iterdir() if p.is_file() and not p.is_symlink())]
    if database["ENGINE"].endswith("sqlite3"):
        db = Path(database["NAME"])
        paths += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    changed = []
    for path in dict.fromkeys(paths):
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            continue
        if mode & 0o077:
            path.chmod(mode & 0o700)
            changed.append(path)
    return changed


class Command(BaseCommand):
    help = "Run the portal (web server and background workers) until Ctrl+C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--web-workers", type=int, default=env_int("PORTAL_WEB_WORKERS", 2, minimum=1)
        )
        parser.add_argument(
            "--no-setup", action="store_true", help="skip migrate, collectstatic and bootstrap"
        )
        parser.add_argument(
            "--grace", type=float, default=7.0, help="seconds to wait for children to stop"
        )

    def handle(self, *args, host, port, web_workers, no_setup, grace, **options):
        for path in tighten_modes(Path(settings.DATA_DIR), settings.DATABASES["default"]):
            self.stdout.write(f"Made {path} private to its owner.")
        problem = port_in_use(host, port)
        if problem:
            raise CommandError(
                f"{problem}. Stop the other server, or choose another port: PORTAL_PORT={port + 1} "
                "make run"
            )
        if not no_setup:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            call_command("bootstrap", stdout=self.stdout)
        close_old_connections()

        self.children: dict[str, subprocess.Popen] = {}
        self.specs: dict[str, tuple] = {}  # how each child was started, to start it again
        self.started_at: dict[str, float] = {}
        self.restarts: dict[str, int] = {}  # restarts in a row, for the backoff
        self.down: dict[
            str, tuple[float, int]
        ] = {}  # a dead child: (when to start it again, exit code)
        self.state_file = Path(settings.DATA_DIR) / "run" / CHILDREN_STATE
        self.stopping = False
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)
        try:
            self.start_children(host, port, web_workers)
            url = f"http://{host}:{port}/"
            if self.wait_until_ready(host, port):
                self.stdout.write(
                    self.style.SUCCESS(f"Ops Portal is running at {url}  (Ctrl+C to stop)")
                )
            self.supervise()
        finally:
            self.stop_children(grace)
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()

    def on_signal(self, signum, frame):
        self.stopping = True

    def spawn(self, name, argv, env=None, preexec_fn=die_with_parent):
        self.specs[name] = (argv, env, preexec_fn)
        self.children[name] = subprocess.Popen(
            argv, env=env or os.environ.copy(), start_new_session=True, preexec_fn=preexec_fn
        )
        self.started_at[name] = time.monotonic()

    def start_children(self, host, port, web_workers):
        run_dir = Path(settings.DATA_DIR) / "run"
        metrics_dir = run_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        web_env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        self.spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "60",
                "--graceful-timeout",
                str(5),
                "--access-logfile",
                "-",
                "--logger-class",
                "portal.logs.GunicornLogger",
                "--worker-tmp-dir",
                str(run_dir),
                "--no-control-socket",
            ],
            env=web_env,
        )
        self.spawn("workers", [sys.executable, MANAGE, "qcluster"], preexec_fn=start_cluster_child)
        # django-q2 reads its cluster name when its settings class is built, so
        # it must come from the environment, not from `qcluster --name`.
        long_env = {**os.environ, "Q_CLUSTER_NAME": settings.LONG_QUEUE}
        self.spawn(
            "long-workers",
            [sys.executable, MANAGE, "qcluster"],
            env=long_env,
            preexec_fn=start_cluster_child,
        )
        # Steps fire when due, not at the minute sweep, and no busy worker holds a page up.
        self.spawn("pager", [sys.executable, MANAGE, "page"])

    def wait_until_ready(self, host, port, timeout=90.0) -> bool:
        """Web answers and each cluster has run a heartbeat task."""
        async_task("portal.tasks.heartbeat", "portal", cluster=None)
        async_task("portal.tasks.heartbeat", settings.LONG_QUEUE, cluster=settings.LONG_QUEUE)
        close_old_connections()
        started = time.monotonic()
        while not self.stopping and time.monotonic() - started < timeout:
            self.restart_dead_children()
            try:
                conn = http.client.HTTPConnection(host.strip("[]"), port, timeout=2)
                conn.request("GET", "/api/health")
                report = json.loads(conn.getresponse().read())
                conn.close()
                if report.get("queue") == "ok":
                    return True
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.3)
        if not self.stopping:
            self.stderr.write(
                f"The portal did not report healthy within {timeout:.0f} s: see "
                f"http://{host}:{port}/api/health"
            )
        return not self.stopping

    def supervise(self):
        self.write_state()
        while not self.stopping:
            self.restart_dead_children()
            time.sleep(0.5)
        self.stdout.write("Stopping…")

    def restart_dead_children(self, now: float | None = None):
        now = time.monotonic() if now is None else now
        changed = False
        for name, child in self.children.items():
            if child.poll() is None:
                continue
            if name not in self.down:
                if now - self.started_at[name] >= STABLE_AFTER:
                    self.restarts[name] = 0
                count = self.restarts.get(name, 0)
                delay = RESTART_BACKOFF[min(count, len(RESTART_BACKOFF) - 1)]
                self.down[name] = (now + delay, child.returncode)
                # what is left of its process group (q workers)
                self.signal_group(child, signal.SIGKILL)
                self.stderr.write(
                    f"{name} exited with code {child.returncode}; starting it again in {delay} s"
                )
                changed = True
            elif now >= self.down[name][0]:
                argv, env, preexec_fn = self.specs[name]
                self.spawn(name, argv, env, preexec_fn)
                self.restarts[name] = self.restarts.get(name, 0) + 1
                del self.down[name]
                self.stdout.write(f"{name} started again (restart {self.restarts[name]})")
                changed = True
        if changed:
            self.write_state()

    def write_state(self):
        """Each child's state for /api/health (portal.health.check_processes), replaced
        atomically."""
        state = {
            name: {
                "running": name not in self.down,
                "restarts": self.restarts.get(name, 0),
                **({"exit_code": self.down[name][1]} if name in self.down else {}),
            }
            for name in self.children
        }
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps(state))
        partial.replace(self.state_file)

    def stop_children(self, grace: float):
        # SIGTERM to each child only, not its group: gunicorn's master and
        # qcluster's main process stop their own workers in order. Signalled
        # all at once, a cluster's monitor dies before the sentinel drains its
        # result queue and the sentinel waits forever. First the stop request to
        # the clusters' workers (each cluster is a process group of its own), so a
        # looping task (the probe tick) returns instead of running out its minute.
        for name in CLUSTERS & self.children.keys():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.children[name].pid, shutdown.STOP_SIGNAL)
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Whatever is left, and any grandchild (gunicorn or q workers) that
        # outlived its parent, goes now.
        for name, child in self.children.items():
            if child.poll() is None:
                self.stderr.write(f"{name} did not stop within {grace:.0f} s; killing it")
            self.signal_group(child, signal.SIGKILL)
            try:
                child.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"process {child.pid} did not exit after SIGKILL")

    @staticmethod
    def signal_group(child, signum):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)
