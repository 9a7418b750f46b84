import json

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.decorators import api_view, permission_classes, renderer_classes, throttle_classes
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from portal import health, metrics
from portal.permissions import Public
from portal.roles import role_of


def dashboard(request):
    """Portal health, then each app's panel (AppConfig.dashboard_panels: template and context function)."""
    now = timezone.now()
    panels = []
    for config in apps.get_app_configs():
        for template, function in getattr(config, "dashboard_panels", ()):
            panels.append({"template": template, "context": import_string(function)(request=request, now=now)})
    context = {"health": health.collect(), "role": role_of(request.user), "now": now, "panels": panels}
    return render(request, "portal/dashboard.html", context)


@never_cache
def api_token(request):
    token = Token.objects.filter(user=request.user).first()
    return render(request, "portal/token.html", {"token": token})


@require_POST
def api_token_create(request):
    # One token per user: creating again replaces (and so revokes) the old one.
    Token.objects.filter(user=request.user).delete()
    Token.objects.create(user=request.user)
    messages.success(request, _("A new API token was created. Any previous token no longer works."))
    return redirect("api-token")


@require_POST
def api_token_revoke(request):
    deleted, _rows = Token.objects.filter(user=request.user).delete()
    if deleted:
        messages.success(request, _("Your API token was revoked."))
    return redirect("api-token")


HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(["healthy", "degraded", "unhealthy"]),
        "version": serializers.CharField(),
        "uptime_seconds": serializers.FloatField(),
        "database": serializers.CharField(),
        "database_engine": serializers.CharField(),
        "queue": serializers.ChoiceField(["ok", "stale", "unreachable", "unknown"]),
        "queue_broker": serializers.CharField(),
        "heartbeat_age_seconds": serializers.DictField(child=serializers.FloatField(allow_null=True)),
        "disk_free_gb": serializers.FloatField(),
        "time": serializers.DateTimeField(),
    },
)


@extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, auth=[])
@login_not_required
@never_cache
@api_view(["GET"])
@permission_classes([Public])
@throttle_classes([])
def api_health(request):
    """Is the portal alive? No login: load balancers and uptime checks call it."""
    report = health.collect()
    return Response(report, status=503 if report["status"] == "unhealthy" else 200)


class PrometheusRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, (bytes, str)):
            return data
        return json.dumps(data)  # an error body, e.g. 401


@extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
@never_cache
@api_view(["GET"])
@renderer_classes([PrometheusRenderer])
def api_metrics(request):
    """Prometheus text format. Scrape with a token: `Authorization: Token <key>`."""
    return Response(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")
