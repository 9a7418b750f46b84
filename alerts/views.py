"""Integration pages (managers: the URL is a credential) and the alerts panel of the incident
page."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from alerts import services
from alerts.forms import IntegrationForm
from alerts.models import Alert, Integration, Kind
from alerts.serializers import intake_url

DELIVERIES_SHOWN = 20
ALERTS_SHOWN = 50
PANEL_ALERTS = 20


@require_safe
@permission_required("alerts.change_integration", raise_exception=True)
def integration_list(request):
    integrations = Integration.objects.select_related("default_service").order_by("name")
    return render(request, "alerts/list.html", {"integrations": integrations})


@require_safe
@permission_required("alerts.change_integration", raise_exception=True)
def integration_detail(request, pk):
    integration = get_object_or_404(Integration.objects.select_related("default_service"), pk=pk)
    context = {
        "integration": integration,
        "url": intake_url(integration),
        "rules_json": json.dumps(integration.rules, indent=2, ensure_ascii=False),
        "is_prometheus": integration.kind == Kind.ALERTMANAGER,
        "is_grafana": integration.kind == Kind.GRAFANA,
        "alerts": integration.alerts.select_related("incident").order_by("-last_seen_at", "-id")[
            :ALERTS_SHOWN
        ],
        "deliveries": integration.deliveries.order_by("-received_at", "-id")[:DELIVERIES_SHOWN],
    }
    return render(request, "alerts/detail.html", context)


@permission_required("alerts.add_integration", raise_exception=True)
def integration_create(request):
    return _edit(request, Integration())


@permission_required("alerts.change_integration", raise_exception=True)
def integration_edit(request, pk):
    return _edit(request, get_object_or_404(Integration, pk=pk))


def _edit(request, integration):
    form = IntegrationForm(request.POST or None, instance=integration)
    if request.method == "POST" and form.is_valid():
        integration = form.save()
        messages.success(request, _("Integration saved."))
        return redirect(integration)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "alerts/form.html", {"form": form, "integration": integration}, status=status
    )


@require_POST
@permission_required("alerts.change_integration", raise_exception=True)
def integration_rotate(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    services.rotate_token(integration=integration)
    messages.success(
        request, _("A new URL was made; the old one no longer works. Update the sender.")
    )
    return redirect(integration)


def incident_panel(*, incident, user) -> dict:
    """Context for the incident page: the alerts behind it, with labels, annotations and links."""
    alerts = list(
        Alert.objects.filter(incident=incident)
        .select_related("integration")
        .order_by("-last_seen_at", "-id")[:PANEL_ALERTS]
    )
    return {"alerts": alerts}
