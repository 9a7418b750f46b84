import json

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, permission_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import check_for_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views import defaults, i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    renderer_classes,
    throttle_classes,
)
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from core.languages import remember_language
from core.permissions import HasRole, Public, ScrapeToken
from core.roles import role_of
from portal import audit as audit_trail
from portal import health, metrics, services
from portal.forms import TokenCreateForm, TokenRevokeForm


@require_safe
def dashboard(request):
    """Portal health, then each app's panel (AppConfig.dashboard_panels: template and context
    function)."""
    now = timezone.now()
    panels = []
    for config in apps.get_app_configs():
        for template, function in getattr(config, "dashboard_panels", ()):
            panels.append(
                {"template": template, "context": import_string(function)(request=request, now=now)}
            )
    context = {
        "health": health.collect(),
        "role": role_of(request.user),
        "now": now,
        "panels": panels,
    }
    return render(request, "portal/dashboard.html", context)


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer once a username and address are locked out: the login
    page again, with the reason and when to try again (429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "form": AuthenticationForm(request),
        "locked_out": True,
        "cooloff_minutes": minutes,
        "next": request.POST.get("next", request.GET.get("next", "")),
    }
    return render(request, "registration/login.html", context, status=429)


@login_not_required
@require_POST
def set_language(request):
    """Django's language switch (sets the cookie), which also remembers the choice
    for this session and, when signed in, for the user's next logins."""
    response = i18n.set_language(request)
    language = request.POST.get(i18n.LANGUAGE_QUERY_PARAMETER)
    if language and check_for_language(language):
        remember_language(request, language)
    return response


@require_safe
@never_cache
def api_token(request):
    token = Token.objects.select_related("details").filter(user=request.user).first()
    return render(request, "portal/token.html", {"token": token, "form": TokenCreateForm()})


@never_cache
@require_POST
def api_token_create(request):
    # One token per user: creating again replaces (and so revokes) the old one.
    # The key is shown in this one answer only; later visits show its first
    # characters, so a glance at a screen or a cached page leaks nothing usable.
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        token = Token.objects.select_related("details").filter(user=request.user).first()
        return render(request, "portal/token.html", {"token": token, "form": form}, status=400)
    token = services.create_api_token(user=request.user, lifetime=form.cleaned_data["lifetime"])
    messages.success(request, _("A new API token was created. Any previous token no longer works."))
    return render(
        request,
        "portal/token.html",
        {"token": token, "new_key": token.key, "form": TokenCreateForm()},
    )


@require_POST
def api_token_revoke(request):
    if services.revoke_api_token(user=request.user):
        messages.success(request, _("Your API token was revoked."))
    return redirect("api-token")


@require_safe
@never_cache
@permission_required("portal.manage_api_tokens", raise_exception=True)
def api_tokens(request):
    """Every token that still works: whose, since when, last used, until when. Never the key."""
    tokens = services.active_api_tokens()
    return render(request, "portal/tokens.html", {"tokens": tokens})


@require_POST
@permission_required("portal.manage_api_tokens", raise_exception=True)
def api_tokens_revoke(request):
    form = TokenRevokeForm(request.POST)
    if form.is_valid():
        user = form.cleaned_data["user"]
        services.revoke_api_token(user=user)
        messages.success(request, _("The API token of %(user)s was revoked.") % {"user": user})
    else:
        messages.error(request, _("That token was already revoked."))
    return redirect("api-tokens")


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
        "heartbeat_age_seconds": serializers.DictField(
            child=serializers.FloatField(allow_null=True)
        ),
        "disk_free_gb": serializers.FloatField(),
        "processes": serializers.DictField(
            child=inline_serializer(
                "HealthProcess",
                {
                    "running": serializers.BooleanField(),
                    "restarts": serializers.IntegerField(),
                    "exit_code": serializers.IntegerField(required=False),
                },
            ),
            help_text=gettext_lazy(
                "The processes `manage.py serve` supervises (web, workers, "
                "long-workers); empty when the portal runs under another supervisor."
            ),
        ),
        "time": serializers.DateTimeField(),
    },
)


@extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, auth=[])
@login_not_required
@never_cache
@api_view(["GET"])
# Nobody is authenticated: a browser's session cookie would make DRF load the
# session from the database, and health must answer 503, not 500, when it is down.
@authentication_classes([])
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
@permission_classes([HasRole | ScrapeToken])
def api_metrics(request):
    """Prometheus text format. Scrape with a user's token (`Authorization: Token <key>`, any role)
    or the scrape token (`Authorization: Bearer <PORTAL_METRICS_TOKEN>`)."""
    return Response(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


@require_safe
@permission_required("portal.view_audit", raise_exception=True)
def audit(request):
    """Who changed what, newest first, filterable by kind of object and by user ("system":
    background tasks)."""
    # "by", not "user": the base layout reads `user` as the logged-in person (menu, account).
    model, by = request.GET.get("model", ""), request.GET.get("user", "")
    models = audit_trail.audited_models()
    if model not in models:
        model = ""
    if by != audit_trail.SYSTEM and not by.isdigit():
        by = ""
    page = Paginator(audit_trail.changes(model=model, user=by), 50).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "entries": audit_trail.entries(list(page)),
        "model": model,
        "by": by,
        "models": [(label, m._meta.verbose_name) for label, m in models.items()],
        "users": get_user_model().objects.order_by("username").values_list("pk", "username"),
        "system": audit_trail.SYSTEM,
    }
    return render(request, "portal/audit.html", context)


def page_not_found(request, exception):
    """404: JSON under /api/ (an API client parses the answer, e.g. /api/v1/incidents/1.5), the
    page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {"detail": _("Not found."), "code": "not_found", "codes": ["not_found"]}, status=404
        )
    return defaults.page_not_found(request, exception)
