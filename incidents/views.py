"""Incident pages. Login is required everywhere by middleware; writes check the role."""

import csv
import logging

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.module_loading import import_string
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core import panels
from core.errors import DomainError
from core.holidays import WorkCalendar
from core.middleware import role_not_required
from incidents import acklinks, postmortems, reportcache, reports, services
from incidents.admin import Echo
from incidents.forms import (
    ActionItemFormSet,
    DeclareIncidentForm,
    IncidentFilterForm,
    NoteForm,
    PostmortemForm,
    ReopenForm,
    ReportForm,
    ResolveForm,
    RouteForm,
)
from incidents.models import (
    ActionItem,
    ActionItemStatus,
    Availability,
    Contact,
    Incident,
    Notification,
    Postmortem,
    PostmortemStatus,
    Route,
    Tier,
    portal_zone,
)
from incidents.postmortems import local_date

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
# What a row of the incident list shows (the texts and the escalation snapshot stay unread).
LIST_FIELDS = ("title", "severity", "status", "created_at", "service__name")
TIMELINE_LIMIT = 300
DELIVERY_LIMIT = 100  # the latest sends shown on the incident page; the API lists them all

TRANSITIONS = {
    "acknowledge": services.acknowledge,
    "mitigate": services.mitigate,
    "resolve": services.resolve,
    "close": services.close,
}


def get_incident(pk) -> Incident:
    return get_object_or_404(
        Incident.objects.select_related("service", "commander", "acknowledged_by", "resolved_by"),
        pk=pk,
    )


