"""A probe's incident is the alerting's to set and clear, in the admin as in the API."""

import pytest
from django.urls import reverse

from tests.adminform import change_form_data, post_change_form, staff_client
from tests.incidents.factories import make_incident
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db


def change_url(probe):
    return reverse("admin:probes_probe_change", args=[probe.pk])


def test_a_probes_incident_is_read_only_in_the_admin(make_user):
    probe = make_probe(config={"url": "https://example.com/health"})
    manager = staff_client(make_user, "manager")
    assert "incident" not in change_form_data(manager, change_url(probe))
    response = post_change_form(
        manager, change_url(probe), incident=make_incident().pk, name="Health"
    )
    assert response.status_code == 302
    probe.refresh_from_db()
    assert probe.name == "Health" and probe.incident is None


def test_the_api_does_not_set_a_probes_incident(api_as):
    probe = make_probe(config={"url": "https://example.com/health"})
    answer = api_as("manager").patch(
        f"/api/v1/probes/{probe.pk}", {"incident": make_incident().pk}, format="json"
    )
    assert answer.status_code == 200
    probe.refresh_from_db()
    assert probe.incident is None
