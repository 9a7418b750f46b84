"""Two `qcluster` processes share one database and broker for minutes: 200 probes, escalating
incidents and a checklist schedule. Every tick, run, escalation step and notification happens once,
none is missed.

On the PostgreSQL + Redis run this is the scaled set-up (two worker hosts); on SQLite the embedded
one with the ORM broker. On top of the schedules, the test keeps queueing extra ticks, sweeps and
materialisations so that both clusters run the same job at the same moment, again and again.
"""

import itertools
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.faults.conftest import wait_for

pytestmark = pytest.mark.slow

PROBES = 200
INTERVAL = 10
INCIDENTS = 20
CONTACTS = 2
STEPS = 2  # at once, and after one minute
DURATION = float(os.environ.get("PORTAL_TWO_CLUSTERS_SECONDS", 120))
KICK_EVERY = 20

SETUP = """
    import json
    from datetime import timedelta
    from django.conf import settings
    from django.utils import timezone
    from checklists.models import Item, Template
    from incidents import services
    from incidents.models import (Contact, EscalationPolicy, EscalationStep, NotificationChannel,
                                  Service, Tier)
    from probes.models import Probe
    watched = settings.FILE_ROOTS[0] / "watched.txt"  # the data dir is never probed
    watched.write_text("alive")
    service = Service.objects.create(name="fleet")
    Probe.objects.bulk_create([
        Probe(service=service, name=f"file {{n}}", kind="file", interval={interval}, timeout=2,
              config={{"path": str(watched)}}, next_run_at=timezone.now())
        for n in range({probes})])
    tier = Tier.objects.create(level=1, name="Operations")
    for n in range({contacts}):
        contact = Contact.objects.create(name=f"on call {{n}}", tier=tier)
        NotificationChannel.objects.create(contact=contact, kind="webhook",
                                           target=f"{url}/ok/{{n}}")
    policy = EscalationPolicy.objects.create(name="default sev1", severity="sev1")
    for position in range({steps}):
        EscalationStep.objects.create(policy=policy, position=position,
                                      after=timedelta(minutes=position), tier=tier)
    for n in range({incidents}):
        services.open_incident(service=service, title=f"outage {{n}}", severity="sev1",
                               dedup_key=f"outage-{{n}}")
    template = Template.objects.create(name="Every minute", schedule="* * * * *")
    Item.objects.create(template=template, text="Look at the graphs")
    print(json.dumps(timezone.now().timestamp()))
"""

# Both clusters pull from the same queue: these land on either, next to the scheduled ones.
KICK = """
    import json
    from django_q.tasks import async_task
    for func in ["probes.tasks.tick", "incidents.tasks.escalate", "incidents.tasks.escalate",
                 "checklists.tasks.materialize", "checklists.tasks.materialize"]:
        async_task(func)
    print(json.dumps(True))
"""

OUTCOME = """
    import json
    from django_q.models import Task
    from checklists.models import Run
    from incidents.models import EventKind, Notification, TimelineEvent
    from probes.models import ProbeResult
    results = {}
    for probe, at in ProbeResult.objects.order_by("probe", "at").values_list("probe", "at"):
        results.setdefault(probe, []).append(at.timestamp())
    print(json.dumps({
        "results": results,
        "notifications": list(Notification.objects.values_list(
            "incident", "step", "repeat", "channel", "status", "attempts")),
        "escalations": list(TimelineEvent.objects.filter(kind=EventKind.ESCALATION)
                            .values_list("incident", "data__step")),
        "runs": [[r.occurrence.timestamp(), r.status] for r in Run.objects.all()],
        "failed_tasks": [[t.func, str(t.result)[:300]] for t in Task.objects.filter(success=False)],
    }))
"""


def test_two_clusters_do_every_job_once_and_miss_none(make_portal, scaled_redis_url, hook):
    portal = make_portal(redis_url=scaled_redis_url, PORTAL_Q_WORKERS="4")
    started = portal.python(
        SETUP.format(
            probes=PROBES,
            interval=INTERVAL,
            contacts=CONTACTS,
            steps=STEPS,
            incidents=INCIDENTS,
            url=hook.url,
        )
    )
    clusters = [portal.qcluster("cluster-a"), portal.qcluster("cluster-b")]
    deadline = time.monotonic() + DURATION
    while time.monotonic() < deadline:
        last_kick = time.time()
        portal.python(KICK)
        for name, cluster in zip(("cluster-a", "cluster-b"), clusters, strict=True):
            assert cluster.poll() is None, portal.log_tail(name)
        # the pace of the extra jobs
        time.sleep(min(KICK_EVERY, max(0.0, deadline - time.monotonic())))
    expected_calls = INCIDENTS * CONTACTS * STEPS
    wait_for(
        lambda: len(hook.received) >= expected_calls,
        timeout=90,
        what=f"{expected_calls} notifications delivered",
    )
    # Every occurrence up to the last extra materialisation must have its run.
    first = datetime.fromtimestamp(started, UTC).replace(second=0, microsecond=0)
    due = [first + timedelta(minutes=m) for m in range(1, 10)]
    due = {at.timestamp() for at in due if at.timestamp() < last_kick}
    wait_for(
        lambda: due <= {at for at, _status in portal.python(OUTCOME)["runs"]},
        timeout=60,
        what=f"a checklist run for each occurrence {sorted(due)}",
    )
    for proc in clusters:
        portal.stop(proc, grace=10)
    outcome = portal.python(OUTCOME)

    # Probes: one result per probe per round; no round skipped while the clusters ran.
    assert len(outcome["results"]) == PROBES
    for probe, ats in outcome["results"].items():
        gaps = [b - a for a, b in itertools.pairwise(ats)]
        assert len(ats) >= DURATION / INTERVAL * 0.8, (probe, len(ats))
        assert min(gaps) >= INTERVAL - 1, (probe, "ran twice in one round", gaps)
        assert max(gaps) < 2 * INTERVAL, (probe, "skipped a round", gaps)

    # Escalation: every step of every incident fired once and paged each contact once.
    steps_fired = Counter(tuple(event) for event in outcome["escalations"])
    assert len(steps_fired) == INCIDENTS * STEPS, sorted(steps_fired)
    assert set(steps_fired.values()) == {1}, [key for key, n in steps_fired.items() if n > 1]
    assert len(outcome["notifications"]) == expected_calls
    assert {(status, attempts) for *_key, status, attempts in outcome["notifications"]} == {
        ("sent", 1)
    }
    calls = Counter((path, body["incident"]) for _at, path, body in hook.received)
    assert len(calls) == INCIDENTS * CONTACTS
    assert set(calls.values()) == {STEPS}, [key for key, n in calls.items() if n != STEPS]

    # Checklists: one run per occurrence of the schedule, none recorded as missed.
    occurrences = Counter(at for at, _status in outcome["runs"])
    assert set(occurrences.values()) == {1}
    assert due and due <= set(occurrences), (sorted(due), sorted(occurrences))
    assert {status for _at, status in outcome["runs"]} <= {"open", "overdue"}

    assert outcome["failed_tasks"] == []
