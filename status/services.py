"""Status pages' workflows: what a page shows, public updates, notices and subscriptions.

`snapshot` is the only thing the public views read: a dict of plain values built
from public rows (components' public names, public titles, public updates) and
from four facts of each public incident (service, severity, scope, times). It
never touches an incident's title, description, timeline, people or channels.
"""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from core.display import format_duration
from core.errors import DomainError
from incidents import services as incidents_services
from incidents.models import (
    OPEN_STATUSES,
    EventKind,
    Incident,
    MaintenanceWindow,
    Notification,
    NotificationChannel,
    Purpose,
    Scope,
    Severity,
    Status,
    StepCondition,
)
from incidents.notify import one_line
from status.models import (
    CONFIRMATION_RESEND_AFTER,
    ComponentState,
    Language,
    Notice,
    NoticeKind,
    NoticeTemplate,
    PublicIncident,
    PublicUpdate,
    StatusPage,
    Subscriber,
    SubscriberKind,
    UpdateStatus,
)

logger = logging.getLogger(__name__)

UPTIME_DAYS = 90
RECENT_DAYS = 7  # resolved public incidents stay on the page this long
MAINTENANCE_AHEAD = timedelta(days=30)
SHOWN_INCIDENTS = 20
SHOWN_UPDATES = 10
SHOWN_MAINTENANCE = 20
CACHE_SECONDS = 15

STATE_ORDER = list(ComponentState.values)  # best to worst
# Severity × scope → what the component shows while the incident is open.
STATE_OF = {
    (Severity.SEV1, Scope.FULL): ComponentState.MAJOR,
    (Severity.SEV1, Scope.PARTIAL): ComponentState.MAJOR,
    (Severity.SEV1, Scope.FEATURE): ComponentState.PARTIAL,
    (Severity.SEV2, Scope.FULL): ComponentState.MAJOR,
    (Severity.SEV2, Scope.PARTIAL): ComponentState.PARTIAL,
    (Severity.SEV2, Scope.FEATURE): ComponentState.DEGRADED,
    (Severity.SEV3, Scope.FULL): ComponentState.PARTIAL,
    (Severity.SEV3, Scope.PARTIAL): ComponentState.DEGRADED,
    (Severity.SEV3, Scope.FEATURE): ComponentState.DEGRADED,
    (Severity.SEV4, Scope.FULL): ComponentState.DEGRADED,
    (Severity.SEV4, Scope.PARTIAL): ComponentState.DEGRADED,
    (Severity.SEV4, Scope.FEATURE): ComponentState.DEGRADED,
}


def worst(states) -> str:
    return max(states, key=STATE_ORDER.index, default=ComponentState.OPERATIONAL)


def state_of(severity: str, scope: str, status: str) -> str:
    """A component's state while an incident of this severity, scope and status is open; a
    mitigated one (being monitored) shows degraded at worst."""
    if status not in OPEN_STATUSES:
        return ComponentState.OPERATIONAL
    state = STATE_OF.get((severity, scope), ComponentState.DEGRADED)
    if status == Status.MITIGATED:
        return min(state, ComponentState.DEGRADED, key=STATE_ORDER.index)
    return state


def incident_state(incident: Incident) -> str:
    return state_of(incident.severity, incident.scope, incident.status)


def outage_start(incident: Incident) -> datetime:
    return incident.impact_started_at or incident.created_at


def downtime(incident: Incident, now: datetime) -> timedelta:
    """Measured downtime: from the impact's start (or the declaration) to the resolution (or
    now)."""
    end = incident.resolved_at or now
    return max(end - outage_start(incident), timedelta(0))


# The public page --------------------------------------------------------------


