"""Routes: non-paging events (a probe warning, a recovered backup, an overdue checklist …) to the
team channels that subscribed to them, by service, minimum severity and hours.

Events are emitted where they happen (incidents' own transitions here; probes, backups and
checklists through incidents.services.emit_event) and become outbox rows, one per matching route,
keyed by the event, so emitting the same event twice sends nothing twice. Nothing here pages a
contact: escalation stays with incidents.escalation.
"""

from datetime import datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from incidents import outbox
from incidents.models import Incident, Purpose, Route, RouteEvent, Severity


def matching_routes(
    *, event: str, service_id: int | None, severity: str, at: datetime
) -> list[Route]:
    """The enabled routes that hear of this event now: those of every service (none chosen) or of
    this one. A team has a handful of routes: one query, the rest in Python."""
    routes = Route.objects.filter(enabled=True).prefetch_related("services")
    return [
        route
        for route in routes
        if route.hears(event=event, severity=severity, at=at)
        and (not route.services.all() or any(s.pk == service_id for s in route.services.all()))
    ]


def emit(
    *,
    event: str,
    key: str,
    service_id: int | None,
    service_name: str,
    severity: str,
    title: str,
    detail: str,
    url: str,
    now: datetime,
    incident_id: int | None = None,
) -> int:
    """Queue the event for every route that hears of it; the number of rows queued."""
    rows = []
    for route in matching_routes(event=event, service_id=service_id, severity=severity, at=now):
        with translation.override(route.language):
            message = render(
                event=event,
                service_name=service_name,
                severity=severity,
                title=title,
                detail=detail,
                url=url,
            )
        rows.append(
            outbox.outgoing(
                purpose=Purpose.ROUTE,
                key=f"route:{event}:{key}",
                recipient=f"route:{route.pk}",
                kind=route.kind,
                target=route.target,
                message=message,
                now=now,
                incident_id=incident_id,
            )
        )
    queued = outbox.queue(rows)
    if queued:
        outbox.deliver_soon()
    return queued


def render(
    *, event: str, service_name: str, severity: str, title: str, detail: str, url: str
) -> dict:
    """The event in the active language."""
    label = RouteEvent(event).label
    severity_label = Severity(severity).label if severity in Severity.values else severity
    subject = f"[{label}] {service_name}: {title}" if service_name else f"[{label}] {title}"
    lines = [subject, _("Severity: %(severity)s") % {"severity": severity_label}]
    if service_name:
        lines.append(_("Service: %(name)s") % {"name": service_name})
    if detail:
        lines.append(detail)
    lines.append(url)
    return outbox.rendered(
        subject=subject,
        text="\n".join(lines),
        url=url,
        language=translation.get_language(),
        severity=str(severity_label),
        link_label=_("Open in the portal"),
        event=event,
        service=service_name,
        title=title,
    )


def emit_incident(
    incident: Incident, event: str, *, now: datetime, stamp: datetime | None = None
) -> int:
    """An incident's own event (opened, acknowledged, resolved); `stamp` tells a re-opened
    incident's second resolution from its first."""
    key = f"incident:{incident.pk}:{int((stamp or now).timestamp())}"
    return emit(
        event=event,
        key=key,
        service_id=incident.service_id,
        service_name=incident.service.name,
        severity=incident.severity,
        title=f"#{incident.pk} {incident.title}",
        detail="",
        url=settings.BASE_URL + incident.get_absolute_url(),
        now=now,
        incident_id=incident.pk,
    )
