from django.urls import reverse
from django_q.models import Schedule, Task
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_KEY = 987654321  # stands for an object's key while a URL is reversed once for a whole page


@extend_schema_field(OpenApiTypes.STR)
class PageURLField(serializers.Field):
    """The portal page of an object, as its get_absolute_url() gives it: `view_name` with the
    object's `key` as its one argument.

    reverse() walks the URL resolver; once per row it was a tenth of a list request. The field
    reverses once per serializer (a list's rows share one) and puts each row's key in.
    """

    def __init__(self, view_name: str, key: str = "pk", **kwargs):
        self.view_name, self.key = view_name, key
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance) -> str:
        if not hasattr(self, "_prefix"):
            self._prefix, self._suffix = reverse(self.view_name, args=[_KEY]).split(str(_KEY))
        return f"{self._prefix}{getattr(instance, self.key)}{self._suffix}"


class TaskSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = ["id", "name", "func", "group", "cluster", "started", "stopped", "success", "attempt_count", "error"]

    def get_error(self, task) -> str:
        return "" if task.success else str(task.result)[:2000]


class ScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Schedule
        fields = ["id", "name", "func", "schedule_type", "minutes", "cron", "cluster", "next_run", "repeats"]
