"""REST API of the incidents app. Transitions are actions that call incidents.services."""

from django.db.models import Prefetch, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.errors import DomainError
from core.filters import BooleanFilter, FilterSet, IdFilter, IsoDateTimeFilter
from core.pagination import AppendOnlyPagination
from core.parsers import JSONParser
from core.schema import ErrorSerializer
from incidents import notify, postmortems, reports, services
from incidents.models import (
    ActionItem,
    Contact,
    EscalationPolicy,
    EscalationStep,
    EventKind,
    Incident,
    MaintenanceWindow,
    Notification,
    NotificationChannel,
    Postmortem,
    RecurringMaintenanceWindow,
    Route,
    Service,
    Tier,
    TimelineEvent,
)
from incidents.postmortems import local_date
from incidents.serializers import (
    ActionItemSerializer,
    ChannelTestSerializer,
    ContactSerializer,
    EscalationPolicySerializer,
    IncidentCreateSerializer,
    IncidentListSerializer,
    IncidentSerializer,
    MaintenanceWindowSerializer,
    NoteSerializer,
    NotificationChannelSerializer,
    NotificationSerializer,
    PostmortemListSerializer,
    PostmortemSerializer,
    RecurringMaintenanceWindowSerializer,
    ReopenSerializer,
    ReportQuerySerializer,
    ReportSerializer,
    ResolveSerializer,
    RouteSerializer,
    ServiceSerializer,
    TierSerializer,
    TimelineEventSerializer,
)


def delete_unless_used(instance):
    try:
        instance.delete()
    except ProtectedError:
        raise DomainError(
            _("%(name)s is still in use (by incidents or escalation steps) and cannot be deleted.")
            % {"name": instance},
            code="protected",
            conflict=True,
        ) from None


class ServiceViewSet(viewsets.ModelViewSet):
    """Systems the team operates, with their RTO/RPO targets."""

    queryset = Service.objects.order_by("name")
    serializer_class = ServiceSerializer
    filterset_fields = ["owner"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at"]

    def perform_destroy(self, instance):
        delete_unless_used(instance)


class TierViewSet(viewsets.ModelViewSet):
    """Escalation tiers, lowest level first."""

    queryset = Tier.objects.order_by("level")
    serializer_class = TierSerializer
    search_fields = ["name"]
    ordering_fields = ["level", "name"]

    def perform_destroy(self, instance):
        delete_unless_used(instance)


class ContactViewSet(viewsets.ModelViewSet):
    """People to call, with their notification channels nested."""

    serializer_class = ContactSerializer
    # JSON only: a form cannot carry the nested channels, which were silently dropped.
    parser_classes = [JSONParser]
    filterset_fields = ["tier", "availability", "active"]
    search_fields = ["name", "role", "email", "chat_handle"]
    ordering_fields = ["name", "tier__level"]

    def get_queryset(self):
        return Contact.objects.prefetch_related("channels").order_by("tier__level", "name", "id")


class NotificationChannelViewSet(viewsets.ModelViewSet):
    """E-mail, messenger and webhook channels of contacts. `test` sends a test message now."""

    queryset = NotificationChannel.objects.order_by("contact_id", "kind", "id")
    serializer_class = NotificationChannelSerializer
    filterset_fields = ["contact", "kind", "enabled"]
    # Never the target: sorting by a secret answers guesses about it.
    ordering_fields = ["contact", "kind", "id"]
    # Whoever may change a channel may check it: a test message reaches a person's phone.
    action_permissions = {"send_test": "incidents.change_notificationchannel"}

    @extend_schema(
        request=None,
        responses={200: ChannelTestSerializer},
        description=_(
            "Send a test message through the channel now (a disabled one too) and answer "
            "what came of it. A failed delivery is an answer, not an error: sent is false "
            "and error says why, with the channel's address masked."
        ),
    )
    @action(detail=True, methods=["post"], url_path="test", url_name="test")
    def send_test(self, request, pk=None):
        channel = self.get_object()
        error = notify.send_test_message(channel, by=request.user)
        return Response(ChannelTestSerializer({"sent": not error, "error": error}).data)


class RouteViewSet(viewsets.ModelViewSet):
    """Team channels that hear of events (never pages): by event kind, service, minimum severity
    and hours."""

    queryset = Route.objects.prefetch_related("services").order_by("name", "id")
    serializer_class = RouteSerializer
    filterset_fields = ["kind", "enabled", "min_severity"]
    search_fields = ["name"]
    # Never the target: sorting by a secret answers guesses about it.
    ordering_fields = ["name", "id"]


class EscalationPolicyViewSet(viewsets.ModelViewSet):
    """Who to page and when, per service (empty: the default) and severity. Steps are nested."""

    serializer_class = EscalationPolicySerializer
    # JSON only: a form cannot carry the nested steps, which were silently dropped.
    parser_classes = [JSONParser]
    filterset_fields = ["service", "severity"]
    search_fields = ["name"]

    def get_queryset(self):
        steps = EscalationStep.objects.prefetch_related("contacts").order_by("position")
        return EscalationPolicy.objects.prefetch_related(
            Prefetch("steps", queryset=steps)
        ).order_by("service__name", "severity", "id")


class MaintenanceWindowFilter(FilterSet):
    active_at = IsoDateTimeFilter(method="filter_active_at", label=_("active at"))

    class Meta:
        model = MaintenanceWindow
        fields = ["service"]

    def filter_active_at(self, queryset, name, value):
        return queryset.active(value)


class MaintenanceWindowViewSet(viewsets.ModelViewSet):
    """While a window is active, failures of its service page nobody."""

    queryset = MaintenanceWindow.objects.order_by("-starts_at", "-id")
    serializer_class = MaintenanceWindowSerializer
    filterset_class = MaintenanceWindowFilter
    ordering_fields = ["starts_at", "ends_at"]

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)