@require_safe
@permission_required("incidents.view_incident", raise_exception=True)
def incident_list(request):
    form = IncidentFilterForm(request.GET or None)
    incidents = Incident.objects.open_first()
    if form.is_bound:
        form.is_valid()
        incidents = form.filter(incidents)
    # The page's ids first, then its rows: a deep page's OFFSET then walks the list's index alone.
    # Selecting the rows with their service, SQLite joined and read every skipped row (page 500 of
    # the resolved ones: 120 ms of 124).
    page = Paginator(incidents.values_list("pk", flat=True), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = (
        Incident.objects.select_related("service")
        .only(*LIST_FIELDS)
        .in_bulk(list(page.object_list))
    )
    page.object_list = [rows[pk] for pk in page.object_list if pk in rows]
    return render(
        request, "incidents/list.html", {"form": form, "page": page, "now": timezone.now()}
    )


@permission_required("incidents.add_incident", raise_exception=True)
def incident_declare(request):
    form = DeclareIncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident, created = services.declare_incident(
                by=request.user, source="manual", **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if created:
                messages.success(request, _("Incident declared. The escalation policy is running."))
            else:
                messages.info(
                    request,
                    _("An open incident with the same key exists; your report was added to it."),
                )
            return redirect(incident)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "incidents/declare.html", {"form": form}, status=status)


@require_safe
@permission_required("incidents.view_incident", raise_exception=True)
def incident_detail(request, pk):
    return render_detail(request, get_incident(pk))


def render_detail(request, incident, *, note_form=None, resolve_form=None, status=200):
    recent = list(
        incident.events.select_related("actor_user", "actor_contact").order_by("-at", "-id")[
            : TIMELINE_LIMIT + 1
        ]
    )
    can_change = request.user.has_perm("incidents.change_incident")
    context = {
        "incident": incident,
        "events": list(reversed(recent[:TIMELINE_LIMIT])),
        "events_truncated": len(recent) > TIMELINE_LIMIT,
        "next_steps": incident.allowed_actions() if can_change else [],
        "can_note": request.user.has_perm("incidents.add_timelineevent"),
        "note_form": note_form or NoteForm(),
        "reopen_form": ReopenForm(),
        "resolve_form": resolve_form or ResolveForm(),
        "postmortem": Postmortem.objects.filter(incident=incident).only("id", "status").first(),
        "now": timezone.now(),
    }
    if request.user.has_perm("incidents.view_notification"):
        context["deliveries"] = list(
            incident.notifications.select_related("contact").order_by("-created_at", "-id")[
                :DELIVERY_LIMIT
            ]
        )
    context["panels"] = incident_panels(request, incident)
    return render(request, "incidents/detail.html", context, status=status)


def incident_panels(request, incident) -> list[dict]:
    """What other apps show on the incident page (AppConfig.incident_panels: template and
    context function), so that incidents imports none of them (DESIGN §2)."""
    panels = []
    for config in apps.get_app_configs():
        for template, function in getattr(config, "incident_panels", ()):
            context = import_string(function)(incident=incident, user=request.user)
            panels.append({"template": template, "context": context})
    return panels


@permission_required("incidents.view_incident", raise_exception=True)
def incident_acknowledge(request, pk):
    """The one-click link of a page: GET only asks, POST acknowledges."""
    incident = get_incident(pk)
    if request.method == "POST":
        if not request.user.has_perm("incidents.change_incident"):
            raise PermissionDenied
        return _apply(request, incident, "acknowledge")
    can_change = request.user.has_perm("incidents.change_incident")
    return render(
        request,
        "incidents/acknowledge.html",
        {"incident": incident, "can_change": can_change, "now": timezone.now()},
    )


@login_not_required
@role_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def acknowledge_link(request, token):
    """The one-click link of a page (incidents.acklinks): no login, the signed token is the
    credential. GET shows the incident read-only with a button; only that button's POST
    acknowledges."""
    try:
        link = acklinks.read_token(token)
    except acklinks.BadLink as exc:
        logger.warning("acknowledge link refused: %s", exc.reason)
        return _link_refused(request, exc.reason)
    notification = (
        Notification.objects.filter(
            pk=link.notification_id, incident_id=link.incident_id, contact_id=link.contact_id
        )
        .select_related("incident__service", "contact__user")
        .first()
    )
    if notification is None:  # its contact or the incident was deleted since
        logger.warning("acknowledge link refused: notification %s is gone", link.notification_id)
        return _link_refused(request, "gone")
    incident, contact = notification.incident, notification.contact
    status, acknowledged = 200, False
    if request.method == "POST":
        try:
            services.acknowledge_by_link(incident=incident, contact=contact, link=notification.pk)
        except DomainError as exc:
            logger.warning(
                "acknowledge link of notification %s refused: %s", notification.pk, exc.code
            )
            messages.error(request, exc.message)
            status = 409
        else:
            acknowledged = True
        incident.refresh_from_db()
    return render(
        request,
        "incidents/acknowledge_link.html",
        {
            "incident": incident,
            "contact": contact,
            "acknowledged": acknowledged,
            "now": timezone.now(),
            "login_url": resolve_url(settings.LOGIN_URL)
            + "?"
            + urlencode({"next": incident.get_absolute_url()}),
        },
        status=status,
    )


LINK_REFUSALS = {
    "expired": gettext_lazy(
        "This acknowledge link has expired. Sign in to acknowledge the incident."
    ),
    "invalid": gettext_lazy(
        "This acknowledge link is not valid. Sign in to acknowledge the incident."
    ),
    "gone": gettext_lazy(
        "This acknowledge link no longer leads anywhere. Sign in to see the incidents."
    ),
}


def _link_refused(request, reason: str):
    status = {"expired": 410, "gone": 404}.get(reason, 400)
    return render(
        request,
        "incidents/acknowledge_link.html",
        {"refused": LINK_REFUSALS[reason], "login_url": resolve_url(settings.LOGIN_URL)},
        status=status,
    )


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def incident_transition(request, pk, name):
    return _apply(request, get_incident(pk), name)


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def incident_resolve(request, pk):
    incident = get_incident(pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return render_detail(request, incident, resolve_form=form, status=400)
    return _apply(request, incident, "resolve", summary=form.cleaned_data["summary"])


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def incident_reopen(request, pk):
    incident = get_incident(pk)
    form = ReopenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The reason is too long."))
        return redirect(incident)
    return _apply(request, incident, "reopen", reason=form.cleaned_data["reason"])


def _apply(request, incident, name, **extra):
    action = services.reopen if name == "reopen" else TRANSITIONS[name]
    try:
        action(incident=incident, by=request.user, **extra)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        incident.refresh_from_db(fields=["status"])
        messages.success(
            request,
            _("Incident #%(id)s is now %(status)s.")
            % {"id": incident.pk, "status": incident.get_status_display()},
        )
    return redirect(incident)


@require_POST
@permission_required("incidents.add_timelineevent", raise_exception=True)
def incident_add_note(request, pk):
    incident = get_incident(pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return render_detail(request, incident, note_form=form, status=400)
    try:
        services.add_note(incident=incident, by=request.user, text=form.cleaned_data["text"])
    except DomainError as exc:
        form.add_error("text", exc.message)
        return render_detail(request, incident, note_form=form, status=400)
    messages.success(request, _("Note added."))
    return redirect(f"{incident.get_absolute_url()}#timeline")


@require_safe
@permission_required("incidents.view_contact", raise_exception=True)
def who_to_call(request):
    now = timezone.now()
    calendar = WorkCalendar.load()
    active = Contact.objects.filter(active=True).order_by("name")
    tiers = Tier.objects.prefetch_related(Prefetch("contacts", queryset=active)).order_by("level")
    rows = []
    for tier in tiers:
        reachable, off_duty = [], 0
        for contact in tier.contacts.all():
            if contact.availability == Availability.BUSINESS_HOURS and not contact.is_working(
                now, calendar
            ):
                off_duty += 1
            else:
                reachable.append(
                    {
                        "contact": contact,
                        "emergency_only": contact.availability == Availability.EMERGENCY_ONLY,
                    }
                )
        rows.append({"tier": tier, "contacts": reachable, "off_duty": off_duty})
    return render(
        request,
        "incidents/who_to_call.html",
        {
            "rows": rows,
            "now": now,
            "panels": panels.collect("who_to_call", request=request, now=now),
        },
    )


# Postmortems ------------------------------------------------------------------------


def get_postmortem(incident_pk) -> Postmortem:
    return get_object_or_404(
        Postmortem.objects.select_related("incident__service", "author", "published_by"),
        incident_id=incident_pk,
    )


@require_safe
@permission_required("incidents.view_postmortem", raise_exception=True)
def postmortem_list(request):
    status = request.GET.get("status", "")
    found = Postmortem.objects.select_related("incident__service", "author").order_by(
        "-created_at", "-id"
    )
    if status in PostmortemStatus.values:
        found = found.filter(status=status)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    # The action items of this page's postmortems only: counted for the whole table (a join and a
    # GROUP BY of every postmortem before the sort and LIMIT) this was most of the page's time.
    not_done = ~Q(status=ActionItemStatus.DONE)
    counts = {
        row["postmortem_id"]: row
        for row in ActionItem.objects.filter(not_done, postmortem__in=[pm.pk for pm in page])
        .order_by()
        .values("postmortem_id")
        .annotate(
            open=Count("id"),
            overdue=Count("id", filter=Q(due_date__lt=local_date(timezone.now()))),
        )
    }
    for postmortem in page:
        row = counts.get(postmortem.pk, {})
        postmortem.items_open, postmortem.items_overdue = row.get("open", 0), row.get("overdue", 0)
    context = {
        "page": page,
        "status": status,
        "statuses": PostmortemStatus.choices,
        "panel": postmortems.dashboard_panel(request=request, now=timezone.now()),
    }
    return render(request, "incidents/postmortems/list.html", context)


@require_safe
@permission_required("incidents.view_postmortem", raise_exception=True)
def postmortem_detail(request, pk):
    postmortem = (
        Postmortem.objects.select_related("incident__service", "author", "published_by")
        .filter(incident_id=pk)
        .first()
    )
    if postmortem is None:
        incident = get_incident(pk)
        if request.user.has_perm("incidents.add_postmortem"):
            return redirect("incidents:postmortem-edit", pk=incident.pk)
        raise Http404(_("This incident has no postmortem yet."))
    user = request.user
    context = {
        **postmortems.report_context(postmortem),
        "today": local_date(timezone.now()),
        "can_edit": postmortem.is_editable and user.has_perm("incidents.change_postmortem"),
        "can_submit": postmortem.status == PostmortemStatus.DRAFT
        and user.has_perm("incidents.change_postmortem"),
        "can_publish": postmortem.is_editable and user.has_perm("incidents.publish_postmortem"),
        "can_complete": user.has_perm("incidents.change_actionitem"),
    }
    return render(request, "incidents/postmortems/detail.html", context)


@require_safe
@permission_required("incidents.view_postmortem", raise_exception=True)
def postmortem_print(request, pk):
    return render(
        request, "incidents/postmortems/print.html", postmortems.report_context(get_postmortem(pk))
    )


@require_safe
@permission_required("incidents.view_postmortem", raise_exception=True)
def postmortem_markdown(request, pk):
    postmortem = get_postmortem(pk)
    day = timezone.localtime(postmortem.occurred_at).date().isoformat()
    return HttpResponse(
        postmortems.render_markdown(postmortem),
        content_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="incident-report-{day}-{pk}.md"'},
    )


@permission_required("incidents.add_postmortem", raise_exception=True)
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_edit(request, pk):
    """The postmortem form with its action items: save as draft, submit, or publish (managers)."""
    incident = get_incident(pk)
    postmortem = Postmortem.objects.filter(incident=incident).first() or postmortems.draft_for(
        incident, by=request.user
    )
    if not postmortem.is_editable:
        messages.info(
            request, _("This postmortem is published; its action items can still be completed.")
        )
        return redirect(postmortem)
    today = local_date(timezone.now())
    show_errors, status = True, 200
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "publish" and not request.user.has_perm("incidents.publish_postmortem"):
            raise PermissionDenied
        data = request.POST
        if action == "add_row":
            # Re-render with one more empty row, keeping everything typed so far.
            data = request.POST.copy()
            total = f"{ITEMS_PREFIX}-TOTAL_FORMS"
            data[total] = str(min(_int(data.get(total)) + 1, 50))
            show_errors = False
        form = PostmortemForm(data, instance=postmortem, incident=incident)
        formset = _items_formset(request, postmortem, data, today=today)
        if action != "add_row":
            if form.is_valid() and formset.is_valid():
                saved = _save_postmortem(request, form, formset, action)
                if saved:
                    return redirect(postmortem)
            status = 400
    else:
        initial = (
            {}
            if postmortem.pk
            else {"timeline_events": list(postmortems.default_timeline(incident))}
        )
        form = PostmortemForm(instance=postmortem, incident=incident, initial=initial)
        formset = _items_formset(request, postmortem, None, today=today)
    context = {
        "incident": incident,
        "postmortem": postmortem,
        "form": form,
        "formset": formset,
        "show_errors": show_errors,
        "can_publish": request.user.has_perm("incidents.publish_postmortem"),
    }
    return render(request, "incidents/postmortems/form.html", context, status=status)


ITEMS_PREFIX = "items"


def _items_formset(request, postmortem, data, *, today):
    formset = ActionItemFormSet(data, instance=postmortem, prefix=ITEMS_PREFIX, today=today)
    # No "remove" box for who may not delete (postmortems.save_postmortem refuses it anyway).
    formset.can_delete = postmortem.may_delete_items(request.user)
    return formset


def _int(value) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _save_postmortem(request, form, formset, action) -> bool:
    postmortem = form.save(commit=False)
    items = formset.save(commit=False)
    try:
        with transaction.atomic():
            postmortems.save_postmortem(
                postmortem=postmortem,
                by=request.user,
                items=items,
                deleted=formset.deleted_objects,
                timeline=list(form.cleaned_data["timeline_events"]),
            )
            if action == "submit":
                postmortems.submit_postmortem(postmortem=postmortem, by=request.user)
            elif action == "publish":
                postmortems.publish_postmortem(postmortem=postmortem, by=request.user)
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return False
    done = {"submit": _("Postmortem submitted for review."), "publish": _("Postmortem published.")}
    messages.success(request, done.get(action, _("Postmortem saved as a draft.")))
    return True


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_submit(request, pk):
    return _postmortem_step(
        request, pk, postmortems.submit_postmortem, _("Postmortem submitted for review.")
    )


@require_POST
@permission_required("incidents.publish_postmortem", raise_exception=True)
def postmortem_publish(request, pk):
    return _postmortem_step(request, pk, postmortems.publish_postmortem, _("Postmortem published."))


def _postmortem_step(request, pk, step, done):
    postmortem = get_postmortem(pk)
    try:
        step(postmortem=postmortem, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect(postmortem)


@require_POST
@permission_required("incidents.change_actionitem", raise_exception=True)
def action_item_complete(request, pk):
    item = get_object_or_404(ActionItem.objects.select_related("postmortem"), pk=pk)
    try:
        postmortems.complete_action_item(item=item, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Action item done."))
    return redirect(item.postmortem)


# Reports --------------------------------------------------------------------------------


@require_safe
@permission_required("incidents.view_reports", raise_exception=True)
def incident_reports(request):
    form = ReportForm(request.GET or None)
    now = timezone.now()
    if form.is_bound and not form.is_valid():
        return render(request, "incidents/reports/report.html", {"form": form}, status=400)
    data = form.cleaned_data if form.is_bound else {}
    period = reports.period_from(data.get("first"), data.get("last"), now=now)
    service, from_impact = data.get("service"), bool(data.get("from_impact"))

    def build():
        # Read once for the report and its trend charts.
        cells = reports.read_cells(period=period, service=service)
        report = reports.build_report(
            period=period, service=service, from_impact=from_impact, now=now, cells=cells
        )
        return {
            "report": report,
            "charts": reports.charts(report),
            "trends": reports.trend_charts(
                period=period, service=service, from_impact=from_impact, cells=cells
            ),
            "severity_table": reports.table([report["total"], *report["by_severity"]]),
            "month_table": reports.table(report["by_month"]),
        }

    # Until what it is made of changes (incidents.reportcache); overdue items count from today.
    today = timezone.localdate(now, portal_zone())
    figures = reportcache.cached(
        (get_language(), period.first, period.last, service and service.pk, from_impact, today),
        build,
    )
    report = figures["report"]
    if request.GET.get("download") == "csv":
        writer = csv.writer(Echo())
        name = f"incident-report-{report['period']['first']}-{report['period']['last']}.csv"
        return StreamingHttpResponse(
            (writer.writerow(row) for row in reports.csv_rows(report)),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    query = request.GET.copy()
    query["download"] = "csv"
    return render(
        request,
        "incidents/reports/report.html",
        {"form": form, **figures, "csv_query": query.urlencode()},
    )


# Routes: team channels for non-paging events ---------------------------------------


@require_safe
@permission_required("incidents.view_route", raise_exception=True)
def route_list(request):
    routes = Route.objects.prefetch_related("services").order_by("name")
    return render(
        request,
        "incidents/routes.html",
        {
            "routes": routes,
            "can_edit": request.user.has_perm("incidents.change_route"),
            "can_add": request.user.has_perm("incidents.add_route"),
            "can_delete": request.user.has_perm("incidents.delete_route"),
        },
    )


@permission_required("incidents.add_route", raise_exception=True)
def route_new(request):
    return _route_form(request, Route())


@permission_required("incidents.change_route", raise_exception=True)
def route_edit(request, pk):
    return _route_form(request, get_object_or_404(Route, pk=pk))


def _route_form(request, route: Route):
    form = RouteForm(request.POST or None, instance=route)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Route saved."))
        return redirect("incidents:routes")
    return render(
        request,
        "incidents/route_form.html",
        {"form": form, "route": route},
        status=400 if form.errors else 200,
    )


@require_POST
@permission_required("incidents.delete_route", raise_exception=True)
def route_delete(request, pk):
    route = get_object_or_404(Route, pk=pk)
    route.delete()
    messages.success(request, _("Route %(name)s deleted.") % {"name": route.name})
    return redirect("incidents:routes")
