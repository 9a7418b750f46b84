"""REST API of the alerts app: integrations (CRUD, rotate, deliveries) and the intake URL senders
post to."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from alerts import payloads, services
from alerts.models import Integration
from alerts.serializers import DeliverySerializer, IntegrationSerializer
from core.filters import FilterSet
from core.permissions import Public
from core.schema import ErrorSerializer

DELIVERIES_SHOWN = 50


class IntegrationFilter(FilterSet):
    class Meta:
        model = Integration
        fields = ["kind", "enabled", "default_service"]


class IntegrationViewSet(viewsets.ModelViewSet):
    """Alert integrations. The `url` (the credential) is shown to managers only; `rotate`
    replaces it."""

    queryset = Integration.objects.select_related("default_service").order_by("name")
    serializer_class = IntegrationSerializer
    filterset_class = IntegrationFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    action_permissions = {
        "rotate": "alerts.change_integration",
        "deliveries": "alerts.change_integration",
    }

    @extend_schema(request=None, responses={200: IntegrationSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """A new URL for the integration; the old one answers 404 from now on."""
        integration = services.rotate_token(integration=self.get_object())
        return Response(self.get_serializer(integration).data)

    @extend_schema(request=None, responses={200: DeliverySerializer(many=True)})
    # the latest few
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def deliveries(self, request, pk=None):
        """The latest requests to the integration's URL, accepted or refused, with what arrived."""
        rows = self.get_object().deliveries.order_by("-received_at", "-id")[:DELIVERIES_SHOWN]
        return Response(DeliverySerializer(rows, many=True).data)


IntakeAnswer = inline_serializer(
    "AlertIntakeAnswer",
    {
        "alerts": serializers.IntegerField(
            help_text=gettext_lazy("Alerts in the delivery (one per fingerprint).")
        ),
        "outcomes": serializers.DictField(
            child=serializers.IntegerField(),
            help_text=gettext_lazy("How many alerts had each outcome."),
        ),
        "incidents": serializers.ListField(
            child=serializers.IntegerField(),
            help_text=gettext_lazy("The incidents the alerts belong to."),
        ),
    },
)


@extend_schema(
    request=PolymorphicProxySerializer(
        "AlertPayload",
        [payloads.PrometheusWebhook, payloads.GrafanaWebhook, payloads.GenericAlert],
        resource_type_field_name=None,
    ),
    auth=[],
    responses={
        200: IntakeAnswer,
        400: OpenApiResponse(
            ErrorSerializer, description=gettext_lazy("Malformed JSON or a bad field.")
        ),
        404: OpenApiResponse(description=gettext_lazy("No integration has this URL.")),
        413: OpenApiResponse(ErrorSerializer, description=gettext_lazy("The body is too large.")),
        410: OpenApiResponse(
            ErrorSerializer, description=gettext_lazy("The integration is disabled.")
        ),
    },
)
@login_not_required
@never_cache
@api_view(["POST"])
@authentication_classes([])
@permission_classes([Public])  # the token in the URL is the credential
def intake(request, token):
    """Alerts from Prometheus Alertmanager (webhook v4), Grafana alerting (webhook contact point)
    or the generic JSON shape, as the integration's kind says. Answers once the alerts are
    recorded; paging happens in the background."""
    integration = (
        Integration.objects.select_related("default_service").filter(token=token).order_by().first()
    )
    if integration is None:
        raise Http404
    try:
        body = request.body
    except RequestDataTooBig:
        # over DATA_UPLOAD_MAX_MEMORY_SIZE, below the site's 413 (PORTAL_MAX_UPLOAD_MB)
        detail = {
            "detail": _("The body is larger than %(limit)d bytes; send fewer alerts at once.")
            % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
            "code": "too_large",
        }
        services.record_delivery(
            integration=integration,
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            body=b"",
            errors=detail,
        )
        return Response(detail, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if not integration.enabled:
        detail = {"detail": _("This integration is disabled."), "code": "disabled"}
        services.record_delivery(
            integration=integration, status_code=status.HTTP_410_GONE, body=body, errors=detail
        )
        return Response(detail, status=status.HTTP_410_GONE)
    try:
        alerts = payloads.parse(integration.kind, request.data)
    except APIException as error:
        detail = error.detail if isinstance(error.detail, dict | list) else {"detail": error.detail}
        services.record_delivery(
            integration=integration, status_code=error.status_code, body=body, errors=detail
        )
        raise
    with transaction.atomic():  # one commit for the alerts and the record of the delivery
        summary = services.ingest(integration=integration, alerts=alerts)
        services.record_delivery(
            integration=integration,
            status_code=status.HTTP_200_OK,
            body=body,
            alert_count=len(alerts),
        )
    return Response(summary)
