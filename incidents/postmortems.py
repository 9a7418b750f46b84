"""Postmortems and their action items: filing, review, publishing, follow-up.

Every workflow is keyword-only, runs in one transaction and records its step
on the incident's timeline (EventKind.POSTMORTEM), so the incident page tells
the whole story. Rules raise `core.errors.DomainError`.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from core.display import format_duration
from core.errors import DomainError
from core.history import record_change
from incidents import reportcache
from incidents.models import (
    PUBLISHED_STATUSES,
    REQUIRES_POSTMORTEM,
    ActionItem,
    ActionItemStatus,
    EventKind,
    Incident,
    Postmortem,
    PostmortemStatus,
    RouteEvent,
    TimelineEvent,
    add_business_days,
    portal_zone,
    postmortem_due_days,
    postmortem_overdue_q,
)
from incidents.services import add_event, emit_event

# The events worth drawing into a postmortem's timeline by default: what
# happened and what people did, not every notification.
TIMELINE_KINDS = (
    EventKind.CREATED,
    EventKind.STATUS,
    EventKind.ESCALATION,
    EventKind.NOTE,
    EventKind.PROBE,
    EventKind.CHECKLIST,
    EventKind.CHANGE,
)
PANEL_ROWS = 10


def draft_for(incident: Incident, *, by=None) -> Postmortem:
    """An unsaved postmortem pre-filled from the incident: times, severity, scope."""
    return Postmortem(
        incident=incident,
        title=incident.title,
        severity=incident.severity,
        scope=incident.scope,
        summary=incident.description,
        occurred_at=incident.impact_started_at or incident.created_at,
        detected_at=incident.detected_at or incident.created_at,
        recovered_at=incident.resolved_at or incident.mitigated_at,
        author=by if getattr(by, "is_authenticated", False) else None,
    )


def default_timeline(incident: Incident):
    return incident.events.filter(kind__in=TIMELINE_KINDS)


def save_postmortem(
    *,
    postmortem: Postmortem,
    by,
    items: list[ActionItem] | None = None,
    deleted: list[ActionItem] | None = None,
    timeline: list[TimelineEvent] | None = None,
    reviewers: list | None = None,
    now: datetime | None = None,
) -> Postmortem:
    """Create or update a draft / in-review postmortem and its action items."""
    now = now or timezone.now()
    if (
        postmortem.pk
        and not Postmortem.objects.filter(
            pk=postmortem.pk, status__in=[PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW]
        ).exists()
    ):
        raise DomainError(
            _("A published postmortem can no longer be edited."), code="published", conflict=True
        )
    check_times(postmortem)
    with transaction.atomic():
        created = postmortem.pk is None
        if created:
            if Postmortem.objects.filter(incident_id=postmortem.incident_id).exists():
                raise DomainError(
                    _("This incident already has a postmortem."), field="incident", conflict=True
                )
            postmortem.created_at = now
            if postmortem.author_id is None and getattr(by, "is_authenticated", False):
                postmortem.author = by
        postmortem.save()
        if timeline is not None:
            postmortem.timeline_events.set(
                [e for e in timeline if e.incident_id == postmortem.incident_id]
            )
        if reviewers is not None:
            postmortem.reviewers.set(reviewers)
        for item in deleted or ():
            if item.pk and item.postmortem_id == postmortem.pk:
                _check_items(postmortem, by, delete=True)
                item.delete()
        for item in items or ():
            item.postmortem = postmortem
            item.save()
        if created:
            add_event(
                incident=postmortem.incident,
                kind=EventKind.POSTMORTEM,
                by=by,
                now=now,
                data={
                    "postmortem": postmortem.pk,
                    "to": PostmortemStatus.DRAFT,
                    "variant": "draft",
                    "title": postmortem.title,
                },
            )
    return postmortem


def delete_postmortem(*, postmortem: Postmortem, by) -> None:
    """Delete a draft or in-review postmortem (managers); a published one is history."""
    current = Postmortem.objects.filter(pk=postmortem.pk).first()
    if current is None:
        return
    if current.is_published:
        raise DomainError(
            _("A published postmortem cannot be deleted."), code="published", conflict=True
        )
    if not current.may_delete(by):
        raise DomainError(_("Only a manager can delete a postmortem."), code="forbidden")
    current.delete()


def save_action_item(*, item: ActionItem, by) -> ActionItem:
    """Add or edit one action item, if its postmortem still takes changes from this user."""
    if (
        item.pk
        and ActionItem.objects.filter(pk=item.pk).exclude(postmortem_id=item.postmortem_id).exists()
    ):
        raise DomainError(
            _("An action item cannot move to another postmortem."),
            field="postmortem",
            code="immutable",
            conflict=True,
        )
    with transaction.atomic():
        postmortem = Postmortem.objects.select_for_update().get(pk=item.postmortem_id)
        _check_items(postmortem, by)
        item.save()
    return item


def delete_action_item(*, item: ActionItem, by) -> None:
    """Delete one action item: a manager's call, before the postmortem is published."""
    with transaction.atomic():
        postmortem = Postmortem.objects.select_for_update().get(pk=item.postmortem_id)
        _check_items(postmortem, by, delete=True)
        item.delete()


