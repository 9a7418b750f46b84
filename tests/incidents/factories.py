"""Plain `make_*` helpers for incidents tests. Keep the signatures stable: other test modules import
them.

Every helper saves the row and returns it; keyword arguments not named here go
straight to the model.
"""

from datetime import timedelta
from itertools import count

from incidents import rollups
from incidents.models import (
    Contact,
    EscalationPolicy,
    EscalationStep,
    Incident,
    NotificationChannel,
    Service,
    Tier,
)

_seq = count(1)


def make_service(name: str | None = None, **fields) -> Service:
    return Service.objects.create(name=name or f"service-{next(_seq)}", **fields)


def make_tier(level: int | None = None, name: str | None = None, **fields) -> Tier:
    if level is None:
        level = (Tier.objects.order_by("-level").values_list("level", flat=True).first() or 0) + 1
    return Tier.objects.create(level=level, name=name or f"Tier {level}", **fields)


def make_contact(
    name: str | None = None,
    *,
    tier: Tier | None = None,
    email: str | None = None,
    channel: bool = True,
    **fields,
) -> Contact:
    """A contact with an enabled e-mail channel (pass `channel=False` for none)."""
    n = next(_seq)
    name = name or f"contact-{n}"
    email = email if email is not None else f"contact-{n}@example.com"
    contact = Contact.objects.create(name=name, tier=tier, email=email, **fields)
    if channel:
        make_channel(contact, kind="email", target=email)
    return contact


def make_channel(
    contact: Contact, kind: str = "email", target: str | None = None, **fields
) -> NotificationChannel:
    target = target or (contact.email if kind == "email" else "http://127.0.0.1:9/hook")
    return NotificationChannel.objects.create(contact=contact, kind=kind, target=target, **fields)


def make_policy(
    severity: str = "sev1",
    steps: list[dict] | None = None,
    *,
    service: Service | None = None,
    name: str | None = None,
    **fields,
) -> EscalationPolicy:
    """`steps` is a list of dicts: {"after": timedelta, "tier": Tier, "contacts": [Contact],
    "condition": "not_resolved", "business_hours_only": False}; `after` defaults to 0,
    `condition` to not_resolved. Positions follow the list order."""
    policy = EscalationPolicy.objects.create(
        name=name or f"{service or 'default'} {severity}",
        service=service,
        severity=severity,
        **fields,
    )
    for position, spec in enumerate(steps or []):
        spec = dict(spec)
        contacts = spec.pop("contacts", [])
        spec.setdefault("after", timedelta(0))
        step = EscalationStep.objects.create(policy=policy, position=position, **spec)
        if contacts:
            step.contacts.set(contacts)
    return policy


def make_incident(
    service: Service | None = None, *, severity: str = "sev2", title: str | None = None, **fields
) -> Incident:
    """A bare incident row, written directly: no timeline, no escalation. For workflows
    use `incidents.services.open_incident`. Its day's rollup is brought up to date, as the services
    do."""
    incident = Incident.objects.create(
        service=service or make_service(),
        severity=severity,
        title=title or f"incident {next(_seq)}",
        **fields,
    )
    rollups.refresh_incident(incident.pk)
    return incident
