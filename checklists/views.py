"""Checklist pages. Login is required everywhere by middleware; writes check the role.

The run page is made for a phone: each item is a form posting to its tick URL.
With JavaScript a few lines of fetch() send the same form and swap the item in
place (JSON answer); without it the browser posts and is redirected back.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from checklists import importer, services
from checklists.forms import (
    HandoverForm,
    ImportChoicesForm,
    ImportUploadForm,
    OpenIncidentForm,
    PlaybookForm,
    StartRunForm,
    TickForm,
)
from checklists.markdown import render as render_markdown
from checklists.models import (
    ACTIVE_STATUSES,
    HandoverNote,
    Item,
    ItemState,
    Playbook,
    Run,
    RunItem,
    RunStatus,
    Template,
)
from core import panels
from core.errors import DomainError
from incidents.models import Incident

PAGE_SIZE = 50
HANDOVERS_SHOWN = 3
IMPORT_SESSION_KEY = "checklists_import"
# A dry run shows this many sections per page: a runbook at the caps rendered whole was 26 MB of
# HTML.
IMPORT_PAGE_SIZE = 50


def get_run(pk) -> Run:
    items = RunItem.objects.select_related("probe", "by", "incident").order_by("position", "id")
    return get_object_or_404(
        Run.objects.select_related(
            "template",
            "template__service",
            "incident",
            "assignee_tier",
            "assignee_contact",
            "assignee_group",
            "completed_by",
            "started_by",
        ).prefetch_related(Prefetch("items", queryset=items)),
        pk=pk,
    )


def get_run_item(run_pk, item_pk) -> RunItem:
    return get_object_or_404(
        RunItem.objects.select_related("run", "run__template", "probe"), pk=item_pk, run_id=run_pk
    )


def pending_handovers(exclude_run: Run | None = None):
    notes = HandoverNote.objects.filter(acknowledged_at__isnull=True).select_related(
        "run", "author"
    )
    if exclude_run is not None:
        notes = notes.exclude(run=exclude_run)
    return list(notes.order_by("-created_at", "-id")[:HANDOVERS_SHOWN])


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_safe
@permission_required("checklists.view_run", raise_exception=True)
def my_shift(request):
    runs = (
        Run.objects.active()
        .for_user(request.user)
        .select_related("template")
        .with_progress()
        .overdue_first()[:PAGE_SIZE]
    )
    now = timezone.now()
    return render(
        request,
        "checklists/my_shift.html",
        {
            "runs": list(runs),
            "handovers": pending_handovers(),
            "now": now,
            "can_ack": request.user.has_perm("checklists.change_handovernote"),
            "panels": panels.collect("my_shift", request=request, now=now),
        },
    )


@require_safe
@permission_required("checklists.view_run", raise_exception=True)
def run_list(request):
    status = request.GET.get("status", "")
    runs = Run.objects.select_related("template").with_progress()
    if status in RunStatus.values:
        runs = runs.filter(status=status)
    runs = runs.overdue_first() if status in ("", *ACTIVE_STATUSES) else runs.order_by("-id")
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "checklists/run_list.html",
        {"page": page, "status": status, "statuses": RunStatus.choices, "now": timezone.now()},
    )


@require_safe
@permission_required("checklists.view_run", raise_exception=True)
def run_detail(request, pk):
    return render_run(request, get_run(pk))


def _related_incidents(run, items) -> list:
    """What a failed item without an incident shows: the open incidents of the checklist's
    service."""
    if not any(item.state == ItemState.FAILED and not item.incident_id for item in items):
        return []
    return services.related_open_incidents(
        service=run.template.service, category=run.template.incident_category
    )


def render_run(request, run, *, status=200, tick_errors=None):
    items = list(run.items.all())
    can_tick = request.user.has_perm("checklists.change_run") and run.is_active()
    handled = sum(1 for i in items if i.is_handled())
    context = {
        "run": run,
        "items": items,
        "handled": handled,
        "total": len(items),
        "open_required": [i for i in items if i.required and i.state == ItemState.OPEN],
        "can_tick": can_tick,
        "tick_errors": tick_errors or {},
        "related_incidents": _related_incidents(run, items),
        "can_open_incident": request.user.has_perm("incidents.add_incident")
        and run.template.service_id,
        "states": TickForm.base_fields["state"].choices,
        "handovers": pending_handovers(exclude_run=run) if run.template.is_shift() else [],
        "can_ack": request.user.has_perm("checklists.change_handovernote"),
        "now": timezone.now(),
    }
    return render(request, "checklists/run_detail.html", context, status=status)


def _item_response(request, run_item, *, error: DomainError | None = None, field_errors=None):
    """JSON for the fetch() caller, a redirect (with a message) for a plain form post."""
    run = run_item.run
    if wants_json(request):
        if error is not None or field_errors:
            # Per field, so the page shows each message next to its field (the reason for a skip).
            errors = (
                {error.field or "__all__": [error.message]}
                if error is not None
                else {field: [str(e) for e in errs] for field, errs in field_errors.items()}
            )
            message = " ".join(e for errs in errors.values() for e in errs)
            status = 409 if error is not None and error.conflict else 400
            return JsonResponse({"error": message, "errors": errors}, status=status)
        item = RunItem.objects.select_related("probe", "by", "incident").get(pk=run_item.pk)
        counts = list(RunItem.objects.filter(run=run).values_list("state", "required"))
        html = render_to_string(
            "checklists/_run_item.html",
            {
                "run": run,
                "item": item,
                "can_tick": True,
                "states": TickForm.base_fields["state"].choices,
                "related_incidents": _related_incidents(run, [item]),
                "can_open_incident": request.user.has_perm("incidents.add_incident")
                and run.template.service_id,
            },
            request=request,
        )
        handled = sum(1 for state, _required in counts if state != ItemState.OPEN)
        # The "n required items are still open" hint changes with each tick too.
        open_required = sum(1 for state, required in counts if required and state == ItemState.OPEN)
        return JsonResponse(
            {
                "html": html,
                "handled": handled,
                "total": len(counts),
                "progress": _("%(handled)d / %(total)d handled")
                % {"handled": handled, "total": len(counts)},
                "open_required": ngettext(
                    "%(counter)s required item is still open.",
                    "%(counter)s required items are still open.",
                    open_required,
                )
                % {"counter": open_required}
                if open_required
                else "",
            }
        )
    if error is not None:
        messages.error(request, error.message)
    elif field_errors:
        messages.error(request, " ".join(str(e) for errs in field_errors.values() for e in errs))
    return redirect(f"{reverse('checklists:run', args=[run.pk])}#item-{run_item.pk}")


@require_POST
@permission_required("checklists.change_run", raise_exception=True)
def run_tick(request, pk, item_pk):
    run_item = get_run_item(pk, item_pk)
    if request.POST.get("from_probe"):
        try:
            services.tick_from_probe(run_item=run_item, by=request.user)
        except DomainError as exc:
            return _item_response(request, run_item, error=exc)
        return _item_response(request, run_item)
    form = TickForm(request.POST)
    if not form.is_valid():
        return _item_response(request, run_item, field_errors=form.errors)
    try:
        services.tick(run_item=run_item, by=request.user, **form.cleaned_data)
    except DomainError as exc:
        return _item_response(request, run_item, error=exc)
    return _item_response(request, run_item)


@require_POST
@permission_required("checklists.change_run", raise_exception=True)
def run_untick(request, pk, item_pk):
    run_item = get_run_item(pk, item_pk)
    try:
        services.untick(run_item=run_item, by=request.user)
    except DomainError as exc:
        return _item_response(request, run_item, error=exc)
    return _item_response(request, run_item)


@permission_required("checklists.change_run", raise_exception=True)
def run_complete(request, pk):
    run = get_run(pk)
    wants_handover = run.wants_handover()
    initial = services.handover_initial() if wants_handover and request.method == "GET" else None
    form = HandoverForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.complete_run(
                run=run, by=request.user, handover=form.cleaned_data if wants_handover else None
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return render_run(request, get_run(pk), status=409 if exc.conflict else 400)
        messages.success(request, _("Checklist completed."))
        return redirect(run)
    return render(
        request,
        "checklists/complete.html",
        {
            "run": run,
            "form": form,
            "wants_handover": wants_handover,
            "open_incidents": services.open_incident_summary() if wants_handover else [],
            "open_required": run.open_required(),
        },
    )


@permission_required("incidents.add_incident", raise_exception=True)
def run_open_incident(request, pk, item_pk):
    run_item = get_run_item(pk, item_pk)
    template = run_item.run.template
    form = OpenIncidentForm(
        request.POST or None,
        initial={
            "title": services.default_incident_title(run_item),
            "category": template.incident_category,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            incident, _created = services.open_incident_for_item(
                run_item=run_item, by=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, _("Incident #%(id)d opened for this item.") % {"id": incident.pk}
            )
            return redirect(incident)
    status = 400 if form.is_bound and form.errors else 200
    category = (
        form.cleaned_data.get("category", "")
        if form.is_bound and form.is_valid()
        else (form["category"].value() or "")
    )
    return render(
        request,
        "checklists/open_incident.html",
        {
            "run": run_item.run,
            "item": run_item,
            "form": form,
            "description": services.default_incident_description(run_item),
            "related_incidents": services.related_open_incidents(
                service=template.service, category=category
            ),
        },
        status=status,
    )


@require_POST
@permission_required("checklists.change_handovernote", raise_exception=True)
def handover_acknowledge(request, pk):
    note = get_object_or_404(HandoverNote, pk=pk)
    try:
        services.acknowledge_handover(note=note, by=request.user)
    except DomainError as exc:
        messages.info(request, exc.message)
    else:
        messages.success(request, _("Handover acknowledged."))
    return redirect(
        request.POST.get("next") if _safe_next(request) else reverse("checklists:my-shift")
    )


def _safe_next(request) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    )


@require_POST
@permission_required("checklists.add_run", raise_exception=True)
def start_for_incident(request, incident_pk):
    incident = get_object_or_404(Incident, pk=incident_pk)
    form = StartRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an incident or recovery checklist."))
        return redirect(incident)
    try:
        run = services.start_run(
            template=form.cleaned_data["template"], by=request.user, incident=incident
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(incident)
    return redirect(run)


@require_safe
@permission_required("checklists.view_template", raise_exception=True)
def template_list(request):
    templates = Template.objects.select_related("service", "assignee_tier").order_by(
        "-active", "kind", "name"
    )
    return render(request, "checklists/template_list.html", {"templates": templates})


@require_safe
@permission_required("checklists.view_template", raise_exception=True)
def template_detail(request, pk):
    template = get_object_or_404(
        Template.objects.select_related(
            "service", "assignee_tier", "assignee_contact", "assignee_group"
        ),
        pk=pk,
    )
    items = (
        Item.objects.filter(template=template)
        .select_related("section", "probe")
        .order_by("section__position", "section_id", "position", "id")
    )
    runs = template.runs.with_progress().order_by("-id")[:10]
    return render(
        request,
        "checklists/template_detail.html",
        {"template": template, "items": items, "runs": runs},
    )


@require_safe
@permission_required("checklists.view_playbook", raise_exception=True)
def playbook_list(request):
    playbooks = Playbook.objects.select_related("service", "template").order_by("title")
    return render(request, "checklists/playbook_list.html", {"playbooks": playbooks})


@require_safe
@permission_required("checklists.view_playbook", raise_exception=True)
def playbook_detail(request, pk):
    playbook = get_object_or_404(Playbook.objects.select_related("service", "template"), pk=pk)
    return render(
        request,
        "checklists/playbook_detail.html",
        {"playbook": playbook, "html": render_markdown(playbook.body)},
    )


def playbook_edit(request, pk=None):
    playbook = get_object_or_404(Playbook, pk=pk) if pk else None
    needed = "checklists.change_playbook" if playbook else "checklists.add_playbook"
    if not request.user.has_perm(needed):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    form = PlaybookForm(request.POST or None, instance=playbook)
    preview = None
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = render_markdown(form.cleaned_data["body"])
        else:
            playbook = form.save()
            messages.success(request, _("Playbook saved."))
            return redirect(playbook)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "checklists/playbook_form.html",
        {"form": form, "playbook": playbook, "preview": preview},
        status=status,
    )


@permission_required("checklists.add_template", raise_exception=True)
def import_runbook(request):
    """Upload → dry run with a choice per section → import. The file waits in the session between
    steps."""
    upload = ImportUploadForm()
    if request.method == "POST" and "file" in request.FILES:
        upload = ImportUploadForm(request.POST, request.FILES)
        if upload.is_valid():
            data = upload.cleaned_data["file"].read(importer.max_bytes() + 1)
            name = upload.cleaned_data["file"].name
            try:
                plan = importer.read_runbook(data, filename=name)
            except importer.RunbookError as exc:
                return render(
                    request,
                    "checklists/import.html",
                    {"upload": upload, "problems": exc.problems},
                    status=400,
                )
            service = upload.cleaned_data["service"]
            request.session[IMPORT_SESSION_KEY] = {
                "name": name,
                "text": data.decode("utf-8-sig"),
                "service": service.pk if service else None,
            }
            return _import_page(request, plan, ImportChoicesForm(plan=plan), service)
    elif request.method == "POST":
        stored = request.session.get(IMPORT_SESSION_KEY)
        if not stored:
            messages.error(request, _("Upload the runbook again: the previous upload has expired."))
            return redirect("checklists:import")
        plan = importer.read_runbook(stored["text"].encode(), filename=stored["name"])
        from incidents.models import Service

        service = (
            Service.objects.filter(pk=stored["service"]).first() if stored["service"] else None
        )
        choices = ImportChoicesForm(request.POST, plan=plan)
        if "page" in request.POST:  # the pager: the same choices, another page of the dry run
            return _import_page(request, plan, choices, service, page=request.POST["page"])
        if choices.is_valid():
            try:
                plan.override(choices.choices())
                result = importer.import_plan(plan=plan, service=service)
            except importer.RunbookError as exc:
                return _import_page(
                    request, plan, choices, service, problems=exc.problems, status=400
                )
            del request.session[IMPORT_SESSION_KEY]
            messages.success(
                request,
                _("Imported: %(c)d created, %(u)d updated, %(n)d unchanged.")
                % {"c": len(result.created), "u": len(result.updated), "n": len(result.unchanged)},
            )
            return redirect("checklists:templates")
        wrong = next(
            (n for n, row in enumerate(choices.bound_rows()) if row["cron"] and row["cron"].errors),
            0,
        )
        return _import_page(
            request, plan, choices, service, page=wrong // IMPORT_PAGE_SIZE + 1, status=400
        )
    return render(
        request, "checklists/import.html", {"upload": upload}, status=400 if upload.errors else 200
    )


def _import_page(request, plan, choices, service, *, page=1, problems=None, status=200):
    """One page of the dry run; the choices of the other pages ride along as hidden fields."""
    rows = list(choices.bound_rows())
    page = Paginator(rows, IMPORT_PAGE_SIZE).get_page(page)
    first = page.start_index() - 1
    hidden = rows[:first] + rows[first + len(page.object_list) :]
    return render(
        request,
        "checklists/import.html",
        {
            "plan": plan,
            "choices": choices,
            "service": service,
            "page": page,
            "hidden_rows": hidden,
            "problems": problems,
        },
        status=status,
    )
