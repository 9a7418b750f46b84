"""Alert intake: fold one delivery's alerts into Alert rows and incidents, through
incidents.services.

Semantics (Alertmanager and Grafana OnCall practice):
- one incident per alert fingerprint, dedup key `alert:<integration>:<fingerprint>`; with
  `group_by_key`, one per groupKey (`alert:<integration>:group:<hash>`), each alert on its timeline;
- a repeated `firing` counts (fire_count, last_seen_at) and adds at most one timeline event per
  the integration's repeat interval;
- `resolved` resolves the incident the alert opened (the timeline says which integration), unless
  a person re-opened it or took it over (named a commander): then it is noted and left open;
  a grouped incident resolves when its last firing alert does;
- a resolved alert without an open incident of its own is recorded and ignored;
- an alert that fires again after its incident was resolved opens a NEW incident (the old one
  keeps its history and postmortem; the new one's timeline names it);
- a service in a maintenance window, or a rule with `"page": false`: recorded, no incident
  (the sender repeats a still-firing alert, so the first repeat after the window opens it).

Concurrency: each delivery inserts its Alert rows (ignoring conflicts) and locks them in
fingerprint order before deciding anything, so the same alert arriving in parallel requests is
decided once; the incident's own unique dedup constraint backs this up.
"""

import contextlib
import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from alerts.models import Alert, AlertStatus, Delivery, Integration, Outcome
from alerts.payloads import Incoming
from alerts.routing import route, services_for
from core.errors import DomainError
from incidents import services as incidents
from incidents.models import EventKind, Incident, Service, Source, services_in_maintenance

logger = logging.getLogger(__name__)

DELIVERY_BODY_LIMIT = 64 * 1024
DELIVERY_KEEP = 1000  # per integration
DELIVERY_RETENTION_DAYS = 14
# What a delivery changes on an Alert row.
ALERT_STATE = [
    "status",
    "outcome",
    "title",
    "group_key",
    "labels",
    "annotations",
    "links",
    "starts_at",
    "ends_at",
    "last_seen_at",
    "fire_count",
    "noted_at",
    "incident",
]


def dedup_key(integration: Integration, alert: Incoming) -> str:
    if integration.group_by_key and alert.group_key:
        digest = hashlib.sha256(alert.group_key.encode()).hexdigest()[:32]
        return f"alert:{integration.pk}:group:{digest}"
    key = f"alert:{integration.pk}:{alert.fingerprint}"
    if len(key) > 200:  # the column's length; cutting it would merge two long fingerprints
        digest = hashlib.sha256(alert.fingerprint.encode()).hexdigest()
        key = f"alert:{integration.pk}:sha256:{digest}"
    return key


