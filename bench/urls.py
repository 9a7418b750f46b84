"""Baselines measured in the same run as the portal's own endpoints.

- a bare Django view (no database, no middleware work beyond the stack);
- a bare DRF list: ListAPIView + ModelSerializer + PageNumberPagination over the
  same table and page size, with no filtering, ordering or extra fields.
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
    serializer = type("BareSerializer", (serializers.ModelSerializer,),
                      {"Meta": type("Meta", (), {"model": model, "fields": fields})})
    return generics.ListAPIView.as_view(
        queryset=model.objects.order_by("-pk"), serializer_class=serializer,
        pagination_class=BarePagination, permission_classes=[IsAuthenticated], filter_backends=[],
    )


BARE_LISTS = {
    "tasks": bare_list(Task, ["id", "name", "func", "group", "cluster", "started", "stopped", "success"]),
}
try:
    from incidents.models import Incident, TimelineEvent

    # The same model fields the portal's serializers expose, without their
    # computed ones: the ratio is the cost of everything the portal adds.
    BARE_LISTS["incidents"] = bare_list(Incident, [
        "id", "service", "title", "description", "severity", "category", "scope", "status", "source", "dedup_key",
        "commander", "impact_started_at", "detected_at", "created_at", "acknowledged_at", "acknowledged_by",
        "mitigated_at", "resolved_at", "resolved_by", "closed_at", "next_escalation_at"])
    BARE_LISTS["timeline"] = bare_list(TimelineEvent, [
        "id", "incident", "at", "kind", "actor_user", "actor_contact", "message", "data"])
except ImportError:  # the bench also runs before an app lands
    pass

urlpatterns = [
    path("api/bench/bare-health", bare_health),
    *[path(f"api/bench/bare/{name}", view) for name, view in BARE_LISTS.items()],
    path("", include("portal.urls")),
]
