"""Resolving on the incident page asks what fixed it (issue 23): the summary is required there,
kept on the incident and in the resolve event, and shown on the page."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import EventKind, Status
from tests.incidents.factories import make_incident

pytestmark = pytest.mark.django_db


def resolve_url(incident):
    return reverse("incidents:resolve", args=[incident.pk])


def test_resolving_without_a_summary_is_a_field_error_and_changes_nothing(client_as):
    client = client_as("operator")
    incident = make_incident()
    for data in ({}, {"summary": "   "}):
        response = client.post(resolve_url(incident), data)
        assert response.status_code == 400
        assert response.context["resolve_form"].errors["summary"] == [
            "Say what fixed it before resolving."
        ]
        assert "Say what fixed it before resolving." in response.content.decode()
        incident.refresh_from_db()
        assert incident.status == Status.TRIGGERED and incident.resolved_at is None


def test_the_summary_is_kept_on_the_incident_and_its_timeline_and_shown(client_as):
    client = client_as("operator")
    incident = make_incident()
    response = client.post(
        resolve_url(incident), {"summary": "  Restarted the pool; error rate back to 0.  "}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.resolution_summary == "Restarted the pool; error rate back to 0."
    event = incident.events.filter(kind=EventKind.STATUS, data__to=Status.RESOLVED).get()
    assert event.data["summary"] == "Restarted the pool; error rate back to 0."
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Restarted the pool; error rate back to 0." in page


def test_a_summary_longer_than_4000_characters_is_refused(client_as):
    client = client_as("operator")
    incident = make_incident()
    assert client.post(resolve_url(incident), {"summary": "x" * 4001}).status_code == 400
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_the_resolve_form_asks_for_the_summary(client_as):
    client = client_as("operator")
    incident = make_incident()
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'name="summary"' in page and "required" in page[page.index('name="summary"') - 200 :]


def test_a_reopened_and_resolved_again_incident_keeps_the_newest_summary(make_user):
    user = make_user("operator")
    incident = make_incident()
    services.resolve(incident=incident, by=user, summary="First fix")
    services.reopen(incident=incident, by=user)
    services.resolve(incident=incident, by=user, summary="Second fix")
    incident.refresh_from_db()
    assert incident.resolution_summary == "Second fix"
