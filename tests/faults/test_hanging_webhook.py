"""A notification endpoint that accepts the request and never answers, with a real cluster
delivering."""

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
    tier = Tier.objects.create(level=1, name="Operations")
    for name in ("hangs", "answers"):
        contact = Contact.objects.create(name=name, tier=tier)
        NotificationChannel.objects.create(contact=contact, kind="webhook", target="{url}/" +
                                           ("hang" if name == "hangs" else "ok") + "/" + name)
    policy = EscalationPolicy.objects.create(name="default sev1", severity="sev1")
    EscalationStep.objects.create(policy=policy, position=0, after=timedelta(0), tier=tier)
    incident, _ = services.open_incident(service=Service.objects.create(name="api"),
                                         title="API down", severity="sev1")
    print(json.dumps(incident.pk))
"""

STATE = """
    import json
    from django.utils import timezone
    from django_q.models import Task
    from incidents.models import Notification, TimelineEvent
    print(json.dumps({
        "notifications": {
            n.contact.name: {
                "status": n.status, "attempts": n.attempts, "error": n.last_error,
                "retry_in": (n.next_attempt_at - timezone.now()).total_seconds()
                if n.next_attempt_at else None,
            }
            for n in Notification.objects.select_related("contact")
        },
        "events": sorted(e.kind for e in TimelineEvent.objects.all()),
        "failed_tasks": [t.func for t in Task.objects.filter(success=False)],
    }))
"""


def test_a_webhook_that_never_answers_times_out_is_recorded_for_retry_and_holds_up_nobody(
    make_portal, scaled_redis_url, hook
):
    portal = make_portal(redis_url=scaled_redis_url)
    portal.python(SETUP.format(url=hook.url))
    cluster = portal.qcluster()

    wait_for(
        lambda: {"/hang/hangs", "/ok/answers"} <= set(hook.paths()),
        timeout=60,
        what="both contacts' webhooks were called",
    )
    called = {path: at for at, path, _body in hook.received}
    # Sent side by side: the hanging endpoint did not delay the other contact.
    assert abs(called["/ok/answers"] - called["/hang/hangs"]) < 2
    started = time.monotonic()

    def recorded():
        state = portal.python(STATE)
        return state if state["notifications"]["hangs"]["attempts"] == 1 else None

    state = wait_for(recorded, timeout=60, what="the hanging send was given up and recorded")
    # Bounded by the webhook timeout (connect 3 s + read 5 s), not by the endpoint.
    assert time.monotonic() - started < 30
    hangs, answers = state["notifications"]["hangs"], state["notifications"]["answers"]
    assert answers["status"] == "sent"
    assert hangs["status"] == "pending", hangs
    assert "timed out" in hangs["error"].lower(), hangs
    assert 0 < hangs["retry_in"] <= 61, hangs  # the first retry after about a minute
    assert "notification_sent" in state["events"]
    assert state["failed_tasks"] == []
    assert cluster.poll() is None, portal.log_tail("workers")
    assert hook.paths().count("/ok/answers") == 1
