"""Demo data for checklists: the runbooks' daily, weekly and monthly checks, an incident
recovery list, a playbook and one run in progress. Idempotent (looked up by source key)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from checklists import schedules, services
from checklists.models import ItemState, Kind, Playbook, Run, RunStatus, Template
from incidents.models import Service, Tier

DEMO = "demo"
HEALTH = "curl -fsS {portal}/api/health"  # the portal's own, at PORTAL_BASE_URL (filled in by seed)

TEMPLATES = [
    (
        "daily-0900",
        "Daily 09:00 check",
        Kind.ROUTINE,
        "0 9 * * *",
        timedelta(hours=2),
        [
            (
                "Morning",
                [
                    ("Health endpoint answers ok", HEALTH, "status: healthy"),
                    ("Dashboards show no new errors overnight", "", ""),
                    ("Last night's backup is verified", "", "verified, under 24 h old"),
                    ("Disk use below 80 %", "df -h /srv", "< 80 %"),
                ],
            ),
        ],
    ),
    (
        "daily-1800",
        "Daily 18:00 check",
        Kind.ROUTINE,
        "0 18 * * *",
        timedelta(hours=2),
        [
            (
                "Evening",
                [
                    ("Review today's error log", "grep -c ERROR /srv/app/logs/api.log", ""),
                    ("Prediction accuracy trend looks normal", "", ""),
                    ("Automatic backup succeeded", "", ""),
                ],
            ),
        ],
    ),
    (
        "weekly-monday",
        "Weekly Monday review",
        Kind.ROUTINE,
        "0 10 * * 1",
        timedelta(days=1),
        [
            (
                "Review",
                [
                    ("Weekly performance report generated", "", ""),
                    ("Security patches checked", "", ""),
                    ("Log archive rotated", "", ""),
                ],
            ),
        ],
    ),
    (
        "monthly-restore",
        "Monthly restore test",
        Kind.ROUTINE,
        "0 9 1 * *",
        timedelta(days=3),
        [
            (
                "Restore",
                [
                    ("Restore the latest backup into a scratch database", "", ""),
                    (
                        "Integrity check passes on the restored copy",
                        "sqlite3 /tmp/restore.db 'PRAGMA integrity_check'",
                        "ok",
                    ),
                    ("Contact list is up to date", "", ""),
                ],
            ),
        ],
    ),
    (
        "incident-recovery",
        "Incident recovery",
        Kind.RECOVERY,
        "",
        timedelta(hours=4),
        [
            (
                "Immediately",
                [
                    ("Write down the time", "", ""),
                    ("Tell users (chat, e-mail)", "", ""),
                    (
                        "Save a log snapshot",
                        "cp /srv/app/logs/api.log /tmp/incident_$(date +%Y%m%d_%H%M).log",
                        "",
                    ),
                ],
            ),
            (
                "During recovery",
                [
                    ("Cause identified", "", ""),
                    ("Backup checked before restoring", "", ""),
                    ("Health check passes", HEALTH, ""),
                ],
            ),
            (
                "After recovery",
                [
                    ("Users told the service is back", "", ""),
                    ("Postmortem written", "", ""),
                ],
            ),
        ],
    ),
]

PLAYBOOK_BODY = """## Symptoms
- `/api/health` does not answer
- The front end shows "cannot reach server"

## Diagnosis
```bash
ps aux | grep uvicorn
tail -100 /srv/app/logs/api.log
```

## Recovery
```bash
systemctl restart route-api
curl -fsS {portal}/api/health
```

## Rollback
Deploy the previous release tag and restart.
"""


def demo_occurrence(template: Template, now):
    """The daily check's run of today (09:00, due 11:00) while it is still on time, else the next
    day's: the demo's run is due at the check's own time, never at first start plus two hours,
    and never starts out overdue (which would e-mail a reminder)."""
    occurrence = schedules.latest_at_or_before(template.schedule, now)
    if occurrence + template.due_window <= now:
        occurrence = schedules.next_after(template.schedule, now)
    return occurrence


def seed() -> str:
    tier = Tier.objects.order_by("level").first()
    service = Service.objects.order_by("name").first()
    created = 0
    by_key = {}
    for key, name, kind, cron, due, sections in TEMPLATES:
        template = Template.objects.filter(source_key=f"{DEMO}:{key}").first()
        if template is None:
            template = Template.objects.create(
                source_key=f"{DEMO}:{key}",
                name=name,
                kind=kind,
                schedule=cron,
                due_window=due,
                service=service,
                assignee_tier=tier if kind == Kind.ROUTINE else None,
            )
            portal = settings.BASE_URL
            services.replace_sections(
                template,
                [
                    {
                        "title": title,
                        "items": [
                            {"text": t, "command": c.replace("{portal}", portal), "expected": e}
                            for t, c, e in items
                        ],
                    }
                    for title, items in sections
                ],
            )
            created += 1
        by_key[key] = template
    if service is not None:
        Playbook.objects.get_or_create(
            source_key=f"{DEMO}:api-down",
            defaults={
                "title": "API server down",
                "service": service,
                "category": "API down",
                "body": PLAYBOOK_BODY.replace("{portal}", settings.BASE_URL),
                "template": by_key["incident-recovery"],
            },
        )
    daily = by_key["daily-0900"]
    runs = 0
    if not Run.objects.filter(
        template=daily, status__in=(RunStatus.OPEN, RunStatus.IN_PROGRESS)
    ).exists():
        run = services.start_scheduled_run(
            template=daily, occurrence=demo_occurrence(daily, timezone.now())
        )
        first = run.items.order_by("position").first()
        if first is not None:
            services.tick(
                run_item=first,
                state=ItemState.DONE,
                by=None,
                note="",
                value="healthy",
                now=timezone.now(),
            )
        runs = 1
    return f"{created} templates, {runs} run in progress"
