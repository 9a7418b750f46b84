"""PostgreSQL restarts while the web server serves requests and a cluster runs probes against it."""

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime

import pytest

from tests.faults.conftest import free_port, wait_for

pytestmark = pytest.mark.slow

PROBES = 20
INTERVAL = 10
OUTAGE_SECONDS = 3

SETUP = """
    import json
    from django.conf import settings
    from django.contrib.auth import (BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY,
                                     get_user_model)
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone
    from django_q.tasks import async_task
    from incidents.models import Service
    from core.roles import ensure_roles
    from probes.models import Probe
    ensure_roles()
    user = get_user_model().objects.create_superuser("admin", password="faults-pw-123")
    session = SessionStore()
    session.update({{SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"}})
    session.create()
    watched = settings.FILE_ROOTS[0] / "watched.txt"  # the data dir is never probed
    watched.write_text("alive")
    service = Service.objects.create(name="files")
    for n in range({probes}):
        Probe.objects.create(service=service, name=f"file {{n}}", kind="file",
                             interval={interval}, timeout=2,
                             config={{"path": str(watched)}}, next_run_at=timezone.now())
    async_task("probes.tasks.tick")
    async_task("portal.tasks.heartbeat", "portal")
    async_task("portal.tasks.heartbeat", settings.LONG_QUEUE, cluster=settings.LONG_QUEUE)
    print(json.dumps(session.session_key))
"""

LAST_RESULTS = """
    import json
    from django.db.models import Max
    from probes.models import ProbeResult
    last = ProbeResult.objects.values("probe").annotate(last=Max("at"))
    print(json.dumps([at.timestamp() for at in last.values_list("last", flat=True)]))
"""


class Load:
    """Requests in a loop from a thread, each one recorded with its time and status."""

    def __init__(self, base: str, cookie: str):
        self.base, self.cookie = base, cookie
        self.seen: list[tuple[float, str, int]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            for path in ("/api/health", "/probes/", "/incidents/"):
                request = urllib.request.Request(
                    self.base + path, headers={"Cookie": f"sessionid={self.cookie}"}
                )
                # a request is placed by when it was sent, not by when it was answered
                started = time.time()
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status = response.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                except OSError:
                    status = 0
                self.seen.append((started, path, status))

    def stop(self):
        self.done.set()
        self.thread.join(timeout=15)


def test_web_and_workers_carry_on_after_postgres_restarts(own_postgres, make_portal):
    portal = make_portal(database_url=own_postgres.create_database("portal"))
    portal.manage("migrate", "-v0")
    cookie = portal.python(SETUP.format(probes=PROBES, interval=INTERVAL))
    port = free_port()
    web = portal.web(port)
    workers = portal.qcluster("workers")
    long_workers = portal.qcluster("long-workers", cluster="long")
    base = f"http://127.0.0.1:{port}"

    def health():
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=10) as response:
                return json.load(response)
        except (OSError, ValueError):
            return None

    wait_for(
        lambda: (health() or {}).get("status") == "healthy",
        timeout=120,
        what="the portal reports healthy",
    )
    wait_for(
        lambda: len(portal.python(LAST_RESULTS)) == PROBES, timeout=60, what="every probe has run"
    )
    load = Load(base, cookie)
    try:
        wait_for(lambda: len(load.seen) >= 6, timeout=30, what="the load is under way")
        own_postgres.stop("fast")
        down_at = time.time()
        wait_for(
            lambda: any(at > down_at and path == "/api/health" for at, path, _s in load.seen),
            timeout=30,
            what="a health check while the database is down",
        )
        time.sleep(OUTAGE_SECONDS)  # the outage itself: the database stays down this long
        restart_at = time.time()
        own_postgres.start()
        up_at = time.time()
        # Every probe runs again after the restart, within two of its rounds (the tick survives, or
        # the next one takes over).
        wait_for(
            lambda: all(at > up_at for at in portal.python(LAST_RESULTS)),
            timeout=90,
            what="every probe records results again after the restart",
        )
        settled = time.time() + 5
        wait_for(
            lambda: any(at > settled for at, _p, _s in load.seen),
            timeout=30,
            what="more requests served",
        )
    finally:
        load.stop()

    # Sent while the database was surely down: after it stopped, and a second before it was started
    # again (a request sent just before may reach it once it is back, and rightly succeed).
    outage = [(path, status) for at, path, status in load.seen if down_at < at < restart_at - 1]
    # While it is down: health says so at once (503, not a hang), pages fail with the error page.
    assert ("/api/health", 503) in outage, outage
    assert all(status in (500, 503) for _path, status in outage), [
        item for item in outage if item[1] not in (500, 503)
    ]
    after = [
        (path, status, datetime.fromtimestamp(at).isoformat())
        for at, path, status in load.seen
        if at > up_at + 2
    ]
    assert after and all(status == 200 for _p, status, _at in after), (
        after,
        portal.log_tail("web"),
    )
    for name, proc in [("web", web), ("workers", workers), ("long-workers", long_workers)]:
        assert proc.poll() is None, portal.log_tail(name)
    assert health()["status"] == "healthy"
