"""On-call pages: every schedule's current and next person, a schedule's next four weeks, and the
calendar feeds (public, by secret token)."""

import hmac
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.middleware import role_not_required
from incidents.models import Contact
from oncall import feeds, services
from oncall.forms import OverrideForm
from oncall.models import Override, PersonalFeed, Schedule, portal_zone

GRID_DAYS = 28


def now_panel(*, request, now: datetime) -> dict:
    """The current and next person on call per schedule, for "Who to call now" and "My shift"."""
    schedules = services.schedules_with_rotations(Schedule.objects.order_by("name"))
    rows = services.now_and_next(schedules, now)
    contacts = Contact.objects.in_bulk(
        {
            shift.contact
            for row in rows
            for shift in (row["current"], row["next"])
            if shift is not None and shift.contact is not None
        }
    )
    for row in rows:
        for key in ("current", "next"):
            shift = row[key]
            row[f"{key}_contact"] = contacts.get(shift.contact) if shift is not None else None
    own = getattr(request.user, "contact", None)
    return {"rows": rows, "now": now, "own": own}


@require_safe
@permission_required("oncall.view_schedule", raise_exception=True)
def schedule_list(request):
    return render(
        request,
        "oncall/list.html",
        {"panel_context": now_panel(request=request, now=timezone.now())},
    )


@require_safe
@permission_required("oncall.view_schedule", raise_exception=True)
def schedule_detail(request, pk):
    schedule = get_object_or_404(services.schedules_with_rotations(), pk=pk)
    zone = portal_zone()
    today = timezone.localdate(timezone=zone)
    start = datetime.combine(today, time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=GRID_DAYS), time(0), tzinfo=zone)
    shifts = schedule.shifts(start, end)
    contacts = Contact.objects.in_bulk({s.contact for s in shifts if s.contact is not None})
    days = []
    for offset in range(GRID_DAYS):
        day = today + timedelta(days=offset)
        day_start = datetime.combine(day, time(0), tzinfo=zone)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        stretches = [
            {
                "contact": contacts.get(s.contact),
                "from": max(s.starts_at, day_start),
                "until": min(s.ends_at, day_end),
            }
            for s in shifts
            if s.starts_at < day_end and s.ends_at > day_start
        ]
        days.append({"day": day, "stretches": stretches})
    weeks = [days[n : n + 7] for n in range(0, GRID_DAYS, 7)]
    upcoming = list(
        schedule.overrides.filter(ends_at__gt=timezone.now())
        .select_related("contact", "covers_for")
        .order_by("starts_at")
    )
    own = getattr(request.user, "contact", None)
    context = {
        "schedule": schedule,
        "weeks": weeks,
        "override_form": OverrideForm(user=request.user)
        if request.user.has_perm("oncall.add_override")
        else None,
        "layers": schedule.layers.all(),
        "overrides": upcoming,
        "own_overrides": [o for o in upcoming if o.may_change(request.user)]
        if request.user.has_perm("oncall.delete_override")
        else [],
        "feed_url": request.build_absolute_uri(feeds.schedule_feed_path(schedule)),
        "personal_feed_url": (
            request.build_absolute_uri(feeds.personal_feed_path(own)) if own is not None else ""
        ),
    }
    return render(request, "oncall/detail.html", context)


@require_POST
@permission_required("oncall.add_override", raise_exception=True)
def override_add(request, pk):
    schedule = get_object_or_404(Schedule, pk=pk)
    form = OverrideForm(
        request.POST,
        user=request.user,
        instance=Override(schedule=schedule, created_by=request.user),
    )
    if form.is_valid():
        form.save()
        messages.success(request, _("Override saved."))
    else:
        for error in [*form.non_field_errors(), *(e for f in form.errors.values() for e in f)]:
            messages.error(request, error)
    return redirect(schedule)


@require_POST
@permission_required("oncall.delete_override", raise_exception=True)
def override_delete(request, pk):
    override = get_object_or_404(Override.objects.select_related("schedule"), pk=pk)
    if not override.may_change(request.user):
        raise PermissionDenied
    override.delete()
    messages.success(request, _("Override withdrawn."))
    return redirect(override.schedule)


def _calendar(body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_not_required
@role_not_required
@require_safe
def schedule_feed(request, pk, token):
    """A schedule's shifts as RFC 5545; the secret in the URL is the only credential, so a wrong
    one is indistinguishable from a missing schedule."""
    schedule = Schedule.objects.filter(pk=pk).first()
    if schedule is None or not hmac.compare_digest(schedule.feed_token.encode(), token.encode()):
        raise Http404
    schedule = services.schedules_with_rotations().get(pk=pk)
    return _calendar(feeds.schedule_calendar(schedule, now=timezone.now()))


@login_not_required
@role_not_required
@require_safe
def personal_feed(request, pk, token):
    feed = PersonalFeed.objects.filter(contact_id=pk).select_related("contact").first()
    if feed is None or not hmac.compare_digest(feed.token.encode(), token.encode()):
        raise Http404
    return _calendar(feeds.personal_calendar(feed.contact, now=timezone.now()))
