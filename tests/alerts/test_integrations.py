"""Integrations through the API, the admin and the managers' page: rules checked as a whole,
the URL (a credential) shown to managers only and rotatable, deliveries kept and pruned."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts import services
from alerts.models import Delivery, Integration
from alerts.routing import Route, route
from tests.alerts.factories import make_integration, sample
from tests.incidents.factories import make_service

pytestmark = pytest.mark.django_db


def create(api, **fields):
    service = make_service("Judgment") if not fields.get("default_service") else None
    body = {
        "name": "prometheus",
        "kind": "alertmanager",
        "default_service": service.pk if service else None,
        "default_severity": "sev2",
        **fields,
    }
    return api.post("/api/v1/integrations", body, format="json")


def test_a_manager_creates_an_integration_and_sees_its_url(api_as):
    api = api_as("manager")
    rules = [
        {"match": [{"label": "severity", "op": "equals", "value": "critical"}], "severity": "sev1"},
        {
            "match": [{"label": "service", "op": "regex", "value": "judgment.*"}],
            "service": "Judgment",
        },
    ]
    response = create(api, rules=rules)
    assert response.status_code == 201, response.content
    integration = Integration.objects.get()
    assert integration.rules == rules
    assert response.json()["url"].endswith(f"/api/v1/integrations/{integration.token}/alerts")


def test_a_viewer_reads_integrations_without_the_url(api_as):
    integration = make_integration()
    response = api_as("viewer").get(f"/api/v1/integrations/{integration.pk}")
    assert response.status_code == 200
    assert (
        response.json()["url"] is None and str(integration.token) not in response.content.decode()
    )


@pytest.mark.parametrize(
    ("rules", "path", "fragment"),
    [
        (
            [
                {
                    "match": [{"label": "service", "op": "regex", "value": "judgment(["}],
                    "service": "Judgment",
                }
            ],
            ["rules", "0", "match", "0", "value"],
            "Not a valid regular expression",
        ),
        (
            [
                {"match": [{"label": "a", "op": "equals", "value": "b"}], "severity": "sev1"},
                {"match": [{"label": "a", "op": "like", "value": "b"}], "service": "Nowhere"},
            ],
            ["rules", "1", "match", "0", "op"],
            "op is one of",
        ),
        (
            [{"match": [{"label": "a", "op": "equals", "value": "b"}], "service": "Nowhere"}],
            ["rules", "0", "service"],
            "No service is named",
        ),
        ([{"match": [], "severity": "sev1"}], ["rules", "0", "match"], "at least one matcher"),
        (
            [{"match": [{"label": "a", "op": "exists"}]}],
            ["rules", "0", "non_field_errors"],
            "sets at least one",
        ),
        ({"severity": "sev1"}, ["rules", "non_field_errors"], "a list"),
        (["severity=sev1"], ["rules", "0", "non_field_errors"], "A rule is an object"),
    ],
)
def test_bad_rules_are_a_400_naming_the_rule_and_field(api_as, rules, path, fragment):
    response = create(api_as("manager"), rules=rules)
    assert response.status_code == 400, response.content
    node = response.json()
    for key in path:
        node = node[key]
    assert fragment in " ".join(node)
    assert not Integration.objects.exists()


def test_rotating_makes_a_new_url_and_the_old_one_404s(api_as, client):
    integration = make_integration()
    old = reverse("integration-alerts", args=[integration.token])
    response = api_as("manager").post(f"/api/v1/integrations/{integration.pk}/rotate")
    assert response.status_code == 200
    integration.refresh_from_db()
    assert response.json()["url"].endswith(f"/{integration.token}/alerts")
    assert client.post(old, "{}", content_type="application/json").status_code == 404


def test_an_operator_may_not_rotate_nor_read_deliveries(api_as):
    integration = make_integration()
    api = api_as("operator")
    assert api.post(f"/api/v1/integrations/{integration.pk}/rotate").status_code == 403
    assert api.get(f"/api/v1/integrations/{integration.pk}/deliveries").status_code == 403


def test_deliveries_show_what_arrived_newest_first(api_as, post_alerts):
    integration = make_integration()
    post_alerts(integration, sample("alertmanager_firing"))
    post_alerts(integration, "{broken")
    rows = api_as("manager").get(f"/api/v1/integrations/{integration.pk}/deliveries").json()
    assert [row["status_code"] for row in rows] == [400, 200]
    assert rows[0]["body"] == "{broken" and rows[1]["alert_count"] == 1


def test_deliveries_are_pruned_by_age_and_count():
    integration = make_integration()
    now = timezone.now()
    for age in range(8):
        services.record_delivery(
            integration=integration, status_code=200, body=b"{}", now=now - timedelta(days=age * 5)
        )
    assert services.prune_deliveries(now=now, days=14, keep=2) == 6
    kept = Delivery.objects.order_by("-received_at")
    assert [d.received_at for d in kept] == [now, now - timedelta(days=5)]


def test_a_delivery_keeps_a_bounded_body():
    integration = make_integration()
    delivery = services.record_delivery(
        integration=integration, status_code=400, body=b"x" * 100_000
    )
    assert len(delivery.body) == services.DELIVERY_BODY_LIMIT and delivery.body_size == 100_000


def test_rules_apply_in_order_later_overriding_until_stop():
    judgment, other = make_service("Judgment"), make_service("Other")
    integration = make_integration(
        service=other,
        rules=[
            {
                "match": [{"label": "severity", "op": "equals", "value": "critical"}],
                "severity": "sev1",
            },
            {
                "match": [{"label": "service", "op": "regex", "value": "judgment.*"}],
                "service": "Judgment",
                "stop": True,
            },
            {
                "match": [{"annotation": "runbook_url", "op": "exists"}],
                "severity": "sev4",
                "page": False,
            },
        ],
    )
    services_by_name = {"Judgment": judgment}
    assert route(
        integration,
        {"severity": "critical", "service": "judgment-api"},
        {"runbook_url": "u"},
        services=services_by_name,
    ) == Route(judgment, "sev1", "", True)
    assert route(
        integration,
        {"severity": "critical", "service": "xjudgment"},
        {"runbook_url": "u"},
        services=services_by_name,
    ) == Route(other, "sev4", "", False)
    assert route(integration, {}, {}, services=services_by_name) == Route(other, "sev2", "", True)


def test_the_managers_page_shows_the_snippet_with_its_own_url(client_as):
    integration = make_integration()
    page = (
        client_as("manager")
        .get(reverse("alerts:integration", args=[integration.pk]))
        .content.decode()
    )
    assert "webhook_configs:" in page and f"/api/v1/integrations/{integration.token}/alerts" in page
    grafana = make_integration("grafana")
    page = (
        client_as("manager").get(reverse("alerts:integration", args=[grafana.pk])).content.decode()
    )
    assert "type: webhook" in page and str(grafana.token) in page


def test_the_page_is_korean_for_a_korean_user(client_as):
    integration = make_integration()
    client = client_as("manager")
    page = client.get(
        reverse("alerts:integration", args=[integration.pk]), HTTP_ACCEPT_LANGUAGE="ko"
    ).content
    assert "알림" in page.decode()


def test_an_operator_may_not_open_the_integration_pages(client_as):
    integration = make_integration()
    client = client_as("operator")
    assert client.get(reverse("alerts:integrations")).status_code == 403
    assert client.get(reverse("alerts:integration", args=[integration.pk])).status_code == 403


def test_rotating_from_the_page(client_as):
    integration = make_integration()
    token = integration.token
    response = client_as("manager").post(reverse("alerts:rotate", args=[integration.pk]))
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.token != token


def test_the_admin_refuses_a_bad_regex_naming_the_rule(client_as, make_user, client):
    user = make_user("admin")
    user.is_staff = True
    user.save()
    client.force_login(user)
    service = make_service("Judgment")
    response = client.post(
        reverse("admin:alerts_integration_add"),
        {
            "name": "x",
            "kind": "alertmanager",
            "default_service": service.pk,
            "default_severity": "sev2",
            "enabled": "on",
            "repeat_minutes": 60,
            "rules": json.dumps(
                [{"match": [{"label": "a", "op": "regex", "value": "(("}], "severity": "sev1"}]
            ),
        },
    )
    assert response.status_code == 200
    assert "rules[0].match[0].value: Not a valid regular expression" in response.content.decode()
    assert not Integration.objects.exists()


def test_a_manager_creates_and_edits_an_integration_on_its_page(client_as):
    service = make_service("Judgment")
    client = client_as("manager")
    fields = {
        "name": "prometheus",
        "kind": "alertmanager",
        "default_service": service.pk,
        "default_severity": "sev2",
        "enabled": "on",
        "repeat_minutes": 60,
        "rules": json.dumps(
            [
                {
                    "match": [{"label": "severity", "op": "equals", "value": "critical"}],
                    "severity": "sev1",
                }
            ]
        ),
    }
    response = client.post(reverse("alerts:create"), fields)
    integration = Integration.objects.get()
    assert response.status_code == 302 and response["Location"] == integration.get_absolute_url()
    assert integration.rules[0]["severity"] == "sev1"
    response = client.post(
        reverse("alerts:edit", args=[integration.pk]), {**fields, "rules": "", "enabled": ""}
    )
    integration.refresh_from_db()
    assert response.status_code == 302 and (integration.rules, integration.enabled) == ([], False)


def test_the_page_refuses_a_bad_regex_naming_the_rule_and_keeps_the_old_rules(client_as):
    integration = make_integration(
        rules=[{"match": [{"label": "a", "op": "exists"}], "page": False}]
    )
    response = client_as("manager").post(
        reverse("alerts:edit", args=[integration.pk]),
        {
            "name": integration.name,
            "kind": "alertmanager",
            "default_service": integration.default_service_id,
            "default_severity": "sev2",
            "repeat_minutes": 60,
            "rules": json.dumps(
                [{"match": [{"label": "a", "op": "regex", "value": "(["}], "severity": "sev1"}]
            ),
        },
    )
    assert response.status_code == 400
    assert "rules[0].match[0].value: Not a valid regular expression" in response.content.decode()
    integration.refresh_from_db()
    assert integration.rules == [{"match": [{"label": "a", "op": "exists"}], "page": False}]


def test_an_operator_may_not_create_an_integration(client_as):
    assert client_as("operator").get(reverse("alerts:create")).status_code == 403
