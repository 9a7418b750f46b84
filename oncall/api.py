"""REST API of on-call schedules: managers edit schedules and layers; overrides also by the
person concerned."""

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from core.filters import FilterSet, IsoDateTimeFilter
from core.parsers import JSONParser
from core.permissions import RolePermission
from incidents.models import Contact
from oncall.models import Layer, Override, Schedule, portal_zone
from oncall.rotation import current_and_next
from oncall.serializers import (
    OnCallLayerSerializer,
    OnCallNowSerializer,
    OnCallOverrideSerializer,
    OnCallScheduleSerializer,
)
from oncall.services import schedules_with_rotations


class ScheduleViewSet(viewsets.ModelViewSet):
    """On-call schedules. `on-call` answers who is on call at a moment (default now) and who is
    next."""

    serializer_class = OnCallScheduleSerializer
    search_fields = ["name"]

    def get_queryset(self):
        return Schedule.objects.prefetch_related("escalation_steps").order_by("name", "id")

    @extend_schema(
        parameters=[OpenApiParameter("at", OpenApiTypes.DATETIME, description="Default: now.")],
        responses=OnCallNowSerializer,
    )
    @action(detail=True, methods=["get"], url_path="on-call", url_name="now", filter_backends=[])
    def on_call(self, request, pk=None):
        at = request.query_params.get("at")
        if at is None:
            at = timezone.now()
        else:
            field = serializers.DateTimeField()
            try:
                at = field.run_validation(at)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"at": exc.detail}) from None
        schedule = schedules_with_rotations().get(pk=self.get_object().pk)
        current, upcoming = current_and_next(
            schedule.layer_specs(), schedule.override_specs(), at, portal_zone()
        )
        names = dict(
            Contact.objects.filter(
                pk__in={s.contact for s in (current, upcoming) if s}
            ).values_list("pk", "name")
        )

        def shown(shift):
            if shift is None:
                return None
            return {
                "contact": shift.contact,
                "name": names.get(shift.contact),
                "starts_at": shift.starts_at,
                "ends_at": shift.ends_at,
            }

        return Response(
            OnCallNowSerializer({"at": at, "current": shown(current), "next": shown(upcoming)}).data
        )


class LayerViewSet(viewsets.ModelViewSet):
    """A schedule's rotations; where layers overlap, the higher level wins."""

    serializer_class = OnCallLayerSerializer
    parser_classes = [JSONParser]
    filterset_fields = ["schedule"]

    def get_queryset(self):
        return Layer.objects.prefetch_related("memberships").order_by("schedule_id", "level", "id")


class OverrideFilter(FilterSet):
    active_at = IsoDateTimeFilter(method="filter_active_at", label="active at")

    class Meta:
        model = Override
        fields = ["schedule", "contact"]

    def filter_active_at(self, queryset, name, value):
        return queryset.filter(starts_at__lte=value, ends_at__gt=value)


class MayChangeOverride(BasePermission):
    """Someone else's override is a manager's to change: refused before its body is even read."""

    def has_object_permission(self, request, view, obj):
        return request.method in SAFE_METHODS or obj.may_change(request.user)


class OverrideViewSet(viewsets.ModelViewSet):
    """Someone covers a time range. Managers set any; an operator only one that concerns them."""

    queryset = Override.objects.order_by("-starts_at", "-id")
    permission_classes = [RolePermission, MayChangeOverride]
    serializer_class = OnCallOverrideSerializer
    filterset_class = OverrideFilter
    ordering_fields = ["starts_at", "ends_at"]

    def _check(self, override):
        if not override.may_change(self.request.user):
            raise PermissionDenied(
                _("You may only set overrides that put you on call or cover for you.")
            )

    def perform_create(self, serializer):
        self._check(Override(**serializer.validated_data))
        serializer.save(created_by=self.request.user)

    def perform_update(self, serializer):
        changed = Override(
            contact_id=serializer.instance.contact_id,
            covers_for_id=serializer.instance.covers_for_id,
        )
        for name, value in serializer.validated_data.items():
            setattr(changed, name, value)
        self._check(changed)
        serializer.save()