def cache_key(page_slug: str, language: str, what: str) -> str:
    # Named by the 15 s slot it belongs to: a rendering is never older than its slot, whatever
    # the cache backend's clock (and time-travelling tests agree with Redis).
    slot = int(timezone.now().timestamp() // CACHE_SECONDS)
    return f"status:{page_slug}:{language}:{what}:{slot}"


def forget(page_ids=None) -> None:
    """Drop the cached renderings of these pages (all pages if None) after a public change."""
    pages = (
        StatusPage.objects.all() if page_ids is None else StatusPage.objects.filter(pk__in=page_ids)
    )
    cache.delete_many(
        [
            cache_key(slug, language, what)
            for slug in pages.values_list("slug", flat=True)
            for language in Language.values
            for what in ("html", "json", "feed")
        ]
    )


def pages_of(incident: Incident) -> list[int]:
    return list(
        StatusPage.objects.filter(components__service_id=incident.service_id).values_list(
            "pk", flat=True
        )
    )


def snapshot(page: StatusPage, language: str, *, now: datetime | None = None) -> dict:
    """Everything a status page, its JSON and its feed show, as plain values."""
    now = now or timezone.now()
    components = list(page.components.all())
    service_ids = [c.service_id for c in components]
    since = now - timedelta(days=UPTIME_DAYS)
    public = Incident.objects.filter(service_id__in=service_ids, public__isnull=False)
    # Four facts of every public incident of the 90 days, for the states and the uptime bars.
    facts = defaultdict(list)
    for service_id, severity, scope, status, created_at, impact_at, resolved_at in public.filter(
        Q(open_rank=0) | Q(resolved_at__gte=since)
    ).values_list(
        "service_id",
        "severity",
        "scope",
        "status",
        "created_at",
        "impact_started_at",
        "resolved_at",
    ):
        is_open = status in OPEN_STATUSES
        facts[service_id].append(
            (
                state_of(severity, scope, status),
                STATE_OF.get((severity, scope), ComponentState.DEGRADED),
                impact_at or created_at,
                now if is_open else resolved_at,
            )
        )
    today = timezone.localtime(now).date()
    days = [today - timedelta(days=n) for n in range(UPTIME_DAYS - 1, -1, -1)]
    names = {c.service_id: c.name(language) for c in components}
    rows = []
    for component in components:
        mine = facts[component.service_id]
        state = component.override or worst(current for current, _state, _start, _end in mine)
        rows.append(
            {
                "name": component.name(language),
                "state": state,
                "state_label": str(ComponentState(state).label),
                "uptime": _uptime(mine, days, now),
            }
        )
    overall = worst(row["state"] for row in rows)
    # The newest public incidents, open ones first: a page for people, not an archive.
    shown = list(
        public.filter(Q(open_rank=0) | Q(resolved_at__gte=now - timedelta(days=RECENT_DAYS)))
        .select_related("public")
        .prefetch_related(
            Prefetch("public__updates", queryset=PublicUpdate.objects.order_by("-posted_at", "-id"))
        )
        .only(
            "id",
            "service_id",
            "severity",
            "scope",
            "status",
            "created_at",
            "impact_started_at",
            "resolved_at",
            "public__id",
            "public__title_ko",
            "public__title_en",
        )
        .order_by("open_rank", "-created_at", "-id")[:SHOWN_INCIDENTS]
    )
    maintenance = (
        MaintenanceWindow.objects.filter(
            service_id__in=service_ids, ends_at__gt=now, starts_at__lt=now + MAINTENANCE_AHEAD
        )
        .order_by("starts_at")
        .values_list("service_id", "starts_at", "ends_at")[:SHOWN_MAINTENANCE]
    )
    return {
        "slug": page.slug,
        "title": page.title(language),
        "language": language,
        "generated_at": now,
        "state": overall,
        "state_label": str(ComponentState(overall).label),
        "components": rows,
        "incidents": [_public_incident(i, names, language) for i in shown],
        "maintenance": [
            {"component": names[s], "starts_at": a, "ends_at": b} for s, a, b in maintenance
        ],
    }


def _merged(intervals):
    """Overlapping (start, end) intervals as disjoint ones, in order."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _uptime(facts, days, now) -> dict:
    """Per day the worst state its public incidents reached, and the share of the 90 days
    without a partial or major outage (overlapping incidents count once)."""
    zone = timezone.get_current_timezone()
    first = datetime.combine(days[0], datetime.min.time(), tzinfo=zone)
    by_state = defaultdict(list)
    for _current, state, start, end in facts:
        start = max(start, first)
        if end is not None and end > start:
            by_state[state].append((start, end))
    worst_of = {}
    for state in STATE_ORDER[1:]:  # best first: a worse state overwrites a day
        for start, end in _merged(by_state[state]):
            day = timezone.localtime(start, zone).date()
            while day <= timezone.localtime(end, zone).date():
                worst_of[day] = state
                day += timedelta(days=1)
    outage = sum(
        (
            end - start
            for start, end in _merged(
                by_state[ComponentState.PARTIAL] + by_state[ComponentState.MAJOR]
            )
        ),
        timedelta(0),
    )
    total = now - first
    percent = max(0.0, 100.0 * (1 - outage / total)) if total else 100.0
    return {
        "percent": round(percent, 2),
        "days": [{"date": d, "state": worst_of.get(d, ComponentState.OPERATIONAL)} for d in days],
    }


def _public_incident(incident: Incident, names: dict, language: str) -> dict:
    public = incident.public
    return {
        "id": public.pk,
        "title": public.title(language),
        "component": names[incident.service_id],
        "state": incident_state(incident),
        "started_at": outage_start(incident),
        "resolved_at": incident.resolved_at if incident.status not in OPEN_STATUSES else None,
        "updates": [
            {
                "id": u.pk,
                "status": u.status,
                "status_label": str(UpdateStatus(u.status).label),
                "text": u.text(language),
                "posted_at": u.posted_at,
            }
            for u in list(public.updates.all())[:SHOWN_UPDATES]
        ],
    }


# Public updates ---------------------------------------------------------------


def mark_public(
    *, incident: Incident, by, title_ko: str = "", title_en: str = ""
) -> PublicIncident:
    if not (title_ko.strip() or title_en.strip()):
        raise DomainError(_("Give a public title in Korean or English."), field="title_en")
    with transaction.atomic():
        public, created = PublicIncident.objects.get_or_create(
            incident=incident,
            defaults={"title_ko": title_ko.strip(), "title_en": title_en.strip(), "created_by": by},
        )
        if not created:
            public.title_ko, public.title_en = title_ko.strip(), title_en.strip()
            public.save(update_fields=["title_ko", "title_en"])
        incidents_services.add_event(
            incident=incident,
            kind=EventKind.NOTE,
            by=by,
            data={"public_incident": public.pk, "variant": "public"},
        )
        transaction.on_commit(lambda: forget(pages_of(incident)))
    return public


def post_update(
    *,
    incident: Incident,
    by,
    status: str,
    text_ko: str = "",
    text_en: str = "",
    now: datetime | None = None,
) -> PublicUpdate:
    """Post a public update (the incident must be marked public); it goes on the timeline too."""
    if status not in UpdateStatus.values:
        raise DomainError(_("Unknown status %(value)r.") % {"value": status}, field="status")
    if not (text_ko.strip() or text_en.strip()):
        raise DomainError(_("Write the update in Korean or English."), field="text_en")
    public = PublicIncident.objects.filter(incident=incident).first()
    if public is None:
        raise DomainError(_("Mark the incident public first."), conflict=True)
    now = now or timezone.now()
    with transaction.atomic():
        update = PublicUpdate.objects.create(
            public_incident=public,
            status=status,
            text_ko=text_ko.strip(),
            text_en=text_en.strip(),
            posted_at=now,
            posted_by=by,
        )
        incidents_services.add_event(
            incident=incident,
            kind=EventKind.NOTE,
            by=by,
            now=now,
            message=update.text_en or update.text_ko,
            data={"public_update": update.pk, "status": status, "variant": "public_update"},
        )
        transaction.on_commit(lambda: forget(pages_of(incident)))
    return update


# Notices ----------------------------------------------------------------------


def _when(at: datetime | None) -> str:
    if at is None:
        return "–"
    return formats.date_format(timezone.localtime(at), "Y-m-d H:i") + " " + settings.TIME_ZONE


def data_loss_default(incident: Incident) -> str:
    rpo = incident.service.rpo
    if rpo:
        return _("none (RPO within %(rpo)s)") % {"rpo": format_duration(rpo)}
    return _("none")


def notice_context(
    *,
    page: StatusPage,
    incident: Incident,
    language: str,
    data_loss: str,
    update_text: str,
    now: datetime,
) -> dict:
    """The values a notice template may use, in `language`; plain strings only."""
    public = getattr(incident, "public", None)
    component = page.components.filter(service_id=incident.service_id).first()
    with translation.override(language):
        return {
            "title": public.title(language) if public else "",
            "service": component.name(language) if component else "",
            "page": page.title(language),
            "started_at": _when(outage_start(incident)),
            "ended_at": _when(incident.resolved_at),
            "downtime": format_duration(downtime(incident, now)),
            "scope": str(Scope(incident.scope).label),
            # Empty: the default, in the notice's own language.
            "data_loss": data_loss.strip() or data_loss_default(incident),
            "update": update_text,
            "status_url": settings.BASE_URL
            + reverse("status:page", args=[page.slug])
            + f"?lang={language}",
        }


def _render(source: str, context: dict) -> str:
    # Plain text: values are not HTML-escaped. Only strings are passed in, so a template can
    # reach nothing but them.
    return (
        Template("{% autoescape off %}" + source + "{% endautoescape %}")
        .render(Context(context))
        .strip()
    )


def check_template(template: NoticeTemplate) -> None:
    for name in ("subject", "body"):
        try:
            Template(getattr(template, name) or "")
        except TemplateSyntaxError as exc:
            raise ValidationError({name: str(exc)}) from None


def render_notice(
    *,
    page: StatusPage,
    incident: Incident,
    kind: str,
    data_loss: str = "",
    update_text: str = "",
    now: datetime | None = None,
) -> dict:
    """{language: (subject, text)} of a notice, from the templates, in both languages."""
    now = now or timezone.now()
    templates = {t.language: t for t in NoticeTemplate.objects.filter(kind=kind)}
    rendered = {}
    for language in Language.values:
        template = templates.get(language)
        if template is None:
            raise DomainError(
                _("There is no %(kind)s template in %(language)s.")
                % {"kind": NoticeKind(kind).label, "language": Language(language).label},
                field="kind",
            )
        context = notice_context(
            page=page,
            incident=incident,
            language=language,
            data_loss=data_loss,
            update_text=update_text,
            now=now,
        )
        with translation.override(language):
            rendered[language] = (
                one_line(_render(template.subject, context)),
                _render(template.body, context),
            )
    return rendered


def unsubscribe_url(subscriber: Subscriber) -> str:
    return settings.BASE_URL + reverse(
        "status:unsubscribe", args=[subscriber.page.slug, subscriber.token]
    )


def send_notice(
    *,
    page: StatusPage,
    incident: Incident,
    kind: str,
    by,
    channels=(),
    data_loss: str = "",
    update_text: str = "",
    now: datetime | None = None,
) -> Notice:
    """Queue a notice in the one outbox: a Notification row per confirmed subscriber and per chosen
    team channel, keyed (notice, recipient), so nothing is sent twice; incidents' sender claims,
    sends and retries them."""
    now = now or timezone.now()
    rendered = render_notice(
        page=page,
        incident=incident,
        kind=kind,
        data_loss=data_loss,
        update_text=update_text,
        now=now,
    )
    channels = list(channels)
    allowed = set(page.channels.values_list("pk", flat=True))
    if any(channel.pk not in allowed for channel in channels):
        raise DomainError(_("Choose channels of this status page."), field="channels")
    with transaction.atomic():
        notice = Notice.objects.create(
            page=page,
            incident=incident,
            kind=kind,
            created_by=by,
            created_at=now,
            queued_at=now,
            subject_ko=rendered["ko"][0],
            text_ko=rendered["ko"][1],
            subject_en=rendered["en"][0],
            text_en=rendered["en"][1],
        )
        notice.channels.set(channels)
        rows = [
            _row(notice, subscriber=s) for s in page.subscribers.confirmed().select_related("page")
        ]
        rows += [_row(notice, channel=c) for c in channels]
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        incidents_services.add_event(
            incident=incident,
            kind=EventKind.NOTE,
            by=by,
            now=now,
            data={
                "notice": notice.pk,
                "variant": "notice",
                "kind": notice.kind,
                "count": len(rows),
                "page": page.slug,
            },
        )
        transaction.on_commit(lambda: _enqueue_delivery(incident.pk))
    return notice


def _row(
    notice: Notice,
    *,
    subscriber: Subscriber | None = None,
    channel: NotificationChannel | None = None,
):
    if subscriber is not None:
        language, recipient = subscriber.language, f"subscriber:{subscriber.pk}"
        kind, target, contact = subscriber.kind, subscriber.target, None
        footer = _footer(subscriber)
    else:
        contact = channel.contact
        user = contact.user if contact else None
        preference = getattr(user, "preference", None) if user else None
        language = getattr(preference, "language", "") or notice.page.language
        recipient, kind, target, footer = f"channel:{channel.pk}", channel.kind, channel.target, ""
    url = settings.BASE_URL + reverse("status:page", args=[notice.page.slug])
    text = notice.text(language) + footer
    message = {
        "subject": notice.subject(language),
        "text": text,
        "url": url,
        "fields": {
            "notice": notice.kind,
            "page": notice.page.slug,
            "language": language,
            "subject": notice.subject(language),
            "text": notice.text(language),
            "url": url,
        },
    }
    return Notification(
        purpose=Purpose.NOTICE,
        incident_id=notice.incident_id,
        step=0,
        condition=StepCondition.NOT_RESOLVED,
        contact=contact,
        channel=channel,
        kind=kind,
        target=target,
        notice=notice.outbox_key,
        recipient=recipient,
        message=message,
        created_at=notice.created_at,
    )


def _footer(subscriber: Subscriber) -> str:
    if subscriber.kind != SubscriberKind.EMAIL:
        return ""
    with translation.override(subscriber.language):
        return "\n\n" + _("Unsubscribe: %(url)s") % {"url": unsubscribe_url(subscriber)}


def _enqueue_delivery(incident_id: int) -> None:
    from django_q.tasks import async_task

    try:
        async_task("incidents.tasks.send_notifications", [incident_id])
    except Exception:
        # the rows are committed: the minute retry job sends them if the broker is down
        logger.exception("could not enqueue the delivery of incident %s's notices", incident_id)


# Subscriptions ----------------------------------------------------------------


def subscribe(*, page: StatusPage, email: str, language: str, now: datetime | None = None) -> None:
    """Start a double opt-in. Says nothing about whether the address was known: the same answer
    and at most one confirmation mail per address per CONFIRMATION_RESEND_AFTER."""
    now = now or timezone.now()
    email = email.strip().lower()
    try:
        with transaction.atomic():
            subscriber, created = Subscriber.objects.get_or_create(
                page=page,
                kind=SubscriberKind.EMAIL,
                email=email,
                defaults={"language": language, "created_at": now},
            )
    except IntegrityError:  # a parallel request created it first
        return
    if subscriber.confirmed_at is not None:
        return
    if not created and subscriber.confirmation_expired(now):
        # An old, never-confirmed request: start over with a fresh token and date.
        subscriber.delete()
        subscriber = Subscriber.objects.create(
            page=page, email=email, language=language, created_at=now
        )
    claimed = (
        Subscriber.objects.filter(pk=subscriber.pk)
        .filter(
            Q(confirmation_sent_at__isnull=True)
            | Q(confirmation_sent_at__lte=now - CONFIRMATION_RESEND_AFTER)
        )
        .update(confirmation_sent_at=now)
    )
    if claimed:
        transaction.on_commit(lambda: _enqueue_confirmation(subscriber.pk))


def _enqueue_confirmation(subscriber_id: int) -> None:
    from django_q.tasks import async_task

    try:
        async_task("status.tasks.send_confirmation", subscriber_id)
    except Exception:
        logger.exception("could not enqueue the confirmation mail of subscriber %s", subscriber_id)


def send_confirmation(*, subscriber_id: int) -> bool:
    subscriber = (
        Subscriber.objects.select_related("page")
        .filter(pk=subscriber_id, confirmed_at__isnull=True)
        .first()
    )
    if subscriber is None:
        return False
    page = subscriber.page
    url = settings.BASE_URL + reverse("status:confirm", args=[page.slug, subscriber.token])
    with translation.override(subscriber.language):
        subject = _("Confirm your subscription to %(page)s") % {
            "page": page.title(subscriber.language)
        }
        body = "\n\n".join(
            [
                _("Someone, hopefully you, asked for notices about %(page)s at this address.")
                % {"page": page.title(subscriber.language)},
                _("To confirm, open: %(url)s") % {"url": url},
                _("If it was not you, ignore this mail: nothing will be sent."),
            ]
        )
    EmailMessage(subject=one_line(subject), body=body, to=[subscriber.email]).send(
        fail_silently=False
    )
    return True


def confirm(*, page: StatusPage, token: str, now: datetime | None = None) -> Subscriber | None:
    now = now or timezone.now()
    subscriber = Subscriber.objects.filter(
        page=page, token=token, kind=SubscriberKind.EMAIL
    ).first()
    if subscriber is None or subscriber.confirmation_expired(now):
        return None
    Subscriber.objects.filter(pk=subscriber.pk, confirmed_at__isnull=True).update(confirmed_at=now)
    return subscriber


def unsubscribe(*, page: StatusPage, token: str) -> bool:
    """Forget the subscriber; the link works once (the token is gone with the row)."""
    deleted, _ = Subscriber.objects.filter(page=page, token=token).delete()
    return bool(deleted)
