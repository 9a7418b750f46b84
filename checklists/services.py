"""Checklist workflows: materialising scheduled runs, ticking, completing, handing over.

Every function is keyword-only and runs in one transaction. Ticks are single
conditional row updates, so two people ticking the same run never overwrite
each other's items; a rule that forbids what was asked raises DomainError.
"""

import logging
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import formats, timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from checklists import schedules
from checklists.models import (
    ACTIVE_STATUSES,
    INCIDENT_KINDS,
    HandoverNote,
    Item,
    ItemState,
    OnHoliday,
    Run,
    RunItem,
    RunStatus,
    Section,
    Template,
    Tick,
)
from core.errors import DomainError
from core.history import record_change, record_changes
from core.holidays import WorkCalendar
from core.languages import language_of
from incidents import services as incident_services
from incidents.models import (
    ChannelKind,
    Contact,
    EventKind,
    Incident,
    Purpose,
    RouteEvent,
    Severity,
    Source,
)

logger = logging.getLogger(__name__)

# After a long outage a minute-by-minute template could owe thousands of
# occurrences; record at most this many as missed per pass (the rest are skipped
# silently: the newest still gets its run).
MISSED_RECORDED_AT_MOST = 100


# Materialising ------------------------------------------------------------------


def materialize_runs(*, now: datetime | None = None) -> dict:
    """Create the run of each scheduled template's latest due occurrence; record older unseen ones
    as missed.

    Safe to call twice or on two clusters at once: the (template, occurrence)
    unique constraint refuses the second insert, which then counts as existing.
    """
    now = now or timezone.now()
    calendar = WorkCalendar.load()
    counts = {"created": 0, "missed": 0, "overdue": 0}
    for template in Template.objects.scheduled().select_related("service"):
        created, missed = _materialize_template(template, now, calendar)
        counts["created"] += created
        counts["missed"] += missed
    counts["overdue"] = mark_overdue(now=now)
    return counts


def _effective(template: Template, occurrence: datetime, calendar: WorkCalendar) -> datetime | None:
    """When an occurrence's run opens: at the occurrence, or, on a holiday or company day, never
    (skip) or at the same local time on the next working day (move)."""
    local = timezone.localtime(occurrence)
    if template.on_holiday == OnHoliday.RUN or calendar.holiday(local.date()) is None:
        return occurrence
    if template.on_holiday == OnHoliday.SKIP:
        return None
    day = calendar.next_working_day(local.date())
    return timezone.make_aware(
        datetime.combine(day, local.time().replace(tzinfo=None)), local.tzinfo
    )


def _materialize_template(
    template: Template, now: datetime, calendar: WorkCalendar
) -> tuple[int, int]:
    try:
        latest = schedules.latest_at_or_before(template.schedule, now)
    except (ValueError, KeyError):
        logger.warning(
            "checklist template %s has a bad schedule %r", template.pk, template.schedule
        )
        return 0, 0
    since = template.materialized_through or template.created_at
    if latest <= since:
        return 0, 0
    owed = schedules.occurrences_between(
        template.schedule, since, latest, MISSED_RECORDED_AT_MOST + 1
    )
    # An occurrence moved to a working day that has not come yet holds the mark before it: a
    # later pass opens its run then.
    plan, through = [], since
    for occurrence in owed:
        effective = _effective(template, occurrence, calendar)
        if effective is not None and effective > now:
            break
        through = occurrence
        if effective is not None:
            plan.append((occurrence, effective))
    # Occurrences moved onto the same time as a later one (a daily checklist over 설날) are that
    # later one's run, not missed ones.
    by_time = {effective: occurrence for occurrence, effective in plan}
    plan = [
        (occurrence, effective)
        for occurrence, effective in plan
        if by_time[effective] == occurrence
    ]
    created = missed = 0
    with transaction.atomic():
        for occurrence, _effective_at in plan[:-1]:
            if _insert_run(template, occurrence, RunStatus.MISSED, now):
                missed += 1
        if plan:
            occurrence, effective = plan[-1]
            if _insert_run(
                template, occurrence, RunStatus.OPEN, now, snapshot=True, opens_at=effective
            ):
                created += 1
        if through > since:
            # Monotonic: a slower parallel pass never moves the mark backwards.
            Template.objects.filter(pk=template.pk).exclude(
                materialized_through__gte=through
            ).update(materialized_through=through)
    return created, missed


