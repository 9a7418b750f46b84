"""Incident pages. Login is required everywhere by middleware; writes check the role."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incidents import services
from incidents.forms import DeclareIncidentForm, IncidentFilterForm, NoteForm, ReopenForm
from incidents.models import Availability, Contact, Incident, Tier
from portal.errors import DomainError

PAGE_SIZE = 50
TIMELINE_LIMIT = 300

TRANSITIONS = {
    "acknowledge": services.acknowledge,
    "mitigate": services.mitigate,
    "resolve": services.resolve,
    "close": services.close,
}


def get_incident(pk) -> Incident:
    return get_object_or_404(
        Incident.objects.select_related("service", "commander", "acknowledged_by", "resolved_by"), pk=pk)


@permission_required("incidents.view_incident", raise_exception=True)
def incident_list(request):
    form = IncidentFilterForm(request.GET or None)
    incidents = Incident.objects.open_first().select_related("service")
    if form.is_bound:
        form.is_valid()
        incidents = form.filter(incidents)
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "incidents/list.html", {"form": form, "page": page, "now": timezone.now()})


@permission_required("incidents.add_incident", raise_exception=True)
def incident_declare(request):
    form = DeclareIncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident, created = services.open_incident(by=request.user, source="manual", **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if created:
                messages.success(request, _("Incident declared. The escalation policy is running."))
            else:
                messages.info(request, _("An open incident with the same key exists; your report was added to it."))
            return redirect(incident)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "incidents/declare.html", {"form": form}, status=status)


@permission_required("incidents.view_incident", raise_exception=True)
def incident_detail(request, pk):
    return render_detail(request, get_incident(pk))


def render_detail(request, incident, *, note_form=None, status=200):
    recent = list(incident.events.select_related("actor_user", "actor_contact").order_by("-at", "-id")
                  [:TIMELINE_LIMIT + 1])
    can_change = request.user.has_perm("incidents.change_incident")
    context = {
        "incident": incident,
        "events": list(reversed(recent[:TIMELINE_LIMIT])),
        "events_truncated": len(recent) > TIMELINE_LIMIT,
        "next_steps": incident.allowed_actions() if can_change else [],
        "can_note": request.user.has_perm("incidents.add_timelineevent"),
        "note_form": note_form or NoteForm(),
        "reopen_form": ReopenForm(),
        "now": timezone.now(),
    }
    return render(request, "incidents/detail.html", context, status=status)


@permission_required("incidents.view_incident", raise_exception=True)
def incident_acknowledge(request, pk):
    """The one-click link of a page: GET only asks, POST acknowledges."""
    incident = get_incident(pk)
    if request.method == "POST":
        if not request.user.has_perm("incidents.change_incident"):
            raise PermissionDenied
        return _apply(request, incident, "acknowledge")
    can_change = request.user.has_perm("incidents.change_incident")
    return render(request, "incidents/acknowledge.html", {"incident": incident, "can_change": can_change,
                                                          "now": timezone.now()})


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def incident_transition(request, pk, name):
    return _apply(request, get_incident(pk), name)


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
        messages.success(request, _("Incident #%(id)s is now %(status)s.")
                         % {"id": incident.pk, "status": incident.get_status_display()})
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


@permission_required("incidents.view_contact", raise_exception=True)
def who_to_call(request):
    now = timezone.now()
    active = Contact.objects.filter(active=True).order_by("name")
    tiers = Tier.objects.prefetch_related(Prefetch("contacts", queryset=active)).order_by("level")
    rows = []
    for tier in tiers:
        reachable, off_duty = [], 0
        for contact in tier.contacts.all():
            if contact.availability == Availability.BUSINESS_HOURS and not contact.is_working(now):
                off_duty += 1
            else:
                reachable.append({"contact": contact,
                                  "emergency_only": contact.availability == Availability.EMERGENCY_ONLY})
        rows.append({"tier": tier, "contacts": reachable, "off_duty": off_duty})
    return render(request, "incidents/who_to_call.html", {"rows": rows, "now": now})
