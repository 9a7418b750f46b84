"""The shared set-up of the channel tests: one Tier 1 contact paged at once for a SEV1 (with an
e-mail channel), an incident opened and swept at a fixed time, and the retry loop run at a time."""

from datetime import UTC, datetime, timedelta

import time_machine

from incidents import notify, services
from incidents.escalation import escalate_due
from tests.incidents.factories import make_contact, make_policy, make_service, make_tier
from tests.incidents.worker import worker

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)


def make_paged_contact():
    tier = make_tier(1, "Operations")
    contact = make_contact("ops", tier=tier)
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}])
    return contact


def open_and_sweep(at=T0, **extra):
    with time_machine.travel(at, tick=False):
        incident, _ = services.open_incident(
            service=make_service("api"), title="API down", severity="sev1", **extra
        )
        with worker():  # the sweep writes the rows; its delivery task sends them
            escalate_due(now=at)
    return incident


def retry(at):
    with time_machine.travel(at, tick=False):
        return notify.retry_notifications(now=at)
