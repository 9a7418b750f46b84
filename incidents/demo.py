"""Demo data for the incidents app: fictional services, people, policies and history.

Idempotent: every row is looked up by a natural key first, so a second run
creates nothing. Past incidents are written directly with their past times and
bypass the escalation engine, so seeding never pages anybody.
"""

from datetime import time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents import rollups
from incidents.models import (
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    Availability,
    ChannelKind,
    Contact,
    EscalationPolicy,
    EscalationStep,
    EventKind,
    Incident,
    NotificationChannel,
    Postmortem,
    PostmortemStatus,
    Scope,
    Service,
    Severity,
    Source,
    Status,
    StepCondition,
    Tier,
    TimelineEvent,
)

SERVICES = [
    (
        "Route prediction API",
        "Machine-learning model that predicts routings; FastAPI behind a reverse proxy.",
        timedelta(hours=1),
        timedelta(hours=24),
    ),
    (
        "Data hub",
        "Collects sensor and order data and serves it to the models and reports.",
        timedelta(hours=4),
        timedelta(hours=1),
    ),
    (
        "Internal API",
        "Back-office API used by the operations team's tools.",
        timedelta(hours=8),
        timedelta(hours=24),
    ),
]

TIERS = [
    (1, "Operations", "First response, around the clock."),
    (
        2,
        "Developers",
        "Technical fixes during business hours; paged for SEV1 when Tier 1 needs help.",
    ),
    (3, "Management", "Decisions and outside help in emergencies."),
]

# name, role, tier level, availability, phone, e-mail, chat handle
CONTACTS = [
    (
        "Mina Seo",
        "Operations lead",
        1,
        Availability.ALWAYS,
        "010-0000-0101",
        "ops-lead@example.com",
        "@mina",
    ),
    (
        "Jun Park",
        "DevOps engineer",
        1,
        Availability.BUSINESS_HOURS,
        "010-0000-0102",
        "devops@example.com",
        "@jun",
    ),
    (
        "Hana Lim",
        "ML engineer",
        2,
        Availability.BUSINESS_HOURS,
        "010-0000-0201",
        "ml@example.com",
        "@hana",
    ),
    (
        "Tae Kang",
        "Backend developer",
        2,
        Availability.BUSINESS_HOURS,
        "010-0000-0202",
        "backend@example.com",
        "@tae",
    ),
    (
        "Yuna Cho",
        "CTO",
        3,
        Availability.EMERGENCY_ONLY,
        "010-0000-0301",
        "cto@example.com",
        "@yuna",
    ),
    (
        "Dae Oh",
        "Product manager",
        3,
        Availability.EMERGENCY_ONLY,
        "010-0000-0302",
        "pm@example.com",
        "@dae",
    ),
]

# DESIGN §3: severity → steps (after, tier level, condition, business hours only)
POLICIES = {
    Severity.SEV1: [
        (timedelta(0), 1, StepCondition.NOT_RESOLVED, False),
        (timedelta(minutes=30), 2, StepCondition.NOT_RESOLVED, False),
        (timedelta(hours=2), 3, StepCondition.NOT_RESOLVED, False),
    ],
    Severity.SEV2: [
        (timedelta(0), 1, StepCondition.NOT_RESOLVED, False),
        (timedelta(hours=4), 2, StepCondition.NOT_RESOLVED, False),
    ],
    Severity.SEV3: [(timedelta(0), 1, StepCondition.NOT_RESOLVED, True)],
    Severity.SEV4: [],
}

# service, title, severity, category, scope, started (ago), ack after, resolve after, closed
PAST_INCIDENTS = [
    (
        "Route prediction API",
        "Prediction API answers 502 after a model reload",
        Severity.SEV1,
        "API down",
        Scope.FULL,
        timedelta(days=20),
        timedelta(minutes=4),
        timedelta(minutes=48),
        True,
    ),
    (
        "Data hub",
        "Nightly import stuck on a locked database file",
        Severity.SEV2,
        "database unreachable",
        Scope.PARTIAL,
        timedelta(days=12),
        timedelta(minutes=25),
        timedelta(hours=3),
        True,
    ),
    (
        "Internal API",
        "Response times above 500 ms during the morning peak",
        Severity.SEV3,
        "performance degradation",
        Scope.FEATURE,
        timedelta(days=6),
        timedelta(hours=1),
        timedelta(hours=5),
        False,
    ),
    (
        "Route prediction API",
        "Model file checksum mismatch after deploy",
        Severity.SEV2,
        "model/file corrupted",
        Scope.PARTIAL,
        timedelta(days=3),
        timedelta(minutes=9),
        timedelta(minutes=70),
        False,
    ),
]
OPEN_INCIDENT = (
    "Data hub",
    "Disk usage at 86 % on the data hub volume",
    Severity.SEV3,
    "container",
    Scope.PARTIAL,
    timedelta(hours=2),
    timedelta(minutes=12),
)


