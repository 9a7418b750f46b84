"""`serve` keeps paging when its pager dies (issue 26): the pager killed outright (SIGKILL) just
before a step falls due is started again within 15 s while the web keeps answering, and the step
is paged once, soon after its time. (The clusters' kill is tests/faults/test_serve_restarts.py.)"""

import os
import signal
import sys
import time
from collections import Counter

import psutil
import pytest

from tests.faults.conftest import free_port, wait_for
from tests.faults.test_serve_restarts import Load

pytestmark = pytest.mark.slow

SECOND_STEP_AFTER = 25  # seconds after opening; the pager is killed two seconds before

SETUP = """
    import json
    from datetime import timedelta
    from incidents import services
    from incidents.models import (Contact, EscalationPolicy, EscalationStep, NotificationChannel,
                                  Service, Tier)
    policy = EscalationPolicy.objects.create(name="default sev1", severity="sev1")
    for position, (name, after) in enumerate([("t1", 0), ("t2", {after})]):
        tier = Tier.objects.create(level=position + 1, name=name)
        contact = Contact.objects.create(name=name, tier=tier)
        NotificationChannel.objects.create(contact=contact, kind="webhook", target="{url}/" + name)
        EscalationStep.objects.create(policy=policy, position=position,
                                      after=timedelta(seconds=after), tier=tier)
    incident, _ = services.open_incident(service=Service.objects.create(name="payments"),
                                         title="payments down", severity="sev1")
    print(json.dumps(incident.created_at.timestamp()))
"""


def pager(serve: psutil.Process) -> psutil.Process | None:
    for child in serve.children():
        try:  # a killed one is a zombie until serve notices
            if child.cmdline()[-1:] == ["page"] and child.status() != psutil.STATUS_ZOMBIE:
                return child
        except psutil.Error:
            continue
    return None


def test_a_killed_pager_is_started_again_the_web_keeps_answering_and_the_due_step_is_paged_once(
    make_portal, scaled_redis_url, hook
):
    portal = make_portal(redis_url=scaled_redis_url)
    arrived = {}

    def note(path, body):
        arrived.setdefault(path, time.time())
        return False

    hook.intercept = note
    portal.manage("collectstatic", "--noinput", "-v0")
    port = free_port()
    serve = portal.start(
        "serve", [sys.executable, "manage.py", "serve", "--no-setup", "--port", str(port)]
    )
    wait_for(lambda: "is running at" in portal.log_tail("serve"), timeout=120, what="serve started")
    family = psutil.Process(serve.pid)
    before = wait_for(lambda: pager(family), timeout=30, what="the pager")
    load = Load(f"http://127.0.0.1:{port}/api/health")
    try:
        opened = portal.python(SETUP.format(url=hook.url, after=SECOND_STEP_AFTER))
        wait_for(lambda: "/t1" in hook.paths(), timeout=30, what="the first step paged")
        time.sleep(max(opened + SECOND_STEP_AFTER - 2 - time.time(), 0))
        assert "/t2" not in hook.paths()
        os.kill(before.pid, signal.SIGKILL)
        killed_at = time.time()
        again = wait_for(
            lambda: (p := pager(family)) and p.pid != before.pid and p,
            timeout=15,
            what="the pager started again",
        )
        assert again.is_running()
        assert time.time() - killed_at <= 15
        assert "pager exited with code -9; starting it again" in portal.log_tail("serve", 200)
        # The step fell due while the pager was down or starting: the new one pages it, once.
        wait_for(lambda: "/t2" in hook.paths(), timeout=30, what="the second step paged")
        assert arrived["/t2"] - (opened + SECOND_STEP_AFTER) <= 15, arrived["/t2"] - opened
        time.sleep(5)  # a duplicate would come within the pager's next rounds
        keys = Counter(body["idempotency_key"] for _at, _path, body in hook.received)
        assert hook.paths().count("/t1") == 1 and hook.paths().count("/t2") == 1, hook.paths()
        assert set(keys.values()) == {1}, keys
        assert serve.poll() is None  # only Ctrl+C stops the portal
    finally:
        load.stop()
    assert load.failures == [] and load.answers > 0, load.failures[:5]
    serve.send_signal(signal.SIGINT)
    serve.wait(timeout=30)
    assert serve.returncode == 0
