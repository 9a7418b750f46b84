"""Seed the bench database: a token for the load generator and rows to list.

Run by bench/run.py with DJANGO_SETTINGS_MODULE=bench.settings.
"""

import argparse
import json
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import transaction
from django.utils import timezone
from django_q.models import Task
from rest_framework.authtoken.models import Token

BATCH = 5000
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
EVENT_KINDS = ("created", "escalation", "notification_sent", "note", "status")


def seed_tasks(n: int) -> None:
    now = timezone.now()
    for start in range(0, n, BATCH):
        Task.objects.bulk_create(
            Task(id=uuid.uuid4().hex, name=f"bench-{i}", func="portal.tasks.heartbeat", group="bench",
                 started=now - timedelta(seconds=i), stopped=now - timedelta(seconds=i), success=i % 10 != 0,
                 result=None if i % 10 else "bench failure")
            for i in range(start, min(n, start + BATCH))
        )


def seed_incidents(n: int, open_n: int) -> None:
    """n incidents, the newest open_n of them open and escalating (SEV1 snapshot, next step in 30 min)."""
    from incidents import demo
    from incidents.escalation import snapshot_policy
    from incidents.models import Incident, Service, TimelineEvent

    demo.seed()
    services = list(Service.objects.all())
    snapshots = {(s.pk, sev): snapshot_policy(service=s, severity=sev) for s in services for sev in SEVERITIES}
    now = timezone.now()
    for start in range(0, n, BATCH):
        rows = []
        for i in range(start, min(n, start + BATCH)):
            service, severity = services[i % len(services)], SEVERITIES[i % 4]
            created = now - timedelta(minutes=n - i)
            is_open = i >= n - open_n
            rows.append(Incident(
                service=service, title=f"Bench incident {i}", severity=severity, category="bench",
                status="triggered" if is_open else "resolved", created_at=created, detected_at=created,
                resolved_at=None if is_open else created + timedelta(minutes=42),
                escalation_snapshot=snapshots[(service.pk, "sev1")], escalation_started_at=now,
                escalation_step=0 if is_open else -1,
                next_escalation_at=now + timedelta(minutes=30) if is_open else None,
            ))
        Incident.objects.bulk_create(rows)
        TimelineEvent.objects.bulk_create(
            TimelineEvent(incident=incident, at=incident.created_at + timedelta(minutes=k), kind=kind,
                          message=f"bench event {k}")
            for incident in rows for k, kind in enumerate(EVENT_KINDS)
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open-incidents", type=int, default=10_000)
    args = parser.parse_args()
    with transaction.atomic():
        user = get_user_model().objects.create_superuser("bench", password=uuid.uuid4().hex)
        token = Token.objects.create(user=user)
        session = SessionStore()
        session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        seed_tasks(args.tasks)
        seed_incidents(args.incidents, args.open_incidents)
    from incidents.models import Incident

    incident = Incident.objects.order_by("-pk").values_list("pk", flat=True).first()
    print(json.dumps({"token": token.key, "session": session.session_key, "incident": incident}))


if __name__ == "__main__":
    main()