def seed() -> str:
    created = {"services": 0, "contacts": 0, "policies": 0, "incidents": 0}
    now = timezone.now()

    tiers = {}
    for level, name, description in TIERS:
        tiers[level], _ = Tier.objects.get_or_create(
            level=level, defaults={"name": name, "description": description}
        )

    contacts = {}
    for name, role, level, availability, phone, email, chat in CONTACTS:
        contact, new = Contact.objects.get_or_create(
            name=name,
            defaults={
                "role": role,
                "tier": tiers[level],
                "availability": availability,
                "phone": phone,
                "email": email,
                "chat_handle": chat,
                "work_start": time(9),
                "work_end": time(18),
            },
        )
        if new:
            NotificationChannel.objects.create(
                contact=contact, kind=ChannelKind.EMAIL, target=email
            )
            created["contacts"] += 1
        contacts[name] = contact

    # The admin created at first start is the Operations lead: the demo's shift checklists belong to
    # Tier 1, and "My shift" shows a person their tier's runs. (Rather than widening My shift to
    # runs of no tier of one's own: on a real team that would be everybody's runs.)
    lead = contacts["Mina Seo"]
    admin = (
        get_user_model()
        .objects.filter(username="admin", is_superuser=True, contact__isnull=True)
        .first()
    )
    if admin is not None and lead.user_id is None:
        lead.user = admin
        lead.save(update_fields=["user"])

    services = {}
    for name, description, rto, rpo in SERVICES:
        service, new = Service.objects.get_or_create(
            name=name,
            defaults={
                "description": description,
                "rto": rto,
                "rpo": rpo,
                "owner": contacts["Mina Seo"],
            },
        )
        created["services"] += new
        services[name] = service

    for severity, steps in POLICIES.items():
        policy, new = EscalationPolicy.objects.get_or_create(
            service=None,
            severity=severity,
            defaults={
                "name": f"Default {Severity(severity).label}",
            },
        )
        if new:
            for position, (after, level, condition, business_hours_only) in enumerate(steps):
                EscalationStep.objects.create(
                    policy=policy,
                    position=position,
                    after=after,
                    tier=tiers[level],
                    condition=condition,
                    business_hours_only=business_hours_only,
                )
            created["policies"] += 1

    operator = contacts["Mina Seo"]
    for service, title, severity, category, scope, ago, ack, fix, closed in PAST_INCIDENTS:
        if Incident.objects.filter(service=services[service], title=title).exists():
            continue
        start = now - ago
        incident = Incident.objects.create(
            service=services[service],
            title=title,
            severity=severity,
            category=category,
            scope=scope,
            source=Source.MANUAL,
            status=Status.CLOSED if closed else Status.RESOLVED,
            impact_started_at=start - timedelta(minutes=3),
            detected_at=start,
            created_at=start,
            acknowledged_at=start + ack,
            mitigated_at=start + fix - timedelta(minutes=5),
            resolved_at=start + fix,
            closed_at=start + fix + timedelta(days=1) if closed else None,
        )
        events = [
            (start, EventKind.CREATED, "", {"title": title}),
            (
                start + ack,
                EventKind.STATUS,
                "",
                {"from": Status.TRIGGERED, "to": Status.ACKNOWLEDGED},
            ),
            (
                start + ack + timedelta(minutes=1),
                EventKind.NOTE,
                "Looking at the logs and the last deploy.",
                {},
            ),
            (
                start + fix - timedelta(minutes=5),
                EventKind.STATUS,
                "",
                {"from": Status.ACKNOWLEDGED, "to": Status.MITIGATED},
            ),
            (start + fix, EventKind.STATUS, "", {"from": Status.MITIGATED, "to": Status.RESOLVED}),
        ]
        if closed:
            events.append(
                (
                    start + fix + timedelta(days=1),
                    EventKind.STATUS,
                    "",
                    {"from": Status.RESOLVED, "to": Status.CLOSED},
                )
            )
        TimelineEvent.objects.bulk_create(
            TimelineEvent(
                incident=incident,
                at=at,
                kind=kind,
                actor_contact=operator,
                data=data,
                message=message,
            )
            for at, kind, message, data in events
        )
        rollups.refresh_incident(incident.pk)
        created["incidents"] += 1

    service, title, severity, category, scope, ago, ack = OPEN_INCIDENT
    if not Incident.objects.filter(service=services[service], title=title).exists():
        start = now - ago
        incident = Incident.objects.create(
            service=services[service],
            title=title,
            severity=severity,
            category=category,
            scope=scope,
            source=Source.MANUAL,
            status=Status.ACKNOWLEDGED,
            detected_at=start,
            created_at=start,
            acknowledged_at=start + ack,
        )
        TimelineEvent.objects.bulk_create(
            [
                TimelineEvent(
                    incident=incident,
                    at=start,
                    kind=EventKind.CREATED,
                    actor_contact=operator,
                    data={"title": title},
                ),
                TimelineEvent(
                    incident=incident,
                    at=start + ack,
                    kind=EventKind.STATUS,
                    actor_contact=operator,
                    data={"from": Status.TRIGGERED, "to": Status.ACKNOWLEDGED},
                ),
            ]
        )
        rollups.refresh_incident(incident.pk)
        created["incidents"] += 1

    created["postmortems"] = seed_postmortem(contacts, now)
    return (
        "{services} services, {contacts} contacts, {policies} policies, {incidents} incidents, "
        "{postmortems} postmortems created".format(**created)
    )


