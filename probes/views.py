"""Probe pages. Login is required everywhere by middleware; writes check the role."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from portal.errors import DomainError
from probes import services
from probes.forms import ProbeForm
from probes.kinds import DEFAULT_THRESHOLDS
from probes.models import Kind, Probe
from probes.serializers import ping_url

GRID_PAGE_SIZE = 100
RESULTS_PAGE_SIZE = 50


def get_probe(pk) -> Probe:
    return get_object_or_404(Probe.objects.select_related("service", "incident"), pk=pk)


def sparkline_points(values: list[float | None], *, width: int, height: int) -> str:
    """SVG polyline points for hourly means; empty hours are skipped, the scale starts at 0."""
    top = max((v for v in values if v is not None), default=0) or 1
    step = width / max(1, len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - (v / top) * (height - 2) - 1:.1f}"
                    for i, v in enumerate(values) if v is not None)


@require_safe
@permission_required("probes.view_probe", raise_exception=True)
def probe_grid(request):
    now = timezone.now()
    probes = Probe.objects.select_related("service").worst_first()
    page = Paginator(probes, GRID_PAGE_SIZE).get_page(request.GET.get("page"))
    cards = [{"probe": probe, "spark": sparkline_points(probe.sparkline(now), width=96, height=24)}
             for probe in page]
    return render(request, "probes/grid.html", {"page": page, "cards": cards, "now": now,
                                                "can_add": request.user.has_perm("probes.add_probe")})


@require_safe
@permission_required("probes.view_probe", raise_exception=True)
def probe_detail(request, pk):
    probe = get_probe(pk)
    now = timezone.now()
    results = Paginator(probe.results.order_by("-at", "-id"), RESULTS_PAGE_SIZE).get_page(request.GET.get("page"))
    history = probe.sparkline(now)
    context = {
        "probe": probe, "page": results, "now": now,
        "chart": sparkline_points(history, width=480, height=80),
        "chart_max": max((v for v in history if v is not None), default=None),
        # The ping URL is the heartbeat's credential: only those who may change the probe see it.
        "ping_url": ping_url(probe) if probe.is_heartbeat and request.user.has_perm("probes.change_probe") else "",
        "can_run": request.user.has_perm("probes.run_probe") and not probe.is_heartbeat,
        "can_change": request.user.has_perm("probes.change_probe"),
        "maintenance": [{"window": window, "active": window.is_active(now), "next": window.next_occurrence(now)}
                        for window in probe.service.recurring_maintenance_windows.filter(active=True)],
    }
    return render(request, "probes/detail.html", context)


@require_POST
@permission_required("probes.run_probe", raise_exception=True)
def probe_run(request, pk):
    probe = get_probe(pk)
    try:
        result = services.run_probe(probe=probe)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Ran now: %(status)s. %(message)s") % {
            "status": result.get_status_display(), "message": result.message})
    return redirect(probe)


@require_safe
@permission_required("probes.add_probe", raise_exception=True)
def probe_choose_kind(request):
    return render(request, "probes/choose_kind.html", {"kinds": Kind.choices})


@permission_required("probes.add_probe", raise_exception=True)
def probe_create(request, kind):
    if kind not in Kind.values:
        raise Http404
    return _edit(request, Probe(), kind)


@permission_required("probes.change_probe", raise_exception=True)
def probe_edit(request, pk):
    probe = get_probe(pk)
    return _edit(request, probe, probe.kind)


def _edit(request, probe, kind):
    form = ProbeForm(request.POST or None, instance=probe, kind=kind)
    if request.method == "POST" and form.is_valid():
        probe = form.save(commit=False)
        probe.reschedule(timezone.now())
        probe.save()
        messages.success(request, _("Probe saved."))
        return redirect(probe)
    warning, critical, unit = DEFAULT_THRESHOLDS.get(kind, (None, None, ""))
    context = {"form": form, "probe": probe, "kind": kind, "kind_label": Kind(kind).label,
               "defaults": {"warning": warning, "critical": critical, "unit": unit},
               "config_fields": [form[name] for name in form.config_field_names()],
               "common_fields": [form[name] for name in form.fields if name not in form.config_field_names()]}
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "probes/form.html", context, status=status)
