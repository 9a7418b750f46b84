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
    from incidents.models import Incident

    BARE_LISTS["incidents"] = bare_list(Incident, ["id", "title", "severity", "status", "created_at"])
except ImportError:  # pragma: no cover - the bench also runs before an app lands
    pass

urlpatterns = [
    path("api/bench/bare-health", bare_health),
    *[path(f"api/bench/bare/{name}", view) for name, view in BARE_LISTS.items()],
    path("", include("portal.urls")),
]