def seed_postmortem(contacts, now) -> int:
    """A published postmortem with action items for the SEV1 demo incident (one done, one open)."""
    service, title = PAST_INCIDENTS[0][0], PAST_INCIDENTS[0][1]
    incident = Incident.objects.filter(service__name=service, title=title).first()
    if incident is None or Postmortem.objects.filter(incident=incident).exists():
        return 0
    postmortem = Postmortem.objects.create(
        incident=incident,
        title=title,
        severity=incident.severity,
        scope=incident.scope,
        status=PostmortemStatus.PUBLISHED,
        occurred_at=incident.impact_started_at,
        detected_at=incident.detected_at,
        recovered_at=incident.resolved_at,
        created_at=incident.resolved_at + timedelta(days=1),
        submitted_at=incident.resolved_at + timedelta(days=1),
        published_at=incident.resolved_at + timedelta(days=2),
        summary=(
            "The prediction API answered 502 to every request for 48 minutes after a model reload."
        ),
        impact="All route predictions failed; clients fell back to the previous day's routes.",
        trigger="A model file was replaced while the API was reloading it.",
        root_cause=(
            "The reload read a half-written file; the deploy script copied in place instead of "
            "renaming."
        ),
        detection="The health probe turned critical three minutes after the reload.",
        response=(
            "Rolled back to the previous model file\nRestarted the API workers\n"
            "Checked /api/health and a sample prediction"
        ),
        went_well="The probe paged Tier 1 at once.",
        went_wrong="Nobody knew which model version was live.",
        got_lucky="It happened outside the morning peak.",
        lessons="Deploy model files atomically and record the live version.",
    )
    postmortem.timeline_events.set(incident.events.exclude(kind=EventKind.NOTIFICATION_SENT))
    owner = contacts["Hana Lim"]
    ActionItem.objects.bulk_create(
        [
            ActionItem(
                postmortem=postmortem,
                description="Copy model files to a temporary name and rename",
                kind=ActionItemKind.PREVENT,
                owner=owner,
                priority=ActionItemPriority.HIGH,
                due_date=(now - timedelta(days=10)).date(),
                status=ActionItemStatus.DONE,
                done_at=now - timedelta(days=11),
            ),
            ActionItem(
                postmortem=postmortem,
                description="Expose the live model version in /api/health",
                kind=ActionItemKind.DETECT,
                owner=owner,
                priority=ActionItemPriority.MEDIUM,
                due_date=(now + timedelta(days=14)).date(),
            ),
        ]
    )
    return 1
