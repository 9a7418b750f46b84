import json

import pytest
from django.urls import reverse


@pytest.fixture
def post_alerts(client):
    """POST a body to an integration's real URL, as a sender does (no login, JSON)."""

    def post(integration, body, **extra):
        url = reverse("integration-alerts", args=[integration.token])
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return client.post(url, data, content_type="application/json", **extra)

    return post


@pytest.fixture
def enqueued(monkeypatch, django_capture_on_commit_callbacks):
    """The background tasks enqueued after each commit (escalations), recorded instead of sent."""
    calls = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args: calls.append((func, *args))
    )
    return calls
