"""Steps fire on time with the real pager process (issue 26): a step due 20 s after opening is paged
within 25 s, and the next one, due 17 s later, within 5 s of its time too; each once. No cluster
runs: the pager alone fires and sends."""

import sys
import time

import pytest

from tests.faults.conftest import wait_for

pytestmark = pytest.mark.slow

SETUP = """
    import json
    from datetime import timedelta
    from incidents import services
    from incidents.models import (Contact, EscalationPolicy, EscalationStep, NotificationChannel,
                                  Service, Tier)
    policy = EscalationPolicy.objects.create(name="default sev1", severity="sev1")
    for position, (name, after) in enumerate([("t1", 20), ("t2", 37)]):
        tier = Tier.objects.create(level=position + 1, name=name)
        contact = Contact.objects.create(name=name, tier=tier)
        NotificationChannel.objects.create(contact=contact, kind="webhook", target="{url}/" + name)
        EscalationStep.objects.create(policy=policy, position=position,
                                      after=timedelta(seconds=after), tier=tier)
    incident, _ = services.open_incident(service=Service.objects.create(name="api"),
                                         title="API down", severity="sev1")
    print(json.dumps(incident.created_at.timestamp()))
"""


def test_steps_due_20_s_and_37_s_after_opening_are_paged_on_time_once_each(make_portal, hook):
    portal = make_portal()
    arrived = []

    def note(path, body):
        arrived.append((time.time(), path))
        return False

    hook.intercept = note
    portal.start("pager", [sys.executable, "manage.py", "page"])
    opened = portal.python(SETUP.format(url=hook.url))
    wait_for(lambda: len(arrived) >= 2, timeout=60, what="both steps paged")
    time.sleep(3)  # a duplicate would come within the pager's next rounds
    assert [path for _at, path in arrived] == ["/t1", "/t2"], portal.log_tail("pager")
    late = {path: at - opened for at, path in arrived}
    assert 20 <= late["/t1"] <= 25, late
    assert 37 <= late["/t2"] <= 42, late
