"""After `manage.py seed_bench`: a login for the load generator, task history, the rows to ask for,
and today's reminders already sent.

Run by bench/run.py with DJANGO_SETTINGS_MODULE=bench.settings. Prints one JSON
object: an API token, a session cookie, and the ids the detail scenarios use.
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
from django.db.models import Count
from django.utils import timezone
from django_q.models import Task
from rest_framework.authtoken.models import Token

from backups.models import BackupRun
from checklists.models import Run, RunStatus
from incidents.models import Incident, Postmortem
from probes.models import Probe, ProbeResult

BATCH = 5000


def seed_tasks(n: int) -> None:
    now = timezone.now()
    for start in range(0, n, BATCH):
        Task.objects.bulk_create(
            Task(id=uuid.uuid4().hex, name=f"bench-{i}", func="portal.tasks.heartbeat", group="bench",
                 started=now - timedelta(seconds=i), stopped=now - timedelta(seconds=i), success=i % 10 != 0,
                 result=None if i % 10 else "bench failure")
            for i in range(start, min(n, start + BATCH))
        )


def send_todays_reminders() -> int:
    """Bring the dataset to the state of a portal that has been running today: the daily reminders
    (here about a thousand missing postmortems of the generated history) are sent. Left to the
    portal's own workers, they went out in one burst of e-mails a minute into the run, in the
    middle of whichever scenario was measured then."""
    from django.conf import settings

    from incidents.reminders import send_reminders

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return send_reminders(now=timezone.now())


def sample_ids() -> dict:
    """The rows the detail scenarios ask for: the newest of each, and the open incident with
    the longest timeline (so its timeline fills a whole page)."""
    incident = (Incident.objects.open().annotate(n=Count("events")).order_by("-n", "-pk")
                .values_list("pk", flat=True).first())
    return {
        "incident": incident,
        "postmortem": Postmortem.objects.order_by("-pk").values_list("pk", flat=True).first(),
        "probe": Probe.objects.order_by("pk").values_list("pk", flat=True).first(),
        "result": ProbeResult.objects.order_by("-pk").values_list("pk", flat=True).first(),
        "run": Run.objects.filter(status=RunStatus.OPEN).order_by("-pk").values_list("pk", flat=True).first(),
        "backup_run": BackupRun.objects.order_by("-pk").values_list("pk", flat=True).first(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    with transaction.atomic():
        user = get_user_model().objects.create_superuser("bench", password=uuid.uuid4().hex)
        token = Token.objects.create(user=user)
        session = SessionStore()
        session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        seed_tasks(args.tasks)
    send_todays_reminders()
    print(json.dumps({"token": token.key, "session": session.session_key, **sample_ids()}))


if __name__ == "__main__":
    main()