def _insert_run(
    template: Template,
    occurrence: datetime,
    status: str,
    now: datetime,
    *,
    snapshot: bool = False,
    opens_at: datetime | None = None,
) -> Run | None:
    try:
        # A savepoint: losing the race to another cluster must not break our transaction.
        with transaction.atomic():
            run = Run.objects.create(
                template=template,
                template_version=template.version,
                occurrence=occurrence,
                name=template.run_name(occurrence),
                status=status,
                created_at=now,
                due_at=(opens_at or occurrence) + template.due_window
                if status != RunStatus.MISSED
                else None,
                assignee_tier_id=template.assignee_tier_id,
                assignee_contact_id=template.assignee_contact_id,
                assignee_group_id=template.assignee_group_id,
            )
    except IntegrityError:
        return None
    if snapshot:
        _snapshot_items(run, template)
    return run


def _snapshot_items(run: Run, template: Template) -> None:
    items = (
        Item.objects.filter(template=template)
        .select_related("section")
        .order_by("section__position", "section_id", "position", "id")
    )
    RunItem.objects.bulk_create(
        [
            RunItem(
                run=run,
                item=item,
                position=n,
                section=item.section.title if item.section else "",
                text=item.text,
                details=item.details,
                command=item.command,
                expected=item.expected,
                required=item.required,
                probe_id=item.probe_id,
            )
            for n, item in enumerate(items)
        ]
    )


def mark_overdue(*, now: datetime) -> int:
    late = list(
        Run.objects.filter(
            status__in=(RunStatus.OPEN, RunStatus.IN_PROGRESS), due_at__lt=now
        ).values_list("pk", flat=True)
    )
    if not late:
        return 0
    changed = Run.objects.filter(
        pk__in=late, status__in=(RunStatus.OPEN, RunStatus.IN_PROGRESS)
    ).update(status=RunStatus.OVERDUE)
    record_changes(Run.objects.filter(pk__in=late, status=RunStatus.OVERDUE), reason="overdue")
    return changed


def remind_overdue(*, now: datetime | None = None) -> int:
    """Queue an e-mail to each assignee of each overdue run, once, in the one outbox (incidents
    sends, retries and records it), and tell the team channels that route overdue checklists.
    The number of runs reminded."""
    now = now or timezone.now()
    reminded = 0
    for run in Run.objects.filter(
        status=RunStatus.OVERDUE, reminded_at__isnull=True
    ).select_related(
        "assignee_contact__user__preference", "assignee_tier", "template__service", "incident"
    ):
        with transaction.atomic():
            # The claim: a second sweep (or cluster) finds reminded_at set and queues nothing; the
            # messages are queued in the same transaction, so a crash loses neither.
            if not Run.objects.filter(pk=run.pk, reminded_at__isnull=True).update(reminded_at=now):
                continue
            url = f"{settings.BASE_URL}{run.get_absolute_url()}"
            for language, recipients in sorted(_assignee_emails_by_language(run).items()):
                # Each reader gets the reminder in their own language.
                with translation.override(language):
                    subject = _("Overdue checklist: %(name)s") % {"name": run.name}
                    body = _(
                        "The checklist “%(name)s” was due at %(due)s and is not completed.\n%(url)s"
                    ) % {
                        "name": run.name,
                        "due": formats.date_format(
                            timezone.localtime(run.due_at), "DATETIME_FORMAT"
                        ),
                        "url": url,
                    }
                    label = _("Open checklist")
                for address in recipients:
                    incident_services.queue_message(
                        purpose=Purpose.CHECKLIST_OVERDUE,
                        key=f"checklist_overdue:{run.pk}",
                        recipient=f"email:{address}",
                        kind=ChannelKind.EMAIL,
                        target=address,
                        subject=subject,
                        text=body,
                        url=url,
                        language=language,
                        link_label=label,
                        incident=run.incident,
                        now=now,
                    )
            service = run.template.service if run.template_id else None
            incident_services.emit_event(
                event=RouteEvent.CHECKLIST_OVERDUE,
                key=f"run:{run.pk}",
                severity=Severity.SEV3,
                title=run.name,
                service=service,
                url=url,
                incident=run.incident,
                now=now,
                detail=formats.date_format(timezone.localtime(run.due_at), "DATETIME_FORMAT"),
            )
        reminded += 1
    incident_services.send_pending(now=now)
    return reminded


