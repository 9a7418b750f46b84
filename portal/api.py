"""Read-only API over django-q2's background-task history and schedules."""

import threading

from django_q.models import Schedule, Task
from drf_spectacular.views import SpectacularAPIView
from rest_framework import viewsets

from core.filters import FilterSet, IsoDateTimeFilter
from core.serializers import ScheduleSerializer, TaskSerializer


class TaskFilter(FilterSet):
    started_after = IsoDateTimeFilter(field_name="started", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started", lookup_expr="lt")

    class Meta:
        model = Task
        fields = ["success", "func", "group", "cluster"]


class TaskViewSet(viewsets.ReadOnlyModelViewSet):
    """Finished background tasks, newest first (failures are always kept)."""

    lookup_value_regex = "[0-9a-f]{32}"  # django-q2's task ids are uuid4().hex

    queryset = Task.objects.defer("args", "kwargs").order_by("-stopped", "-id")
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    search_fields = ["name", "func", "group"]
    ordering_fields = ["started", "stopped"]


class ScheduleViewSet(viewsets.ReadOnlyModelViewSet):
    """Registered background schedules; they are managed by the portal, not edited here."""

    lookup_value_regex = "[0-9]{1,18}"

    queryset = Schedule.objects.order_by("name")
    serializer_class = ScheduleSerializer
    filterset_fields = ["cluster", "func"]
    search_fields = ["name", "func"]


# drf-spectacular keeps generator state in class attributes (extension classes it imports on first
# use, GENERATOR_STATS): two threads of one gthread worker generating at once fail with a 500
# (drf-spectacular #1123, #1368). One generation at a time per process; it takes under a second.
_schema_generation = threading.Lock()


class SchemaView(SpectacularAPIView):
    def dispatch(self, request, *args, **kwargs):
        with _schema_generation:
            return super().dispatch(request, *args, **kwargs)