class RecurringMaintenanceWindowViewSet(viewsets.ModelViewSet):
    """Maintenance that comes back on a cron rule (every Tuesday 02:00 for 2 h). Managers plan them;
    whoever may announce a window may end the occurrence under way early (`end`)."""

    queryset = RecurringMaintenanceWindow.objects.order_by("service_id", "id")
    serializer_class = RecurringMaintenanceWindowSerializer
    filterset_fields = ["service", "active"]
    action_permissions = {"end": "incidents.add_maintenancewindow"}

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @extend_schema(
        request=None, responses={200: RecurringMaintenanceWindowSerializer, 409: ErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        window = self.get_object()
        if not window.end_early(at=timezone.now()):
            raise DomainError(_("This window is not under way."), code="not_active", conflict=True)
        return Response(self.get_serializer(window).data)


class IncidentFilter(FilterSet):
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    open = BooleanFilter(method="filter_open", label=_("open"))

    class Meta:
        model = Incident
        fields = ["status", "severity", "service", "source", "dedup_key"]

    def filter_open(self, queryset, name, value):
        # open_rank, not the status list: it leads the index the list is ordered by.
        return queryset.filter(open_rank=0 if value else 1)


class TimelinePagination(AppendOnlyPagination):
    ordering = ("at", "id")  # oldest first, as the story reads


TRANSITIONS = {
    "acknowledge": services.acknowledge,
    "mitigate": services.mitigate,
    "close": services.close,
}

transition_responses = {
    200: IncidentSerializer,
    409: OpenApiResponse(
        ErrorSerializer,
        description=_(
            "Not allowed from the current status (code "
            "invalid_transition), or changed meanwhile (conflict)."
        ),
    ),
}


@extend_schema_view(
    create=extend_schema(
        request=IncidentCreateSerializer,
        responses={201: IncidentSerializer, 200: IncidentSerializer},
        description=_(
            "Open an incident (201), or add to the open one with the same dedup key (200)."
        ),
    ),
)
class IncidentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Incidents, open ones first. State changes are the POST actions."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    search_fields = ["title"]
    ordering_fields = ["created_at", "severity", "status"]
    action_permissions = {
        "acknowledge": "incidents.change_incident",
        "mitigate": "incidents.change_incident",
        "resolve": "incidents.change_incident",
        "close": "incidents.change_incident",
        "reopen": "incidents.change_incident",
        "notes": "incidents.add_timelineevent",
        "timeline": "incidents.view_timelineevent",
    }

    def get_queryset(self):
        incidents = Incident.objects.open_first().select_related("service")
        if self.action == "list":
            # Columns a page never shows; the snapshot alone is a JSON document to decode per row.
            return incidents.defer("description", "escalation_snapshot", "service__description")
        return incidents.prefetch_related("responders")

    def get_serializer_class(self):
        if self.action == "create":
            return IncidentCreateSerializer
        if self.action == "list":
            return IncidentListSerializer
        return IncidentSerializer

    def create(self, request, *args, **kwargs):
        serializer = IncidentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident, created = services.declare_incident(by=request.user, **serializer.validated_data)
        return Response(
            self._incident_data(incident),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def _incident_data(self, incident):
        return IncidentSerializer(self.get_queryset().get(pk=incident.pk)).data

    def _transition(self, name):
        incident = self.get_object()
        TRANSITIONS[name](incident=incident, by=self.request.user)
        return Response(self._incident_data(incident))

    @extend_schema(request=None, responses=transition_responses)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Acknowledge: stops pending "not acknowledged" escalation steps."""
        return self._transition("acknowledge")

    @extend_schema(request=None, responses=transition_responses)
    @action(detail=True, methods=["post"])
    def mitigate(self, request, pk=None):
        """Mark the impact as mitigated (not yet resolved)."""
        return self._transition("mitigate")

    @extend_schema(request=ResolveSerializer, responses=transition_responses)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Resolve: stops every escalation. The summary (what fixed it) is optional here, since
        tools resolve too; the incident page asks a person for it."""
        incident = self.get_object()
        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.resolve(
            incident=incident, by=request.user, summary=serializer.validated_data["summary"]
        )
        return Response(self._incident_data(incident))

    @extend_schema(request=None, responses=transition_responses)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close a resolved incident."""
        return self._transition("close")

    @extend_schema(request=ReopenSerializer, responses=transition_responses)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Re-open: the escalation policy starts again."""
        incident = self.get_object()
        serializer = ReopenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.reopen(
            incident=incident, by=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(self._incident_data(incident))

    @extend_schema(request=NoteSerializer, responses={201: TimelineEventSerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        """Add a note to the timeline."""
        incident = self.get_object()
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = services.add_note(
            incident=incident, by=request.user, text=serializer.validated_data["text"]
        )
        if not isinstance(event, TimelineEvent):
            event = TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTE).latest(
                "at", "id"
            )
        return Response(TimelineEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TimelineEventSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=TimelinePagination, filter_backends=[])
    def timeline(self, request, pk=None):
        """The incident's timeline, oldest first; append-only, paged by cursor."""
        incident = self.get_object()
        events = TimelineEvent.objects.filter(incident=incident).select_related(
            "actor_user", "actor_contact"
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(TimelineEventSerializer(page, many=True).data)


class NotificationFilter(FilterSet):
    class Meta:
        model = Notification
        fields = ["incident", "purpose", "status", "kind", "contact"]


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """The one outbox: every message the portal sends (pages, notices, reminders, overdue
    checklists, routed events, reports), with its attempts and last error. Read-only."""

    queryset = Notification.objects.order_by("-created_at", "-id")
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    ordering_fields = ["created_at", "status"]


# Postmortems, action items, reports --------------------------------------------------


class PostmortemFilter(FilterSet):
    service = IdFilter(field_name="incident__service")

    class Meta:
        model = Postmortem
        fields = ["status", "severity", "incident", "author"]


postmortem_step_responses = {
    200: PostmortemSerializer,
    409: OpenApiResponse(
        ErrorSerializer,
        description=_(
            "Not allowed from the current status (code "
            "invalid_transition), or changed meanwhile (conflict)."
        ),
    ),
}


class PostmortemViewSet(viewsets.ModelViewSet):
    """Postmortems, one per incident. Editable while draft or in review; `submit` and `publish`
    move them on."""

    serializer_class = PostmortemSerializer
    filterset_class = PostmortemFilter
    search_fields = ["title", "summary", "incident__title"]
    ordering_fields = ["created_at", "published_at", "severity", "status"]
    action_permissions = {
        "submit": "incidents.change_postmortem",
        "publish": "incidents.publish_postmortem",
    }

    def get_queryset(self):
        postmortems = Postmortem.objects.order_by("-created_at", "-id")
        if self.action == "list":
            return postmortems
        items = ActionItem.objects.order_by("id")
        return postmortems.select_related("incident").prefetch_related(
            Prefetch("action_items", queryset=items), "timeline_events", "reviewers"
        )

    def get_serializer_class(self):
        return PostmortemListSerializer if self.action == "list" else PostmortemSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": local_date(timezone.now())}

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        timeline, reviewers = data.pop("timeline_events", None), data.pop("reviewers", None)
        serializer.instance = postmortems.save_postmortem(
            postmortem=Postmortem(**data),
            by=self.request.user,
            timeline=timeline,
            reviewers=reviewers,
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        timeline, reviewers = data.pop("timeline_events", None), data.pop("reviewers", None)
        postmortem = serializer.instance
        for name, value in data.items():
            setattr(postmortem, name, value)
        postmortems.save_postmortem(
            postmortem=postmortem, by=self.request.user, timeline=timeline, reviewers=reviewers
        )

    def perform_destroy(self, instance):
        postmortems.delete_postmortem(postmortem=instance, by=self.request.user)

    def _answer(self, postmortem):
        return Response(
            PostmortemSerializer(
                self.get_queryset().get(pk=postmortem.pk), context=self.get_serializer_context()
            ).data
        )

    @extend_schema(request=None, responses=postmortem_step_responses)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Draft → in review."""
        postmortem = self.get_object()
        postmortems.submit_postmortem(postmortem=postmortem, by=request.user)
        return self._answer(postmortem)

    @extend_schema(request=None, responses=postmortem_step_responses)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Publish (managers only); closes at once if every action item is already done."""
        postmortem = self.get_object()
        postmortems.publish_postmortem(postmortem=postmortem, by=request.user)
        return self._answer(postmortem)


class ActionItemFilter(FilterSet):
    overdue = BooleanFilter(method="filter_overdue", label=_("overdue"))
    service = IdFilter(field_name="postmortem__incident__service")

    class Meta:
        model = ActionItem
        fields = ["postmortem", "status", "kind", "priority", "owner"]

    def filter_overdue(self, queryset, name, value):
        overdue = queryset.overdue(local_date(timezone.now()))
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))


class ActionItemViewSet(viewsets.ModelViewSet):
    """What we do so it does not happen again. `complete` marks one done."""

    serializer_class = ActionItemSerializer
    filterset_class = ActionItemFilter
    search_fields = ["description"]
    ordering_fields = ["due_date", "created_at", "priority", "status"]
    action_permissions = {"complete": "incidents.change_actionitem"}

    def get_queryset(self):
        return ActionItem.objects.select_related("postmortem").order_by("due_date", "id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": local_date(timezone.now())}

    def perform_create(self, serializer):
        serializer.instance = postmortems.save_action_item(
            item=ActionItem(**serializer.validated_data), by=self.request.user
        )

    def perform_update(self, serializer):
        item = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(item, name, value)
        postmortems.save_action_item(item=item, by=self.request.user)

    def perform_destroy(self, instance):
        postmortems.delete_action_item(item=instance, by=self.request.user)

    @extend_schema(
        request=None,
        responses={200: ActionItemSerializer, 409: OpenApiResponse(description=_("Already done."))},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Mark done; the postmortem closes when every item is done."""
        item = postmortems.complete_action_item(item=self.get_object(), by=request.user)
        return Response(ActionItemSerializer(item, context=self.get_serializer_context()).data)


class ReportViewSet(viewsets.ViewSet):
    """MTTA/MTTR and follow-up figures per severity and month (managers)."""

    action_permissions = {"incidents": "incidents.view_reports"}

    @extend_schema(parameters=[ReportQuerySerializer], responses=ReportSerializer)
    @action(detail=False, methods=["get"])
    def incidents(self, request):
        """Incident count, MTTA and MTTR (mean, median, p95, seconds), downtime, RTO,
        postmortems, action items."""
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        now = timezone.now()
        period = reports.period_from(data.get("first"), data.get("last"), now=now)
        report = reports.build_report(
            period=period, service=data.get("service"), from_impact=data["from_impact"], now=now
        )
        return Response(ReportSerializer(report).data)