def _assignee_emails_by_language(run: Run) -> dict[str, list[str]]:
    if run.assignee_contact and run.assignee_contact.email:
        contacts = [run.assignee_contact]
    elif run.assignee_tier_id:
        contacts = Contact.objects.filter(tier_id=run.assignee_tier_id, active=True).select_related(
            "user__preference"
        )
    elif run.assignee_group_id:
        contacts = Contact.objects.filter(
            user__groups=run.assignee_group_id, active=True
        ).select_related("user__preference")
    else:
        contacts = []
    by_language = {}
    for contact in contacts:
        if contact.email:
            by_language.setdefault(language_of(contact.user), set()).add(contact.email)
    return {language: sorted(emails) for language, emails in by_language.items()}


# Starting by hand ----------------------------------------------------------------


def start_scheduled_run(
    *, template: Template, occurrence: datetime, now: datetime | None = None
) -> Run:
    """The run of one scheduled occurrence, named after its period and due a due window after it,
    as the scheduler makes it; the scheduler later finds it there and makes no second one."""
    run = _insert_run(template, occurrence, RunStatus.OPEN, now or timezone.now(), snapshot=True)
    if run is None:
        raise DomainError(
            _("This occurrence already has its run."),
            field="occurrence",
            code="duplicate",
            conflict=True,
        )
    return run


def start_run(
    *, template: Template, by, incident: Incident | None = None, now: datetime | None = None
) -> Run:
    """Start a run now (incident/recovery checklists from an incident page, or any template by
    hand)."""
    now = now or timezone.now()
    if not template.active:
        raise DomainError(
            _("This checklist template is not active."),
            field="template",
            code="inactive",
            conflict=True,
        )
    if incident is not None and template.kind not in INCIDENT_KINDS:
        raise DomainError(
            _("Only incident and recovery checklists can be started from an incident."),
            field="template",
            code="wrong_kind",
            conflict=True,
        )
    with transaction.atomic():
        name = template.name if incident is None else f"{template.name} — #{incident.pk}"
        run = Run.objects.create(
            template=template,
            template_version=template.version,
            name=name,
            status=RunStatus.OPEN,
            created_at=now,
            due_at=now + template.due_window,
            incident=incident,
            started_by=by,
            assignee_tier_id=template.assignee_tier_id,
            assignee_contact_id=template.assignee_contact_id,
            assignee_group_id=template.assignee_group_id,
        )
        _snapshot_items(run, template)
        if incident is not None:
            incident_services.add_event(
                incident=incident,
                kind=EventKind.CHECKLIST,
                by=by,
                now=now,
                data={
                    "run": run.pk,
                    "template": template.pk,
                    "variant": "started",
                    "name": template.name,
                },
            )
    return run


# Ticking -------------------------------------------------------------------------


def tick(
    *,
    run_item: RunItem,
    state: str,
    by,
    note: str = "",
    value: str = "",
    now: datetime | None = None,
) -> RunItem:
    """Set one item's state. Skipping needs a reason (the note)."""
    now = now or timezone.now()
    note, value = (note or "").strip(), (value or "").strip()
    if state not in ItemState.values or state == ItemState.OPEN:
        raise DomainError(_("Choose done, failed, skipped or n/a."), field="state")
    if state == ItemState.SKIPPED and not note:
        raise DomainError(_("Say why the item is skipped."), field="note")
    return _set_state(run_item, state, by, now, note=note, value=value, undo=False)


def untick(*, run_item: RunItem, by, now: datetime | None = None) -> RunItem:
    """Undo a tick: the item is open again, and the undo is recorded."""
    now = now or timezone.now()
    return _set_state(run_item, ItemState.OPEN, by, now, note="", value="", undo=True)


def tick_from_probe(*, run_item: RunItem, by, now: datetime | None = None) -> RunItem:
    """Tick an item from its linked probe's latest status: ok → done, anything worse → failed."""
    probe = run_item.probe
    if probe is None:
        raise DomainError(_("This item has no linked probe."), field="state")
    if probe.status == "unknown" or probe.last_run_at is None:
        raise DomainError(_("The probe has not run yet."), field="state", conflict=True)
    state = ItemState.DONE if probe.status == "ok" else ItemState.FAILED
    value = "" if probe.last_value is None else f"{probe.last_value:g}"
    note = _("From probe %(name)s: %(status)s at %(at)s. %(message)s") % {
        "name": probe.name,
        "status": probe.get_status_display(),
        "at": timezone.localtime(probe.last_run_at).strftime("%Y-%m-%d %H:%M"),
        "message": probe.last_message,
    }
    return tick(run_item=run_item, state=state, by=by, note=note.strip(), value=value, now=now)


