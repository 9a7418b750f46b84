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
from checklists.models import Run, RunStatus, Template
from incidents.models import Incident, Postmortem, Service
from probes.models import Probe, ProbeResult

BATCH = 5000


def seed_tasks(n: int) -> None:
    now = timezone.now()
    for start in range(0, n, BATCH):
        Task.objects.bulk_create(
            Task(
                id=uuid.uuid4().hex,
                name=f"bench-{i}",
                func="portal.tasks.heartbeat",
                group="bench",
                started=now - timedelta(seconds=i),
                stopped=now - timedelta(seconds=i),
                success=i % 10 != 0,
                result=None if i % 10 else "bench failure",
            )
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


def seed_status_page() -> str:
    """A public status page over every service, with every incident of its 90-day window public
    and two public updates each: the worst case of what the page reads (issue 17)."""
    from status.models import Component, PublicIncident, PublicUpdate, StatusPage
    from status.services import UPTIME_DAYS

    page = StatusPage.objects.create(slug="bench", title_ko="벤치 상태", title_en="Bench status")
    services = list(Service.objects.order_by("pk"))
    Component.objects.bulk_create(
        Component(page=page, service=s, name_ko=f"구성 {n}", name_en=f"Component {n}", position=n)
        for n, s in enumerate(services)
    )
    since = timezone.now() - timedelta(days=UPTIME_DAYS)
    incidents = Incident.objects.filter(created_at__gte=since).values_list("pk", "created_at")
    publics = PublicIncident.objects.bulk_create(
        PublicIncident(
            incident_id=pk,
            title_en=f"Public incident {pk}",
            title_ko=f"공개 장애 {pk}",
            created_at=at,
        )
        for pk, at in incidents
    )
    for start in range(0, len(publics), BATCH):
        PublicUpdate.objects.bulk_create(
            PublicUpdate(
                public_incident=p,
                status=status,
                text_en="We are looking into it.",
                text_ko="확인하고 있습니다.",
                posted_at=p.created_at + timedelta(minutes=minutes),
            )
            for p in publics[start : start + BATCH]
            for status, minutes in (("investigating", 5), ("monitoring", 40))
        )
    return page.slug


def sample_ids() -> dict:
    """The rows the detail scenarios ask for: the newest of each, and the open incident with
    the longest timeline (so its timeline fills a whole page)."""
    incident = (
        Incident.objects.open()
        .annotate(n=Count("events"))
        .order_by("-n", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return {
        "incident": incident,
        "postmortem": Postmortem.objects.order_by("-pk").values_list("pk", flat=True).first(),
        # The postmortem page is the incident's: /incidents/<incident>/postmortem/.
        "postmortem_incident": Postmortem.objects.order_by("-pk")
        .values_list("incident_id", flat=True)
        .first(),
        "probe": Probe.objects.order_by("pk").values_list("pk", flat=True).first(),
        "result": ProbeResult.objects.order_by("-pk").values_list("pk", flat=True).first(),
        "run": Run.objects.filter(status=RunStatus.OPEN)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first(),
        "backup_run": BackupRun.objects.order_by("-pk").values_list("pk", flat=True).first(),
        "target": BackupRun.objects.order_by("-pk").values_list("target_id", flat=True).first(),
        "template": Template.objects.order_by("pk").values_list("pk", flat=True).first(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    with transaction.atomic():
        user = get_user_model().objects.create_superuser("bench", password=uuid.uuid4().hex)
        token = Token.objects.create(user=user)
        session = SessionStore()
        session[SESSION_KEY], session[BACKEND_SESSION_KEY] = (
            str(user.pk),
            "django.contrib.auth.backends.ModelBackend",
        )
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        seed_tasks(args.tasks)
        status_page = seed_status_page()
    send_todays_reminders()
    print(
        json.dumps(
            {
                "token": token.key,
                "session": session.session_key,
                "status_page": status_page,
                **sample_ids(),
            }
        )
    )


if __name__ == "__main__":
    main()