def _check_items(postmortem: Postmortem, by, *, delete: bool = False) -> None:
    """The one place that says who may touch a postmortem's action items (Postmortem.may_*)."""
    allowed = postmortem.may_delete_items(by) if delete else postmortem.may_change_items(by)
    if allowed:
        return
    if postmortem.status == PostmortemStatus.CLOSED:
        raise DomainError(
            _("This postmortem is closed."), field="postmortem", code="closed", conflict=True
        )
    if postmortem.is_published:
        raise DomainError(
            _(
                "This postmortem is published: only a manager may add or edit its action items, "
                "and nobody may delete them."
            ),
            field="postmortem",
            code="published",
            conflict=True,
        )
    raise DomainError(_("Only a manager can delete action items."), code="forbidden")


def check_times(postmortem: Postmortem) -> None:
    """The order of the times, as field errors (forms and serializers check it too, by field)."""
    if (
        postmortem.occurred_at
        and postmortem.detected_at
        and postmortem.detected_at < postmortem.occurred_at
    ):
        raise DomainError(
            _("Detection cannot come before the incident occurred."), field="detected_at"
        )
    if (
        postmortem.occurred_at
        and postmortem.recovered_at
        and postmortem.recovered_at < postmortem.occurred_at
    ):
        raise DomainError(
            _("Recovery cannot come before the incident occurred."), field="recovered_at"
        )


def submit_postmortem(*, postmortem: Postmortem, by, now: datetime | None = None) -> Postmortem:
    """Draft → in review."""
    now = now or timezone.now()
    _move(
        postmortem,
        by,
        now,
        "submit",
        (PostmortemStatus.DRAFT,),
        PostmortemStatus.IN_REVIEW,
        {"submitted_at": now},
    )
    return postmortem


def publish_postmortem(*, postmortem: Postmortem, by, now: datetime | None = None) -> Postmortem:
    """Draft or in review → published (a manager's call; the views and API check the permission).
    Closed at once if it has action items and all of them are already done."""
    now = now or timezone.now()
    if not getattr(by, "has_perm", lambda _p: False)("incidents.publish_postmortem"):
        raise DomainError(_("Only a manager can publish a postmortem."), code="forbidden")
    with transaction.atomic():
        _move(
            postmortem,
            by,
            now,
            "publish",
            (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW),
            PostmortemStatus.PUBLISHED,
            {"published_at": now, "published_by": by},
        )
        close_if_done(postmortem=postmortem, by=by, now=now)
        incident = postmortem.incident
        emit_event(
            event=RouteEvent.POSTMORTEM_PUBLISHED,
            key=f"postmortem:{postmortem.pk}:{int(now.timestamp())}",
            severity=incident.severity,
            title=postmortem.title or incident.title,
            service=incident.service,
            detail=postmortem.summary[:500],
            url=settings.BASE_URL + postmortem.get_absolute_url(),
            incident=incident,
            now=now,
        )
    return postmortem


def complete_action_item(*, item: ActionItem, by, now: datetime | None = None) -> ActionItem:
    """Mark an action item done; the postmortem closes when it was the last open one."""
    now = now or timezone.now()
    with transaction.atomic():
        updated = (
            ActionItem.objects.filter(pk=item.pk)
            .exclude(status=ActionItemStatus.DONE)
            .update(status=ActionItemStatus.DONE, done_at=now)
        )
        reportcache.changed()  # a queryset update sends no signal
        if not updated:
            raise DomainError(
                _("This action item is already done."), code="invalid_transition", conflict=True
            )
        item.refresh_from_db()
        record_change(item, by=by)
        postmortem = item.postmortem
        add_event(
            incident=postmortem.incident,
            kind=EventKind.POSTMORTEM,
            by=by,
            now=now,
            data={
                "postmortem": postmortem.pk,
                "action_item": item.pk,
                "variant": "item_done",
                "item": item.description[:200],
            },
        )
        close_if_done(postmortem=postmortem, by=by, now=now)
    return item


