"""Probe pages. Login is required everywhere by middleware; writes check the role."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.charts import line_chart
from core.errors import DomainError
from probes import services
from probes.forms import HostForm, ProbeForm
from probes.kinds import default_thresholds, value_unit
from probes.models import HOST_KINDS, SPARKLINE_HOURS, Host, Kind, Probe, Status
from probes.serializers import ping_url

GRID_PAGE_SIZE = 100
RESULTS_PAGE_SIZE = 50


def get_probe(pk) -> Probe:
    return get_object_or_404(Probe.objects.select_related("service", "incident", "host"), pk=pk)


def what_is_charted(probe: Probe) -> str:
    if probe.charts_latency:
        return _("Latency over the last 24 hours")
    return _("Value over the last 24 hours")


def with_unit(unit: str):
    def fmt(value: float) -> str:
        return f"{floatformat(value, -1)} {unit}".strip()

    return fmt


def sparkline(probe: Probe, now, unit: str) -> dict | None:
    """The grid's small line of the last 24 hourly means, from the probe row itself (no query)."""
    values = probe.sparkline(now)
    top = max((v for v in values if v is not None), default=0.0)
    most = _("up to %(top)s %(unit)s") % {"top": floatformat(max(top, 0.0), -1), "unit": unit}
    title = f"{what_is_charted(probe)}, {most}".strip()
    return line_chart(values, title=title, width=96, height=24)


@require_safe
@permission_required("probes.view_probe", raise_exception=True)
def probe_grid(request):
    now = timezone.now()
    probes = Probe.objects.select_related("service").worst_first()
    page = Paginator(probes, GRID_PAGE_SIZE).get_page(request.GET.get("page"))
    cards = []
    for probe in page:
        unit = value_unit(probe.kind, probe.config)
        cards.append(
            {
                "probe": probe,
                # Labels by enum lookup, without a get_FOO_display() call per card.
                "kind": Kind(probe.kind).label,
                "status": Status(probe.status).label,
                "spark": sparkline(probe, now, unit),
                "unit": unit,
            }
        )
    return render(
        request,
        "probes/grid.html",
        {
            "page": page,
            "cards": cards,
            "now": now,
            "can_add": request.user.has_perm("probes.add_probe"),
        },
    )


