"""Redis stops while the portal runs in scaled mode (Redis broker and cache), then comes back."""

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.faults.conftest import free_port, wait_for

pytestmark = pytest.mark.slow

SETUP = """
    import json
    from django.contrib.auth import (BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY,
                                     get_user_model)
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.authtoken.models import Token
    from core.roles import ensure_roles
    ensure_roles()
    user = get_user_model().objects.create_superuser("admin", password="faults-pw-123")
    session = SessionStore()
    session.update({SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"})
    session.create()
    from django.conf import settings
    from backups.models import BackupTarget
    from incidents.models import Service
    (settings.DATA_DIR / "notes.txt").write_text("keep me")
    target = BackupTarget.objects.create(name="notes", kind="file",
                                         source=str(settings.DATA_DIR / "notes.txt"),
                                         destination=str(settings.DATA_DIR / "backups"),
                                         service=Service.objects.create(name="notes"))
    print(json.dumps({"session": session.session_key, "token": Token.objects.create(user=user).key,
                      "target": target.pk}))
"""

BEAT = """
    import json
    from django.conf import settings
    from django_q.tasks import async_task
    async_task("portal.tasks.heartbeat", "portal")
    async_task("portal.tasks.heartbeat", settings.LONG_QUEUE, cluster=settings.LONG_QUEUE)
    print(json.dumps(True))
"""

RUNS = """
    import json
    from backups.models import BackupRun
    print(json.dumps([[r.status, r.error] for r in BackupRun.objects.order_by("pk")]))
"""

BEATS = """
    import json
    from portal.models import ClusterHeartbeat
    print(json.dumps({b.cluster: b.beat_at.timestamp() for b in ClusterHeartbeat.objects.all()}))
"""


def fetch(url, *, headers=None, method="GET", timeout=10):
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    return status, body, time.monotonic() - started


def test_pages_are_served_health_is_degraded_and_work_resumes_while_redis_is_down(
    own_redis, make_portal
):
    portal = make_portal(redis_url=own_redis.url)
    login = portal.python(SETUP)
    cookie = {"Cookie": f"sessionid={login['session']}"}
    token = {"Authorization": f"Token {login['token']}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = portal.web(port)
    workers = portal.qcluster("workers")
    long_workers = portal.qcluster("long-workers", cluster="long")
    portal.python(BEAT)

    def health():
        try:
            _status, body, _took = fetch(f"{base}/api/health")
        except OSError:
            return None
        return json.loads(body)

    wait_for(
        lambda: (health() or {}).get("status") == "healthy",
        timeout=120,
        what="the portal reports healthy",
    )

    own_redis.stop()
    status, body, took = fetch(f"{base}/api/health")
    report = json.loads(body)
    assert (status, report["status"], report["queue"]) == (200, "degraded", "unreachable"), report
    assert took < 5
    for path, headers in [
        ("/account/login/", {}),
        ("/", cookie),
        ("/incidents/", cookie),
        ("/probes/", cookie),
        ("/api/v1/incidents", token),
        ("/api/v1/tasks", token),
        ("/api/metrics", token),
    ]:
        status, body, took = fetch(base + path, headers=headers)
        assert status == 200, (path, status, body[:500], portal.log_tail("web"))
        assert took < 5, (path, took)
    # Work that needs the queue is refused with a clear message; the run is recorded as failed, not
    # left "queued" where it would block the next try for hours.
    run_now = f"{base}/api/v1/backup-targets/{login['target']}/run"
    status, body, took = fetch(run_now, headers=token, method="POST")
    assert status == 503, (status, body[:300], portal.log_tail("web"))
    assert "queue" in json.loads(body)["detail"].lower()
    assert took < 5
    [[run_status, error]] = portal.python(RUNS)
    assert run_status == "failed" and "queue cannot be reached" in error
    # The clusters wait for the broker instead of dying.
    assert workers.poll() is None, portal.log_tail("workers")
    assert long_workers.poll() is None, portal.log_tail("long-workers")
    assert web.poll() is None

    own_redis.start()
    back_at = time.time()
    portal.python(BEAT)
    wait_for(
        lambda: all(at > back_at for at in portal.python(BEATS).values()),
        timeout=90,
        what="both clusters run tasks again once Redis is back",
    )
    assert health()["queue"] == "ok"
    status, body, _took = fetch(run_now, headers=token, method="POST")
    assert status == 202, body
    wait_for(
        lambda: portal.python(RUNS)[-1] == ["succeeded", ""],
        timeout=60,
        what="the backup asked for after the outage ran",
    )
    assert workers.poll() is None and long_workers.poll() is None