def _set_state(
    run_item: RunItem, state: str, by, now: datetime, *, note: str, value: str, undo: bool
) -> RunItem:
    with transaction.atomic():
        current = RunItem.objects.filter(pk=run_item.pk).values("state", "run_id").first()
        if current is None:
            raise DomainError(_("This item no longer exists."), code="not_found", conflict=True)
        if undo and current["state"] == ItemState.OPEN:
            raise DomainError(_("This item is not ticked."), code="not_ticked", conflict=True)
        fields = {
            "state": state,
            "by": by if not undo else None,
            "at": now if not undo else None,
            "note": note,
            "value": value,
        }
        # One row, one statement, and only while the run is still being worked on:
        # a tick never touches another item and never reopens a completed run.
        changed = RunItem.objects.filter(pk=run_item.pk, run__status__in=ACTIVE_STATUSES).update(
            **fields
        )
        if not changed:
            raise DomainError(
                _("This run is closed; its items can no longer change."),
                code="run_closed",
                conflict=True,
            )
        Tick.objects.create(
            run_item_id=run_item.pk,
            state=state,
            previous_state=current["state"],
            undo=undo,
            by=by,
            at=now,
            note=note,
            value=value,
        )
        if Run.objects.filter(pk=current["run_id"], status=RunStatus.OPEN).update(
            status=RunStatus.IN_PROGRESS, started_at=now, started_by=by
        ):
            record_changes(Run.objects.filter(pk=current["run_id"]), by=by)
        run = (
            Run.objects.select_related("incident")
            .only("id", "name", "incident")
            .get(pk=current["run_id"])
        )
        if run.incident_id:
            incident_services.add_event(
                incident=run.incident,
                kind=EventKind.CHECKLIST,
                by=by,
                now=now,
                message=note or "",
                data={
                    "run": run.pk,
                    "run_item": run_item.pk,
                    "state": state,
                    "undo": undo,
                    "variant": "ticked",
                    "text": run_item.text,
                },
            )
    for name, val in fields.items():
        setattr(run_item, name, val)
    return run_item


def complete_run(*, run: Run, by, handover: dict | None = None, now: datetime | None = None) -> Run:
    """Complete a run; refused while a required item is open. A shift run stores its handover
    note."""
    now = now or timezone.now()
    open_required = RunItem.objects.filter(run=OuterRef("pk"), required=True, state=ItemState.OPEN)
    with transaction.atomic():
        # One conditional statement: if someone unticks a required item meanwhile,
        # either their undo is refused (run closed) or this completion is.
        changed = (
            Run.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES)
            .exclude(Exists(open_required))
            .update(status=RunStatus.COMPLETED, completed_at=now, completed_by=by)
        )
        if not changed:
            fresh = Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
            if fresh not in ACTIVE_STATUSES:
                raise DomainError(
                    _("This run is already closed."), code="run_closed", conflict=True
                )
            count = RunItem.objects.filter(run=run, required=True, state=ItemState.OPEN).count()
            raise DomainError(
                _("%(count)d required item(s) are still open.") % {"count": count},
                code="required_open",
                conflict=True,
            )
        Run.objects.filter(pk=run.pk, started_at__isnull=True).update(started_at=now, started_by=by)
        if handover is not None and run.template.is_shift():
            HandoverNote.objects.create(
                run=run,
                author=by,
                created_at=now,
                open_incidents=open_incident_summary(),
                **{
                    k: (handover.get(k) or "").strip()
                    for k in ("risks", "probes", "planned_changes", "text")
                },
            )
        if run.incident_id:
            incident_services.add_event(
                incident=run.incident,
                kind=EventKind.CHECKLIST,
                by=by,
                now=now,
                data={"run": run.pk, "variant": "completed", "name": run.name},
            )
    run.refresh_from_db()
    record_change(run, by=by)
    return run


def abandon_run(*, run: Run, by, now: datetime | None = None) -> Run:
    now = now or timezone.now()
    with transaction.atomic():
        if not Run.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
            status=RunStatus.ABANDONED, completed_at=now, completed_by=by
        ):
            raise DomainError(_("This run is already closed."), code="run_closed", conflict=True)
    run.refresh_from_db()
    record_change(run, by=by)
    return run


# Handover -----------------------------------------------------------------------


def open_incident_summary() -> list[dict]:
    return [
        {
            "id": i.pk,
            "title": i.title,
            "severity": i.severity,
            "status": i.status,
            "service": i.service.name,
        }
        for i in Incident.objects.open()
        .select_related("service")
        .order_by("severity", "created_at")[:50]
    ]


