"""Bad input answered 4xx with a message naming the problem, never 500; every refused body is
kept."""

import json

import pytest
from django.urls import reverse

from alerts.models import Delivery, Integration
from incidents.models import Incident
from tests.alerts.factories import make_integration, prometheus, sample

pytestmark = pytest.mark.django_db


def firing_without(field):
    body = sample("alertmanager_firing")
    del body["alerts"][0][field]
    return body


def with_alert(**changes):
    body = sample("alertmanager_firing")
    body["alerts"][0].update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "field_path"),
    [
        ("{not json", ["detail"]),
        ("[1, 2]", ["non_field_errors"]),
        (json.dumps({"status": "firing"}), ["alerts"]),
        (json.dumps(with_alert(status="pending")), ["alerts", 0, "status"]),
        (json.dumps(firing_without("fingerprint")), ["alerts", 0, "fingerprint"]),
        (json.dumps(with_alert(labels=["severity=critical"])), ["alerts", 0, "labels"]),
        (json.dumps(with_alert(labels={"severity": 5})), ["alerts", 0, "labels", "severity"]),
        (json.dumps(with_alert(startsAt="yesterday")), ["alerts", 0, "startsAt"]),
        (json.dumps({**sample("alertmanager_firing"), "status": "silenced"}), ["status"]),
        (json.dumps({**sample("alertmanager_firing"), "alerts": {"a": 1}}), ["alerts"]),
        (json.dumps(with_alert(labels={"a\u0000b": "x"})), ["alerts", 0, "labels"]),
        (
            json.dumps(with_alert(annotations={"summary": "a\u0000b"})),
            ["alerts", 0, "annotations", "summary"],
        ),
    ],
)
def test_a_malformed_body_is_a_400_naming_the_field_and_is_kept(post_alerts, body, field_path):
    integration = make_integration()
    response = post_alerts(integration, body)
    assert response.status_code == 400, response.content
    errors = response.json()
    node = errors
    for key in field_path:
        node = node[key] if isinstance(node, list) or key in node else node[str(key)]
    assert node, errors
    assert not Incident.objects.exists()
    delivery = Delivery.objects.get()
    assert (delivery.status_code, delivery.body, delivery.alert_count) == (400, body, 0)
    assert delivery.errors


def test_the_generic_shape_names_its_missing_fields(post_alerts):
    integration = make_integration("generic")
    response = post_alerts(integration, {"status": "burning", "severity": "sev9"})
    assert response.status_code == 400
    assert set(response.json()) >= {"title", "dedup_key", "status", "severity"}


def test_nul_characters_in_generic_details_are_refused(post_alerts):
    integration = make_integration("generic")
    response = post_alerts(
        integration,
        {
            "title": "t",
            "status": "firing",
            "dedup_key": "k",
            "details": {"host": "db\u00001", "nested": [{"a\u0000": 1}]},
        },
    )
    assert response.status_code == 400 and "details" in response.json()
    assert not Incident.objects.exists()


def test_a_wrong_uuid_is_a_404_and_keeps_nothing(client, post_alerts):
    make_integration()
    response = client.post(
        "/api/v1/integrations/00000000-0000-0000-0000-000000000000/alerts",
        json.dumps(sample("alertmanager_firing")),
        content_type="application/json",
    )
    assert response.status_code == 404
    assert (
        client.post(
            "/api/v1/integrations/not-a-uuid/alerts", "{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert not Delivery.objects.exists()


def test_a_disabled_integration_answers_410_and_opens_nothing(post_alerts):
    integration = make_integration(enabled=False)
    response = post_alerts(integration, sample("alertmanager_firing"))
    assert response.status_code == 410
    assert response.json()["detail"] == "This integration is disabled."
    assert not Incident.objects.exists()
    assert Delivery.objects.get().status_code == 410


def test_a_body_over_the_limit_is_a_413(post_alerts, settings):
    settings.MAX_REQUEST_BYTES = 50_000
    integration = make_integration()
    body = prometheus(
        [{"fingerprint": f"f{i}", "annotations": {"description": "x" * 100}} for i in range(1000)]
    )
    response = post_alerts(integration, body)
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert not Incident.objects.exists()


def test_a_body_over_the_in_memory_limit_is_a_413_too(post_alerts, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000
    integration = make_integration()
    body = prometheus(
        [{"fingerprint": f"f{i}", "annotations": {"description": "x" * 100}} for i in range(100)]
    )
    response = post_alerts(integration, body)
    assert response.status_code == 413
    assert (
        response.json()["detail"]
        == "The body is larger than 5000 bytes; send fewer alerts at once."
    )
    assert not Incident.objects.exists()
    assert Delivery.objects.get().status_code == 413


def test_get_is_not_allowed(client):
    integration = make_integration()
    assert client.get(reverse("integration-alerts", args=[integration.token])).status_code == 405


def test_a_text_body_is_refused_with_415(post_alerts, client):
    integration = make_integration()
    response = client.post(
        reverse("integration-alerts", args=[integration.token]), "firing", content_type="text/plain"
    )
    assert response.status_code == 415
    assert Delivery.objects.get().status_code == 415


def test_an_old_url_stops_working_when_rotated(post_alerts, client):
    from alerts import services

    integration = make_integration()
    old = reverse("integration-alerts", args=[integration.token])
    services.rotate_token(integration=integration)
    assert client.post(old, "{}", content_type="application/json").status_code == 404
    assert post_alerts(Integration.objects.get(), sample("alertmanager_firing")).status_code == 200
