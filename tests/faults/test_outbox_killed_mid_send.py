"""A worker killed with SIGKILL while it sends a queued message (a reminder, an overdue checklist,
a routed event): the row stays claimed until its lease runs out, nobody sends it meanwhile, and then
it is sent once more with the same idempotency key and recorded once (issue 15, acceptance 2)."""

import sys

import pytest

from tests.faults.conftest import wait_for

pytestmark = pytest.mark.slow

QUEUE = """
    import json
    from incidents import services
    from incidents.models import Purpose
    services.queue_message(purpose=Purpose.REMINDER, key="reminder:postmortem:1:2026-03-13",
                           recipient="channel:1", kind="webhook", target="{url}/reminder",
                           subject="[Postmortem due] #1 API down",
                           text="A published postmortem was due.", url="http://portal/",
                           language="en")
    print(json.dumps(True))
"""

# Sends what is due; LATER seconds from now when given (the lease run out, without waiting 45 s).
SEND = """
    import json, os
    from datetime import timedelta
    from django.utils import timezone
    from incidents import notify
    later = float(os.environ.get("LATER", "0"))
    now = timezone.now() + timedelta(seconds=later) if later else None
    print(json.dumps(notify.send_pending(now=now)))
"""

STATE = """
    import json
    from incidents.models import Notification
    row = Notification.objects.get()
    print(json.dumps({"status": row.status, "attempts": row.attempts,
                      "claimed": row.claim is not None, "error": row.last_error}))
"""


def test_a_message_whose_sender_is_killed_mid_send_is_sent_once_after_its_lease(make_portal, hook):
    portal = make_portal()
    portal.python(QUEUE.format(url=hook.url))
    # the first delivery never gets an answer
    hook.intercept = lambda path, body: len(hook.received) == 1
    sender = portal.start(
        "sender",
        [
            sys.executable,
            "-c",
            "import django\ndjango.setup()\n" + SEND.replace("\n    ", "\n").strip(),
        ],
    )
    wait_for(lambda: hook.received, timeout=30, what="the sender posted the reminder")
    portal.kill(sender)  # SIGKILL while it waits for the answer

    assert portal.python(STATE) == {
        "status": "pending",
        "attempts": 0,
        "claimed": True,
        "error": "",
    }
    assert portal.python(SEND) == 0  # the lease holds: a second worker takes nothing
    assert len(hook.received) == 1

    assert portal.python(SEND, LATER="60") == 1  # after the lease: sent again, once
    assert portal.python(STATE) == {"status": "sent", "attempts": 1, "claimed": False, "error": ""}
    assert portal.python(SEND, LATER="3600") == 0
    assert [path for _at, path, _body in hook.answered] == ["/reminder"]
    first, second = (body for _at, _path, body in hook.received)
    assert first["idempotency_key"] == second["idempotency_key"] and first["text"] == second["text"]