def handover_initial() -> dict[str, str]:
    """Starting text for the handover form's fields, offered by other apps through their
    AppConfig (`handover_fields = {field: "app.module.function"}`), so that checklists imports
    none of them."""
    return {
        field: import_string(function)()
        for config in apps.get_app_configs()
        for field, function in getattr(config, "handover_fields", {}).items()
    }


def acknowledge_handover(*, note: HandoverNote, by, now: datetime | None = None) -> HandoverNote:
    now = now or timezone.now()
    with transaction.atomic():
        if not HandoverNote.objects.filter(pk=note.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=by
        ):
            raise DomainError(
                _("This handover note is already acknowledged."), code="acknowledged", conflict=True
            )
    note.refresh_from_db()
    return note


# A failed item → an incident ---------------------------------------------------------


def related_open_incidents(*, service, category: str = "") -> list[Incident]:
    """Open incidents of the service (of the category too, when there is one), newest first: a
    failed item shows them, so nobody opens a second incident for what is already being handled."""
    if service is None:
        return []
    incidents = Incident.objects.open().filter(service=service)
    if category:
        incidents = incidents.filter(category__iexact=category)
    return list(incidents.order_by("-created_at", "-id")[:5])


def open_incident_for_item(
    *,
    run_item: RunItem,
    by,
    title: str = "",
    severity: str = Severity.SEV3,
    description: str = "",
    category: str = "",
) -> tuple[Incident, bool]:
    """Open (or join) the incident for a failed item, and link it to the item. Its description
    names the open incidents of the same service and category, if any."""
    run = run_item.run
    if run_item.state != ItemState.FAILED:
        raise DomainError(
            _("Only a failed item can open an incident."), field="state", conflict=True
        )
    service = run.template.service
    if service is None:
        raise DomainError(
            _("This checklist has no service; open the incident from the incidents page."),
            field="service",
        )
    description = description or default_incident_description(run_item)
    related = related_open_incidents(service=service, category=category)
    if related:
        description += "\n\n" + _("Already open for this service and category: %(incidents)s") % {
            "incidents": ", ".join(f"#{incident.pk} {incident.title}" for incident in related)
        }
    with transaction.atomic():
        incident, created = incident_services.open_incident(
            service=service,
            title=title or default_incident_title(run_item),
            severity=severity,
            source=Source.CHECKLIST,
            dedup_key=f"checklist-item-{run_item.pk}",
            by=by,
            description=description,
            category=category,
        )
        RunItem.objects.filter(pk=run_item.pk).update(incident=incident)
        incident_services.add_event(
            incident=incident,
            kind=EventKind.CHECKLIST,
            by=by,
            data={
                "run": run.pk,
                "run_item": run_item.pk,
                "variant": "item_failed",
                "text": run_item.text,
                "name": run.name,
            },
        )
    run_item.incident = incident
    return incident, created


def default_incident_title(run_item: RunItem) -> str:
    return (_("Checklist item failed: %(text)s") % {"text": run_item.text})[:200]


def default_incident_description(run_item: RunItem) -> str:
    parts = [
        _("Run: %(run)s") % {"run": run_item.run.name},
        _("Item: %(text)s") % {"text": run_item.text},
    ]
    if run_item.note:
        parts.append(_("Note: %(note)s") % {"note": run_item.note})
    if run_item.value:
        parts.append(_("Value: %(value)s") % {"value": run_item.value})
    return "\n".join(parts)


# Editing templates ------------------------------------------------------------------


def save_template(
    *, template: Template | None, fields: dict, sections: list[dict] | None
) -> Template:
    """Create or update a template; new sections/items replace the old ones and bump the version.

    Runs already made keep their own copy of the items, so history is never rewritten.
    """
    with transaction.atomic():
        if template is None:
            template = Template(**fields)
        else:
            for name, value in fields.items():
                setattr(template, name, value)
            template.version += 1
        template.full_clean(exclude=["source_key"])
        template.save()
        if sections is not None:
            replace_sections(template, sections)
    return template


def replace_sections(template: Template, sections: list[dict]) -> None:
    template.items.all().delete()
    template.sections.all().delete()
    for s_pos, section_data in enumerate(sections):
        section = Section.objects.create(
            template=template, title=section_data.get("title") or template.name, position=s_pos
        )
        Item.objects.bulk_create(
            [
                Item(
                    template=template,
                    section=section,
                    position=i_pos,
                    text=item["text"],
                    details=item.get("details", ""),
                    command=item.get("command", ""),
                    expected=item.get("expected", ""),
                    required=item.get("required", True),
                    probe=item.get("probe"),
                )
                for i_pos, item in enumerate(section_data.get("items", []))
            ]
        )