@require_safe
@permission_required("probes.view_probe", raise_exception=True)
def probe_detail(request, pk):
    probe = get_probe(pk)
    now = timezone.now()
    results = Paginator(probe.results.order_by("-at", "-id"), RESULTS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    unit = value_unit(probe.kind, probe.config)
    # An hour's label is its start, except the last one, which is the hour so far: "until now".
    hours = [now - timedelta(hours=SPARKLINE_HOURS - 1 - n) for n in range(SPARKLINE_HOURS)]
    labels = [date_format(localtime(hour), "H:00") for hour in hours[:-1]]
    labels.append(date_format(localtime(now), "H:i"))
    context = {
        "probe": probe,
        "page": results,
        "now": now,
        "chart": line_chart(
            probe.sparkline(now),
            title=what_is_charted(probe),
            width=480,
            height=160,
            fmt=with_unit(unit),
            labels=labels,
        ),
        "unit": unit,
        # The thresholds it is judged by (its own or its kind's), in their unit: "warning 70 %".
        "limits": services.limits_of(probe),
        "limits_unit": default_thresholds(probe.kind, probe.config)[2],
        # The ping URL is the heartbeat's credential: only those who may change the probe see it.
        "ping_url": ping_url(probe)
        if probe.is_heartbeat and request.user.has_perm("probes.change_probe")
        else "",
        "can_run": request.user.has_perm("probes.run_probe")
        and not probe.is_heartbeat
        and not probe.on_host,
        "can_change": request.user.has_perm("probes.change_probe"),
        "maintenance": [
            {"window": window, "active": window.is_active(now), "next": window.next_occurrence(now)}
            for window in probe.service.recurring_maintenance_windows.filter(active=True)
        ],
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
        # The banner's colour follows the result: a failed run is no success.
        say = {Status.OK: messages.success, Status.WARNING: messages.warning}.get(
            result.status, messages.error
        )
        say(
            request,
            _("Ran now: %(status)s. %(message)s")
            % {"status": result.get_status_display(), "message": result.shown_message},
        )
    return redirect(probe)


@require_safe
@permission_required("probes.add_probe", raise_exception=True)
def probe_choose_kind(request):
    # A host's checks are added from its page: this list is the portal's own kinds.
    return render(
        request,
        "probes/choose_kind.html",
        {"kinds": [(value, label) for value, label in Kind.choices if value not in HOST_KINDS]},
    )


@permission_required("probes.add_probe", raise_exception=True)
def probe_create(request, kind):
    if kind not in Kind.values:
        raise Http404
    probe = Probe()
    host_id = request.GET.get("host", "")
    if kind in HOST_KINDS and host_id.isdigit():
        # from the host's page: its host and service preset
        host = get_object_or_404(Host, pk=host_id)
        probe.host, probe.service = host, host.service
    return _edit(request, probe, kind)


@permission_required("probes.change_probe", raise_exception=True)
def probe_edit(request, pk):
    probe = get_probe(pk)
    return _edit(request, probe, probe.kind)


def _edit(request, probe, kind):
    initial = (
        {"host": probe.host_id, "service": probe.service_id}
        if probe.host_id and not probe.pk
        else {}
    )
    form = ProbeForm(request.POST or None, instance=probe, kind=kind, initial=initial)
    if request.method == "POST" and form.is_valid():
        probe = form.save(commit=False)
        probe.reschedule(timezone.now())
        probe.save()
        messages.success(request, _("Probe saved."))
        return redirect(probe)
    warning, critical, unit = default_thresholds(kind, probe.config)
    context = {
        "form": form,
        "probe": probe,
        "kind": kind,
        "kind_label": Kind(kind).label,
        "defaults": {"warning": warning, "critical": critical, "unit": unit},
        "config_fields": [form[name] for name in form.config_field_names()],
        "common_fields": [
            form[name] for name in form.fields if name not in form.config_field_names()
        ],
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "probes/form.html", context, status=status)


# Hosts and their agents ------------------------------------------------------------

AGENT_SCRIPT = Path(__file__).resolve().parent / "agent" / "portal_agent.py"


def get_host(pk) -> Host:
    return get_object_or_404(Host.objects.select_related("service", "silent_incident"), pk=pk)


@require_safe
@permission_required("probes.view_host", raise_exception=True)
def host_list(request):
    hosts = Host.objects.select_related("service").annotate(checks=Count("probes")).order_by("name")
    return render(
        request,
        "probes/hosts.html",
        {
            "hosts": hosts,
            "now": timezone.now(),
            "can_add": request.user.has_perm("probes.add_host"),
        },
    )


@require_safe
@permission_required("probes.view_host", raise_exception=True)
def host_detail(request, pk):
    host = get_host(pk)
    probes = host.probes.select_related("service").worst_first()
    kinds = [
        (value, Kind(value).label)
        for value in HOST_KINDS
        if value != Kind.HOST_COMMAND or host.allow_commands
    ]
    return render(
        request,
        "probes/host.html",
        {
            "host": host,
            "probes": probes,
            "now": timezone.now(),
            "kinds": kinds,
            "can_add_probe": request.user.has_perm("probes.add_probe"),
            "can_change": request.user.has_perm("probes.change_host"),
        },
    )


@permission_required("probes.add_host", raise_exception=True)
def host_create(request):
    form = HostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        host = form.save(commit=False)
        token = host.new_token()
        host.save()
        return _show_token(request, host, token, created=True)
    return render(
        request, "probes/host_form.html", {"form": form, "host": None}, status=_form_status(form)
    )


@permission_required("probes.change_host", raise_exception=True)
def host_edit(request, pk):
    host = get_host(pk)
    form = HostForm(request.POST or None, instance=host)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Host saved."))
        return redirect(host)
    return render(
        request, "probes/host_form.html", {"form": form, "host": host}, status=_form_status(form)
    )


@require_POST
@permission_required("probes.change_host", raise_exception=True)
def host_rotate_token(request, pk):
    host = get_host(pk)
    token = host.new_token()
    host.save(update_fields=["token_hash"])
    return _show_token(request, host, token, created=False)


def _show_token(request, host, token, *, created):
    """The one time the token is shown: the page is not cached, and it is not kept anywhere."""
    response = render(
        request,
        "probes/host_token.html",
        {"host": host, "token": token, "created": created, "portal_url": settings.BASE_URL},
    )
    add_never_cache_headers(response)
    return response


@require_safe
@permission_required("probes.change_host", raise_exception=True)
def host_agent(request, pk):
    """The agent script with this portal's address and the host's name filled in (never its
    token)."""
    host = get_host(pk)
    script = AGENT_SCRIPT.read_text(encoding="utf-8")
    script = script.replace('DEFAULT_URL = ""', f"DEFAULT_URL = {settings.BASE_URL!r}", 1)
    script = script.replace('DEFAULT_HOST = ""', f"DEFAULT_HOST = {host.name!r}", 1)
    response = HttpResponse(script, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="portal_agent.py"'
    return response


def _form_status(form) -> int:
    return 400 if form.is_bound and form.errors else 200
