"""Baselines measured in the same run as the portal's own endpoints.

- a bare Django view (no database, no middleware work beyond the stack);
- a bare DRF list: ListAPIView + ModelSerializer + PageNumberPagination over the
  same table and page size, with no filtering, ordering or extra fields (no
  computed, nested or many-to-many fields: what the portal adds is what the
  ratio measures).
"""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import include, path
from django_q.models import Task
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated


@login_not_required
def bare_health(request):
    return JsonResponse({"status": "ok"})


class BarePagination(PageNumberPagination):
    page_size = 50


def bare_list(model, fields):
    serializer = type(
        "BareSerializer",
        (serializers.ModelSerializer,),
        {"Meta": type("Meta", (), {"model": model, "fields": fields})},
    )
    return generics.ListAPIView.as_view(
        queryset=model.objects.order_by("-pk"),
        serializer_class=serializer,
        pagination_class=BarePagination,
        permission_classes=[IsAuthenticated],
        filter_backends=[],
    )


BARE_LISTS = {
    "tasks": bare_list(
        Task, ["id", "name", "func", "group", "cluster", "started", "stopped", "success"]
    ),
}
try:
    from backups.models import BackupRun
    from checklists.models import Run
    from incidents.models import Incident, Postmortem, TimelineEvent
    from probes.models import Probe, ProbeResult

    # The same model fields the portal's serializers expose, without their
    # computed ones: the ratio is the cost of everything the portal adds.
    BARE_LISTS["incidents"] = bare_list(
        Incident,
        [
            "id",
            "service",
            "title",
            "description",
            "severity",
            "category",
            "scope",
            "status",
            "source",
            "dedup_key",
            "commander",
            "impact_started_at",
            "detected_at",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
            "mitigated_at",
            "resolved_at",
            "resolved_by",
            "closed_at",
            "next_escalation_at",
        ],
    )
    BARE_LISTS["timeline"] = bare_list(
        TimelineEvent,
        ["id", "incident", "at", "kind", "actor_user", "actor_contact", "message", "data"],
    )
    BARE_LISTS["postmortems"] = bare_list(
        Postmortem,
        [
            "id",
            "incident",
            "title",
            "status",
            "severity",
            "scope",
            "summary",
            "impact",
            "occurred_at",
            "detected_at",
            "recovered_at",
            "trigger",
            "root_cause",
            "detection",
            "response",
            "went_well",
            "went_wrong",
            "got_lucky",
            "lessons",
            "links",
            "author",
            "created_at",
            "updated_at",
            "submitted_at",
            "published_at",
            "published_by",
            "closed_at",
        ],
    )
    BARE_LISTS["probes"] = bare_list(
        Probe,
        [
            "id",
            "service",
            "name",
            "kind",
            "config",
            "interval",
            "timeout",
            "warning",
            "critical",
            "failures_before_alert",
            "successes_to_recover",
            "reminder_minutes",
            "severity",
            "auto_resolve",
            "enabled",
            "status",
            "status_since",
            "consecutive_failures",
            "consecutive_successes",
            "alerting",
            "incident",
            "last_run_at",
            "last_value",
            "last_latency_ms",
            "last_message",
            "last_ping_at",
            "next_run_at",
            "created_at",
        ],
    )
    BARE_LISTS["probe-results"] = bare_list(
        ProbeResult, ["id", "probe", "at", "status", "value", "latency_ms", "message"]
    )
    BARE_LISTS["checklist-runs"] = bare_list(
        Run,
        [
            "id",
            "template",
            "template_version",
            "name",
            "occurrence",
            "status",
            "due_at",
            "incident",
            "assignee_tier",
            "assignee_contact",
            "assignee_group",
            "created_at",
            "started_at",
            "completed_at",
        ],
    )
    BARE_LISTS["backup-runs"] = bare_list(
        BackupRun,
        [
            "id",
            "target",
            "trigger",
            "status",
            "format",
            "requested_by",
            "queued_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "bytes_done",
            "file",
            "size",
            "sha256",
            "verification",
            "verified_at",
            "verification_detail",
            "error",
            "pruned_at",
        ],
    )
except ImportError:  # the bench also runs before an app lands
    pass

urlpatterns = [
    path("api/bench/bare-health", bare_health),
    *[path(f"api/bench/bare/{name}", view) for name, view in BARE_LISTS.items()],
    path("", include("portal.urls")),
]
