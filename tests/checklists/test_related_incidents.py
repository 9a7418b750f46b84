"""A failed checklist item names the incidents already open for its service and category (issue
23): on the run page next to "Open incident", on the open-incident form, and in the description of
the incident it opens, so nobody opens a second incident for what is already being handled."""

import pytest
from django.urls import reverse

from checklists.models import ItemState
from incidents.models import Incident, Status
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_incident, make_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    return make_service("Payments")


@pytest.fixture
def run(service):
    return make_run(make_template("Morning check", service=service, incident_category="API down"))


def fail_first(client, run):
    first = run.items.order_by("position").first()
    client.post(
        reverse("checklists:tick", args=[run.pk, first.pk]), {"state": "failed", "note": "HTTP 503"}
    )
    return first


def test_a_failed_item_links_the_open_incident_of_its_service_and_category(client_as, run, service):
    same = make_incident(service, title="Checkout answers 503", category="api down")
    other_category = make_incident(service, title="Disk almost full", category="disk")
    make_incident(make_service("Search"), title="Search is slow", category="API down")
    make_incident(service, title="Old outage", category="API down", status=Status.RESOLVED)
    client = client_as("operator")
    fail_first(client, run)
    page = client.get(run.get_absolute_url()).content.decode()
    related = page[page.index('class="related-incidents"') :]
    related = related[: related.index("</p>")]
    assert f'href="{same.get_absolute_url()}"' in related and "Checkout answers 503" in related
    assert (
        other_category.title not in related
        and "Search is slow" not in related
        and "Old outage" not in related
    )


def test_the_tick_answer_of_a_failed_item_links_it_too(client_as, run, service):
    same = make_incident(service, title="Checkout answers 503", category="API down")
    first = run.items.order_by("position").first()
    response = client_as("operator").post(
        reverse("checklists:tick", args=[run.pk, first.pk]),
        {"state": "failed"},
        HTTP_ACCEPT="application/json",
    )
    assert f'href="{same.get_absolute_url()}"' in response.json()["html"]


def test_nothing_is_mentioned_when_nothing_is_open(client_as, run):
    client = client_as("operator")
    fail_first(client, run)
    assert 'class="related-incidents"' not in client.get(run.get_absolute_url()).content.decode()


def test_the_incident_opened_from_the_item_mentions_the_open_one_and_takes_the_category(
    client_as, run, service
):
    same = make_incident(service, title="Checkout answers 503", category="API down")
    client = client_as("operator")
    first = fail_first(client, run)
    url = reverse("checklists:open-incident", args=[run.pk, first.pk])
    form = client.get(url).content.decode()
    assert (
        'name="category" value="API down"' in form and f'href="{same.get_absolute_url()}"' in form
    )
    response = client.post(
        url, {"title": "Health check fails", "severity": "sev3", "category": "API down"}
    )
    assert response.status_code == 302
    opened = Incident.objects.exclude(pk=same.pk).get()
    assert opened.category == "API down"
    assert f"#{same.pk} Checkout answers 503" in opened.description
    first.refresh_from_db()
    assert first.state == ItemState.FAILED and first.incident == opened
