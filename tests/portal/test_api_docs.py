"""The API docs pages (issue 23): served from the portal alone (the Content-Security-Policy blocks
anything else), grouped by app, with a way back to the portal."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def external_addresses(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(https?://[^"]+)"', html) + re.findall(
        r"https?://[\w.-]+\.(?:com|io)\b", html
    )


@pytest.mark.parametrize("name", ["api-docs", "api-redoc"])
def test_the_docs_pages_load_nothing_from_elsewhere_and_link_back_to_the_portal(client_as, name):
    response = client_as("viewer").get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert external_addresses(html) == []
    assert f'href="{reverse("dashboard")}"' in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_swagger_ui_is_told_not_to_fetch_the_validator_badge(client_as):
    client = client_as("viewer")
    html = client.get(reverse("api-docs")).content.decode()
    script = re.search(
        r'<script src="([^"]+swagger-ui-init[^"]*|[^"]*api/docs/\?script[^"]*)"', html
    )
    body = client.get(script.group(1)).content.decode() if script else html
    assert '"validatorUrl": null' in body


def test_operations_are_grouped_by_app(client_as):
    schema = client_as("viewer").get(reverse("api-schema"), {"format": "json"}).json()
    tags = {}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for tag in operation["tags"]:
                tags.setdefault(tag, set()).add(path)
    assert {"incidents", "checklists", "probes", "backups", "oncall", "alerts", "portal"} <= set(
        tags
    )
    assert (
        "/api/v1/incidents" in tags["incidents"] and "/api/v1/checklist-runs" in tags["checklists"]
    )
    assert "/api/v1/heartbeats/{token}" in tags["probes"] and "/api/health" in tags["portal"]
    assert "v1" not in tags
    assert {tag["name"] for tag in schema["tags"]} == set(tags)
