"""A demo on-call schedule: Tier 1 rotates weekly (Monday 09:00), and the SEV1 policy's second
step pages whoever is on call. Idempotent (looked up by name); runs after incidents.demo."""

from datetime import timedelta

from django.utils import timezone

from incidents.models import Contact, EscalationStep, Severity
from oncall.models import Layer, Rotation, Schedule, Weekday
from oncall.services import save_layer

NAME = "Tier 1 first responder"


def seed() -> str:
    if Schedule.objects.filter(name=NAME).exists():
        return "0 schedules"
    members = list(
        Contact.objects.filter(tier__level=1, active=True)
        .order_by("name")
        .values_list("pk", flat=True)
    )
    if not members:
        return "0 schedules (no Tier 1 contacts)"
    schedule = Schedule.objects.create(
        name=NAME, description="Weekly rotation of Tier 1; hand-off Monday 09:00."
    )
    today = timezone.localdate()
    save_layer(
        layer=Layer(
            schedule=schedule,
            name="Weekly",
            rotation=Rotation.WEEKLY,
            handoff_weekday=Weekday.MONDAY,
            handoff_hour=9,
            starts_on=today - timedelta(days=today.weekday()),
        ),
        member_ids=members,
    )
    step = EscalationStep.objects.filter(
        policy__service=None, policy__severity=Severity.SEV1, position=1
    ).first()
    if step is not None:
        schedule.escalation_steps.add(step)
    return f"1 schedule of {len(members)} people"
