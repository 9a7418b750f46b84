"""The API's filter backend: filters apply as django-filter's do; without a filter parameter no
FilterSet is built."""

import django_filters
import pytest

from backups.api import BackupRunViewSet
from backups.models import BackupRun
from core.filters import FilterBackend, names_a_filter
from incidents.api import IncidentFilter
from incidents.models import Status
from tests.incidents.factories import make_incident, make_service

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def built(monkeypatch):
    """How many FilterSets the requests build."""
    count = []
    original = django_filters.FilterSet.__init__

    def counting(self, *args, **kwargs):
        count.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(django_filters.FilterSet, "__init__", counting)
    return count


def test_a_list_without_filter_parameters_builds_no_filterset(api_as, built):
    make_incident(make_service("Maps"))
    api = api_as("viewer")
    assert (
        api.get(
            f"{API}/incidents", {"page_size": 5, "ordering": "-created_at", "search": "x"}
        ).status_code
        == 200
    )
    assert api.get(f"{API}/checklist-runs").status_code == 200
    assert built == []


def test_filters_still_narrow_and_bad_values_are_400s(api_as, built):
    service = make_service("Maps")
    resolved = make_incident(service, status=Status.RESOLVED)
    make_incident(service, status=Status.TRIGGERED)
    api = api_as("viewer")
    rows = api.get(f"{API}/incidents", {"status": "resolved"}).json()["results"]
    assert [row["id"] for row in rows] == [resolved.pk]
    assert built == ["IncidentFilter"]
    response = api.get(f"{API}/incidents", {"status": "sideways"})
    assert response.status_code == 400 and "status" in response.json()
    # A view that names only filterset_fields gets a generated FilterSet, applied the same way.
    response = api.get(f"{API}/backup-runs", {"status": "sideways"})
    assert response.status_code == 400 and "status" in response.json()


def test_a_generated_filterset_class_is_made_once_per_view():
    backend, view, queryset = FilterBackend(), BackupRunViewSet(), BackupRun.objects.all()
    first = backend.get_filterset_class(view, queryset)
    assert first is backend.get_filterset_class(view, queryset)
    assert set(first.base_filters) == {"target", "status", "trigger", "verification"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, False),
        (
            {"page": "2", "page_size": "5", "ordering": "title", "search": "disk", "cursor": "x"},
            False,
        ),
        ({"status": "resolved"}, True),
        ({"created_after": "2026-01-01T00:00:00Z"}, True),
        ({"open": "true"}, True),
    ],
)
def test_which_parameters_name_a_filter(params, expected):
    assert names_a_filter(params, IncidentFilter) is expected