def ingest(
    *, integration: Integration, alerts: list[Incoming], now: datetime | None = None
) -> dict:
    """Apply one delivery's alerts; returns counts per outcome and the incidents touched."""
    now = now or timezone.now()
    summary = {"alerts": len(alerts), "outcomes": {}, "incidents": []}
    if not alerts:
        return summary
    alerts = sorted(alerts, key=lambda a: a.fingerprint)
    named = {a.service_name for a in alerts if a.service_name}
    by_name = {s.name: s for s in Service.objects.filter(name__in=named)} if named else {}
    rule_services = services_for(integration)
    with transaction.atomic():
        Alert.objects.bulk_create(
            [
                Alert(
                    integration=integration,
                    fingerprint=a.fingerprint,
                    status=a.status,
                    first_seen_at=now,
                    last_seen_at=now,
                )
                for a in alerts
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        rows = {
            row.fingerprint: row
            for row in Alert.objects.select_for_update(of=("self",))
            .select_related("incident")
            .filter(integration=integration, fingerprint__in=[a.fingerprint for a in alerts])
            .order_by("fingerprint")
        }
        routes = {
            a.fingerprint: route(
                integration,
                a.labels,
                a.annotations,
                services=rule_services,
                base_service=by_name.get(a.service_name),
                base_severity=a.severity,
            )
            for a in alerts
            if a.status == AlertStatus.FIRING
        }
        # Only alerts that may open an incident ask about maintenance (a repeat does not).
        paged_services = {
            where.service.pk
            for fingerprint, where in routes.items()
            if where.page
            and not (rows[fingerprint].incident and rows[fingerprint].incident.is_open)
        }
        silenced = services_in_maintenance(paged_services, now) if paged_services else set()
        touched = set()
        for incoming in alerts:
            row = rows[incoming.fingerprint]
            _refresh(row, incoming, now)
            if incoming.status == AlertStatus.FIRING:
                _fire(integration, row, incoming, routes[incoming.fingerprint], now, silenced)
            else:
                _resolve(integration, row, incoming, now, batch=rows)
            summary["outcomes"][row.outcome] = summary["outcomes"].get(row.outcome, 0) + 1
            if row.incident_id:
                touched.add(row.incident_id)
        # One plain UPDATE per row: cheaper than bulk_update's CASE per field and row.
        for row in rows.values():
            row.save(update_fields=ALERT_STATE)
    summary["incidents"] = sorted(touched)
    return summary


def _refresh(row: Alert, incoming: Incoming, now: datetime) -> None:
    if incoming.status == AlertStatus.FIRING and row.status != AlertStatus.FIRING:
        row.fire_count = 0  # it starts firing again: a new count
    row.status = incoming.status
    row.title, row.group_key = incoming.title, incoming.group_key
    row.labels, row.annotations, row.links = incoming.labels, incoming.annotations, incoming.links
    row.starts_at, row.ends_at = incoming.starts_at, incoming.ends_at
    row.last_seen_at = now


def _event_data(integration: Integration, incoming: Incoming) -> dict:
    data = {
        "integration": integration.pk,
        "fingerprint": incoming.fingerprint,
        "status": incoming.status,
        "labels": incoming.labels,
        "annotations": incoming.annotations,
        "links": incoming.links,
    }
    if incoming.values:
        data["values"] = incoming.values
    return data


def _fire(
    integration: Integration,
    row: Alert,
    incoming: Incoming,
    where,
    now: datetime,
    silenced: set[int],
) -> None:
    row.fire_count += 1
    incident = row.incident
    if incident is not None and incident.is_open:
        if row.noted_at is None or now - row.noted_at >= integration.repeat_every:
            incidents.add_event(
                incident=incident,
                kind=EventKind.ALERT,
                now=now,
                data={
                    **_event_data(integration, incoming),
                    "variant": "still_firing",
                    "title": incoming.title,
                    "count": row.fire_count,
                },
            )
            row.noted_at = now
        row.outcome = Outcome.REPEAT
        return
    if not where.page:
        row.incident, row.outcome = None, Outcome.NOT_PAGED
        return
    if where.service.pk in silenced:
        row.incident, row.outcome = None, Outcome.SILENCED
        return
    previous = incident
    key = dedup_key(integration, incoming)
    grouped = key.startswith(f"alert:{integration.pk}:group:")
    joined = Incident.objects.open().filter(dedup_key=key).first() if grouped else None
    if joined is None:
        incident, created = incidents.open_incident(
            service=where.service,
            severity=where.severity,
            category=where.category,
            source=Source.ALERT,
            dedup_key=key,
            title=incoming.title,
            description=incoming.description[:10_000],
            impact_started_at=incoming.starts_at
            if incoming.starts_at and incoming.starts_at <= now
            else None,
            detected_at=now,
            now=now,
        )
    else:
        incident, created = joined, False
    incidents.add_event(
        incident=incident,
        kind=EventKind.ALERT,
        now=now,
        data={
            **_event_data(integration, incoming),
            "variant": "firing",
            "integration_name": integration.name,
            "title": incoming.title,
            "previous_incident": previous.pk if previous is not None else None,
            "fired_again": previous is not None and created,
        },
    )
    row.incident, row.noted_at = incident, now
    row.outcome = Outcome.OPENED if created else Outcome.GROUPED


def _resolve(
    integration: Integration,
    row: Alert,
    incoming: Incoming,
    now: datetime,
    *,
    batch: dict[str, Alert],
) -> None:
    incident = row.incident
    if incident is None or not incident.is_open:
        row.outcome = Outcome.IGNORED
        return
    data = _event_data(integration, incoming)
    still = 0
    if integration.group_by_key:
        # This delivery's rows are saved at its end: count them as they are in memory.
        still = Alert.objects.filter(incident=incident, status=AlertStatus.FIRING).exclude(
            pk__in=[other.pk for other in batch.values()]
        ).count() + sum(
            1
            for other in batch.values()
            if other is not row
            and other.incident_id == incident.pk
            and other.status == AlertStatus.FIRING
        )
    if still:
        incidents.add_event(
            incident=incident,
            kind=EventKind.ALERT,
            now=now,
            data={**data, "variant": "resolved_in_group", "title": incoming.title, "count": still},
        )
        row.outcome = Outcome.RESOLVED
        return
    if incident.escalation_round > 0 or incident.commander_id:
        # A person re-opened it or took command: the sender's word no longer closes it.
        incidents.add_event(
            incident=incident,
            kind=EventKind.ALERT,
            now=now,
            data={**data, "variant": "kept_open", "integration_name": integration.name},
        )
        row.outcome = Outcome.KEPT_OPEN
        return
    incidents.add_event(
        incident=incident,
        kind=EventKind.ALERT,
        now=now,
        data={**data, "variant": "resolved", "title": incoming.title},
    )
    # DomainError: somebody resolved it a moment ago; nothing left to do.
    with contextlib.suppress(DomainError):
        incidents.resolve(
            incident=incident,
            by=None,
            data={"variant": "integration", "integration_name": integration.name},
        )
    row.outcome = Outcome.RESOLVED


def record_delivery(
    *,
    integration: Integration,
    status_code: int,
    body: bytes,
    alert_count: int = 0,
    errors=None,
    now: datetime | None = None,
) -> Delivery:
    return Delivery.objects.create(
        integration=integration,
        received_at=now or timezone.now(),
        status_code=status_code,
        alert_count=alert_count,
        errors=_storable(errors or {}),
        body_size=len(body),
        body=body[:DELIVERY_BODY_LIMIT].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )


def _storable(errors):
    # Error messages may quote what was sent (a label's name); PostgreSQL's JSON cannot hold NUL.
    return json.loads(json.dumps(errors).replace("\\u0000", "\\ufffd"))


def rotate_token(*, integration: Integration) -> Integration:
    """A new URL: the old one answers 404 from now on."""
    integration.token = uuid.uuid4()
    Integration.objects.filter(pk=integration.pk).update(token=integration.token)
    return integration


def prune_deliveries(
    *, now: datetime | None = None, days: int = DELIVERY_RETENTION_DAYS, keep: int = DELIVERY_KEEP
) -> int:
    """Delete deliveries older than `days`, and all but the newest `keep` of each integration."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = Delivery.objects.filter(received_at__lt=cutoff).delete()[0]
    for integration_id in Integration.objects.values_list("id", flat=True):
        while True:
            extra = list(
                Delivery.objects.filter(integration_id=integration_id)
                .order_by("-received_at", "-id")
                .values_list("id", flat=True)[keep : keep + 5000]
            )
            if not extra:
                break
            deleted += Delivery.objects.filter(id__in=extra).delete()[0]
    return deleted
