from django_q.models import Schedule, Task
from rest_framework import serializers


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
