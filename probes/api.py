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
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.authentication import BaseAuthentication, TokenAuthentication
from rest_framework.decorators import (
    action,
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from core.filters import FilterBackend, FilterSet, IsoDateTimeFilter
from core.pagination import AppendOnlyPagination
from core.permissions import Public
from core.schema import ErrorSerializer
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
        # The service's name joined in as a column, not a Service instance per row.
        return Probe.objects.annotate(service_name=F("service__name")).worst_first()

    def perform_create(self, serializer):
        self.perform_update(serializer)

    def perform_update(self, serializer):
        probe = serializer.save()
        probe.reschedule(timezone.now())
        # An update, not a save: the edit has its history row already, one is enough.
        Probe.objects.filter(pk=probe.pk).update(next_run_at=probe.next_run_at)

    @extend_schema(
        request=None,
        responses={
            200: ProbeResultSerializer,
            409: OpenApiResponse(ErrorSerializer, description=_("A heartbeat cannot be run.")),
        },
    )
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


PingAnswer = inline_serializer(
    "HeartbeatPing", {"status": serializers.ChoiceField(["ok", "critical"])}
)


def _ping(request, token, *, failed: bool):
    with transaction.atomic():
        probe = (
            Probe.objects.select_for_update()
            .select_related("service")
            .filter(token=token, kind=Kind.HEARTBEAT, enabled=True)
            .first()
        )
        if probe is None:
            raise Http404
        body = (
            request.body[:500].decode("utf-8", errors="replace") if request.method == "POST" else ""
        )
        result = services.record_ping(probe=probe, failed=failed, message=body)
    return Response({"status": result.status}, status=status.HTTP_200_OK)


heartbeat_doc = extend_schema(
    methods=["GET", "POST"],
    request={"text/plain": OpenApiTypes.STR},
    auth=[],
    responses={
        200: PingAnswer,
        404: OpenApiResponse(description=_("No enabled heartbeat has this token.")),
    },
)


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


# Push agents --------------------------------------------------------------------


class AgentThrottle(AnonRateThrottle):
    """Per client address; many hosts may sit behind one address, each calling twice a minute."""

    rate = "1200/min"


class AgentResultSerializer(serializers.Serializer):
    probe = serializers.IntegerField(min_value=1)
    at = serializers.DateTimeField()
    status = serializers.ChoiceField(["ok", "critical", "error"])
    value = serializers.FloatField(required=False, allow_null=True)
    latency_ms = serializers.FloatField(required=False, allow_null=True, min_value=0)
    message = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=2000
    )


class AgentPushSerializer(serializers.Serializer):
    batch = serializers.UUIDField(
        help_text=_("Chosen by the agent; a batch sent twice is recorded once.")
    )
    agent_version = serializers.CharField(required=False, allow_blank=True, max_length=40)
    results = AgentResultSerializer(many=True, max_length=services.PUSH_RESULTS_LIMIT)


AgentCheck = inline_serializer(
    "AgentCheck",
    {
        "id": serializers.IntegerField(),
        "kind": serializers.CharField(),
        "name": serializers.CharField(),
        "config": serializers.JSONField(),
        "timeout": serializers.FloatField(),
    },
    many=True,
)
AgentChecks = inline_serializer(
    "AgentChecks",
    {
        "host": serializers.CharField(),
        "interval": serializers.IntegerField(),
        "max_batch": serializers.IntegerField(),
        "checks": AgentCheck,
    },
)
AgentPushAnswer = inline_serializer(
    "AgentPushAnswer",
    {
        "accepted": serializers.IntegerField(),
        "duplicate": serializers.BooleanField(),
        "rejected": inline_serializer(
            "AgentRejected",
            {"probe": serializers.IntegerField(), "reason": serializers.CharField()},
            many=True,
        ),
    },
)
UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description=_("No enabled host has this token."))
PERSON = OpenApiResponse(
    ErrorSerializer, description=_("A person's API token: only a host's agent may call this.")
)


def _agent_host(request):
    """The host of the bearer token; the same 401 for an unknown, rotated or disabled host.
    A person's API token is refused outright: people read results, only agents push them."""
    if request.user.is_authenticated:
        raise exceptions.PermissionDenied(
            _("Only a host's agent may call this, with its own token.")
        )
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    host = services.host_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if host is None:
        raise AgentUnauthorized
    return host


class AgentUnauthorized(exceptions.AuthenticationFailed):
    default_detail = _("Invalid agent token.")


class BearerAuthentication(BaseAuthentication):
    """Names the agent's scheme, so a 401 carries `WWW-Authenticate: Bearer`; the token is
    checked by the view."""

    def authenticate(self, request):
        return None

    def authenticate_header(self, request):
        return 'Bearer realm="agent"'


def _version(request, data=None) -> str:
    return ((data or {}).get("agent_version") or request.headers.get("X-Agent-Version", ""))[:40]


@extend_schema(auth=[], responses={200: AgentChecks, 401: UNAUTHORIZED, 403: PERSON})
@login_not_required
@never_cache
@api_view(["GET"])
@authentication_classes([BearerAuthentication, TokenAuthentication])
@permission_classes([Public])  # the bearer token is the credential
@throttle_classes([AgentThrottle])
def agent_checks(request):
    """The checks assigned to the token's host, for its agent to run (`Authorization: Bearer
    <token>`)."""
    host = _agent_host(request)
    services.agent_seen(host=host, version=_version(request), now=timezone.now())
    checks = [
        {
            "id": probe.pk,
            "kind": probe.kind,
            "name": probe.name,
            "config": probe.config,
            "timeout": probe.timeout,
        }
        for probe in services.host_checks(host=host)
    ]
    return Response(
        {
            "host": host.name,
            "interval": host.interval,
            "max_batch": services.PUSH_RESULTS_LIMIT,
            "checks": checks,
        }
    )


@extend_schema(
    auth=[],
    request=AgentPushSerializer,
    responses={
        200: AgentPushAnswer,
        400: OpenApiResponse(ErrorSerializer),
        401: UNAUTHORIZED,
        403: PERSON,
        413: OpenApiResponse(
            ErrorSerializer, description=_("More than the push limit (results or bytes).")
        ),
    },
)
@login_not_required
@never_cache
@api_view(["POST"])
@authentication_classes([BearerAuthentication, TokenAuthentication])
@permission_classes([Public])
@throttle_classes([AgentThrottle])
def agent_results(request):
    """A batch of results from the token's host. Results for checks not assigned to it are rejected
    (listed in the answer and counted on the host); the rest are recorded like the portal's own."""
    host = _agent_host(request)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > services.PUSH_BODY_LIMIT or len(request.body) > services.PUSH_BODY_LIMIT:
        return _too_large()
    results = request.data.get("results") if isinstance(request.data, dict) else None
    if isinstance(results, list) and len(results) > services.PUSH_RESULTS_LIMIT:
        return _too_large()
    serializer = AgentPushSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    report = services.record_push(
        host=host, batch=data["batch"], results=data["results"], version=_version(request, data)
    )
    return Response(
        {"accepted": report.accepted, "duplicate": report.duplicate, "rejected": report.rejected}
    )


def _too_large():
    return Response(
        {
            "detail": _("At most %(count)s results and %(bytes)s bytes in one push.")
            % {"count": services.PUSH_RESULTS_LIMIT, "bytes": services.PUSH_BODY_LIMIT}
        },
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )
