"""`serve` keeps the portal up when one of its processes dies: a cluster killed outright
(SIGKILL, its whole process group) is started again within 15 s while the web keeps answering,
and an escalation step that falls due meanwhile is paged once."""

import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import psutil
import pytest

from tests.faults.conftest import free_port, wait_for

pytestmark = pytest.mark.slow

SECOND_STEP_AFTER = (
    45  # seconds: due while the killed cluster is being started again, or just after
)

SETUP = """
    import json
    from datetime import timedelta
    from incidents import services
    from incidents.models import (Contact, EscalationPolicy, EscalationStep, NotificationChannel,
                                  Service, Tier)
    tier = Tier.objects.create(level=1, name="Operations")
    contact = Contact.objects.create(name="on call", tier=tier)
    NotificationChannel.objects.create(contact=contact, kind="webhook", target="{url}/ok/0")
    policy = EscalationPolicy.objects.create(name="default sev1", severity="sev1")
    EscalationStep.objects.create(policy=policy, position=0, after=timedelta(0), tier=tier)
    EscalationStep.objects.create(policy=policy, position=1, after=timedelta(seconds={after}),
                                  tier=tier)
    services.open_incident(service=Service.objects.create(name="payments"), title="payments down",
                           severity="sev1")
    print(json.dumps(True))
"""


class Load:
    """GET /api/health in a loop from a thread; every refused or failed request is kept."""

    def __init__(self, url: str):
        self.url, self.failures, self.answers, self.running = url, [], 0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    response.read()
                self.answers += 1
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(repr(exc))
            time.sleep(0.2)

    def stop(self):
        self.running = False
        self.thread.join(timeout=15)


def clusters(serve: psutil.Process) -> dict[str, psutil.Process]:
    """The cluster main processes `serve` started, by name ("workers" and "long-workers")."""
    found = {}
    for child in serve.children():
        try:  # a killed one is a zombie until serve notices
            if "qcluster" in " ".join(child.cmdline()):
                found["long-workers" if child.environ().get("Q_CLUSTER_NAME") else "workers"] = (
                    child
                )
        except psutil.Error:
            continue
    return found


def test_a_killed_cluster_is_started_again_the_web_keeps_answering_and_no_page_is_lost(
    make_portal, scaled_redis_url, hook
):
    portal = make_portal(redis_url=scaled_redis_url)
    portal.manage("collectstatic", "--noinput", "-v0")
    port = free_port()
    serve = portal.start(
        "serve", [sys.executable, "manage.py", "serve", "--no-setup", "--port", str(port)]
    )
    wait_for(lambda: "is running at" in portal.log_tail("serve"), timeout=120, what="serve started")
    family = psutil.Process(serve.pid)
    before = wait_for(
        lambda: len(found := clusters(family)) == 2 and found, timeout=30, what="both clusters"
    )
    load = Load(f"http://127.0.0.1:{port}/api/health")
    try:
        portal.python(SETUP.format(url=hook.url, after=SECOND_STEP_AFTER))
        wait_for(lambda: len(hook.answered) >= 1, timeout=60, what="the first step paged")
        for name in ("workers", "long-workers"):
            os.killpg(before[name].pid, signal.SIGKILL)
            again = wait_for(
                lambda name=name: (
                    (p := clusters(family).get(name)) and p.pid != before[name].pid and p
                ),
                timeout=15,
                what=f"{name} started again",
            )
            assert again.is_running()
        log = portal.log_tail("serve", 200)
        assert "workers exited with code -9; starting it again" in log, log
        assert "long-workers exited with code -9; starting it again" in log, log
        # The second step falls due after the kill: the restarted cluster pages it, once.
        wait_for(
            lambda: len(hook.answered) >= 2,
            timeout=SECOND_STEP_AFTER + 120,
            what="the second step paged",
        )
        time.sleep(5)  # a duplicate would arrive right behind it
        keys = Counter(body["idempotency_key"] for _at, _path, body in hook.received)
        assert len(keys) == 2 and set(keys.values()) == {1}, keys
        assert serve.poll() is None  # only Ctrl+C stops the portal
    finally:
        load.stop()
    assert load.failures == [] and load.answers > 0, load.failures[:5]
    serve.send_signal(signal.SIGINT)
    serve.wait(timeout=30)
    assert serve.returncode == 0