def close_if_done(*, postmortem: Postmortem, by, now: datetime) -> bool:
    """Published → closed once every action item is done (and there is at least one)."""
    items = ActionItem.objects.filter(postmortem=postmortem)
    if not items.exists() or items.exclude(status=ActionItemStatus.DONE).exists():
        return False
    # Conditional: of two people completing the last two items at once, one closes it.
    closed = Postmortem.objects.filter(pk=postmortem.pk, status=PostmortemStatus.PUBLISHED).update(
        status=PostmortemStatus.CLOSED, closed_at=now
    )
    if closed:
        reportcache.changed()
        add_event(
            incident=postmortem.incident,
            kind=EventKind.POSTMORTEM,
            by=by,
            now=now,
            data={
                "postmortem": postmortem.pk,
                "from": PostmortemStatus.PUBLISHED,
                "to": PostmortemStatus.CLOSED,
                "variant": "moved",
            },
        )
    postmortem.refresh_from_db()
    if closed:
        record_change(postmortem, by=by)
    return bool(closed)


def _move(postmortem, by, now, action, sources, to, changes) -> None:
    with transaction.atomic():
        current = (
            Postmortem.objects.filter(pk=postmortem.pk).values_list("status", flat=True).first()
        )
        if current not in sources:
            raise DomainError(
                _("Cannot %(action)s a postmortem that is %(status)s.")
                % {"action": action, "status": current},
                code="invalid_transition",
                conflict=True,
            )
        updated = Postmortem.objects.filter(pk=postmortem.pk, status=current).update(
            status=to, **changes
        )
        reportcache.changed()
        if not updated:
            raise DomainError(
                _("The postmortem changed meanwhile."), code="conflict", conflict=True
            )
        add_event(
            incident=postmortem.incident,
            kind=EventKind.POSTMORTEM,
            by=by,
            now=now,
            data={
                "postmortem": postmortem.pk,
                "from": current,
                "to": to,
                "action": action,
                "variant": "moved",
            },
        )
    postmortem.refresh_from_db()
    record_change(postmortem, by=by)


# Follow-up: what is overdue -------------------------------------------------------


def postmortem_deadline(incident: Incident) -> datetime | None:
    if incident.severity not in REQUIRES_POSTMORTEM or incident.resolved_at is None:
        return None
    return add_business_days(incident.resolved_at, postmortem_due_days())


def missing_postmortems(*, now: datetime):
    """SEV1/SEV2 incidents resolved more than N business days ago without a published postmortem."""
    return (
        Incident.objects.filter(severity__in=REQUIRES_POSTMORTEM, resolved_at__isnull=False)
        .filter(postmortem_overdue_q(now, postmortem_due_days()))
        .exclude(postmortem__status__in=PUBLISHED_STATUSES)
    )


def overdue_action_items(*, now: datetime):
    return ActionItem.objects.overdue(local_date(now))


def local_date(now: datetime):
    return timezone.localtime(now, portal_zone()).date()


COUNT_CAP = 1000


def capped_count(queryset) -> str:
    """Exact up to the cap, then "1000+": the dashboard needs the size of the backlog,
    not a count of every row of a years-long history on each page view."""
    found = queryset[: COUNT_CAP + 1].count()
    return f"{COUNT_CAP}+" if found > COUNT_CAP else str(found)


def dashboard_panel(*, request, now) -> dict:
    """The dashboard's follow-up panel: missing postmortems and overdue action items."""
    missing = (
        missing_postmortems(now=now)
        .select_related("service")
        .only("title", "severity", "resolved_at", "service__name")
        .order_by("resolved_at")
    )
    overdue = (
        overdue_action_items(now=now)
        .select_related("owner", "postmortem__incident")
        .order_by("due_date")
    )
    return {
        "now": now,
        "today": local_date(now),
        "missing": list(missing[:PANEL_ROWS]),
        "missing_total": capped_count(missing),
        "overdue": list(overdue[:PANEL_ROWS]),
        "overdue_total": capped_count(overdue),
        "due_days": postmortem_due_days(),
    }


# Export -------------------------------------------------------------------------


def report_context(postmortem: Postmortem) -> dict:
    zone = portal_zone()

    def local(at):
        return timezone.localtime(at, zone) if at else None

    return {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "occurred": local(postmortem.occurred_at),
        "detected": local(postmortem.detected_at),
        "recovered": local(postmortem.recovered_at),
        "downtime": format_duration(postmortem.downtime)
        if postmortem.downtime is not None
        else "–",
        "steps": postmortem.response_steps(),
        "links": postmortem.link_list(),
        "items": list(postmortem.action_items.select_related("owner").order_by("id")),
        "events": [(local(e.at), e) for e in postmortem.timeline_events.order_by("at", "id")],
        "time_zone": str(zone),
        "today": local_date(timezone.now()),
    }


def render_markdown(postmortem: Postmortem) -> str:
    """The runbooks' report layout: Incident Report: YYYY-MM-DD, overview, cause,
    recovery, prevention as a checklist, lessons."""
    return render_to_string("incidents/postmortems/report.md", report_context(postmortem))
