"""REST API of the probes app: probes (CRUD + run), results, heartbeat pings."""

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import (
    action,
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from portal.filters import FilterBackend, FilterSet, IsoDateTimeFilter
from portal.pagination import AppendOnlyPagination
from portal.permissions import Public
from portal.schema import ErrorSerializer
from probes import services
from probes.models import Kind, Probe, ProbeResult
from probes.serializers import ProbeResultSerializer, ProbeSerializer


class ProbeFilter(FilterSet):
    class Meta:
        model = Probe
        fields = ["service", "kind", "status", "enabled", "alerting"]


class ProbeViewSet(viewsets.ModelViewSet):
    """Probes, worst status first. `run` checks one now."""

    serializer_class = ProbeSerializer
    filterset_class = ProbeFilter
    search_fields = ["name", "service__name"]
    ordering_fields = ["name", "last_run_at", "last_latency_ms"]
    action_permissions = {"run": "probes.run_probe"}

    def get_queryset(self):
        # The service's name joined in as a column: a Service instance per row cost a tenth of a list.
        return Probe.objects.annotate(service_name=F("service__name")).worst_first()

    def perform_create(self, serializer):
        self.perform_update(serializer)

    def perform_update(self, serializer):
        probe = serializer.save()
        probe.reschedule(timezone.now())
        # An update, not a save: the edit has its history row already, one is enough.
        Probe.objects.filter(pk=probe.pk).update(next_run_at=probe.next_run_at)

    @extend_schema(request=None, responses={200: ProbeResultSerializer,
                                            409: OpenApiResponse(ErrorSerializer,
                                                                 description=_("A heartbeat cannot be run."))})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Run the probe now (bounded by its timeout) and return the result."""
        result = services.run_probe(probe=self.get_object())
        return Response(ProbeResultSerializer(result).data)


class ResultFilter(FilterSet):
    after = IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = ProbeResult
        fields = ["probe", "status"]


class ResultPagination(AppendOnlyPagination):
    ordering = ("-at", "-id")


class ProbeResultViewSet(viewsets.ReadOnlyModelViewSet):
    """Probe results, newest first; append-only, paged by cursor."""

    queryset = ProbeResult.objects.all()
    serializer_class = ProbeResultSerializer
    filterset_class = ResultFilter
    pagination_class = ResultPagination
    filter_backends = [FilterBackend]


class HeartbeatThrottle(AnonRateThrottle):
    """Per client address; generous, since one host may run many cron jobs."""

    rate = "300/min"


PingAnswer = inline_serializer("HeartbeatPing", {"status": serializers.ChoiceField(["ok", "critical"])})


def _ping(request, token, *, failed: bool):
    with transaction.atomic():
        probe = (Probe.objects.select_for_update().select_related("service")
                 .filter(token=token, kind=Kind.HEARTBEAT, enabled=True).first())
        if probe is None:
            raise Http404
        body = request.body[:500].decode("utf-8", errors="replace") if request.method == "POST" else ""
        result = services.record_ping(probe=probe, failed=failed, message=body)
    return Response({"status": result.status}, status=status.HTTP_200_OK)


heartbeat_doc = extend_schema(
    methods=["GET", "POST"], request={"text/plain": OpenApiTypes.STR}, auth=[],
    responses={200: PingAnswer, 404: OpenApiResponse(description=_("No enabled heartbeat has this token."))})


@heartbeat_doc
@login_not_required
@never_cache
@api_view(["GET", "POST"])
@authentication_classes([])
@permission_classes([Public])  # the token in the URL is the credential
@throttle_classes([HeartbeatThrottle])
def heartbeat(request, token):
    """A heartbeat's job reports success (a short POST body is kept as the message)."""
    return _ping(request, token, failed=False)


@heartbeat_doc
@login_not_required
@never_cache
@api_view(["GET", "POST"])
@authentication_classes([])
@permission_classes([Public])
@throttle_classes([HeartbeatThrottle])
def heartbeat_fail(request, token):
    """A heartbeat's job reports failure: the probe turns critical at once."""
    return _ping(request, token, failed=True)
