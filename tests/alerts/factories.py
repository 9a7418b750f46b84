import copy
import json
from pathlib import Path

from alerts.models import Integration
from tests.incidents.factories import make_service

FIXTURES = Path(__file__).parent / "fixtures"


def sample(name: str) -> dict:
    """A payload as the sender posts it (tests/alerts/fixtures, after the senders' documented
    samples)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def make_integration(
    kind: str = "alertmanager", *, name: str | None = None, service=None, **fields
) -> Integration:
    return Integration.objects.create(
        name=name or f"{kind}-{Integration.objects.count() + 1}",
        kind=kind,
        default_service=service or make_service(),
        **fields,
    )


def prometheus(
    alerts: list[dict], *, status: str | None = None, group_key: str = '{}:{alertname="X"}'
) -> dict:
    """An Alertmanager webhook v4 body around `alerts` (each: fingerprint, status, labels,
    annotations…)."""
    body = copy.deepcopy(sample("alertmanager_firing"))
    body["groupKey"] = group_key
    body["alerts"] = [
        {
            "status": "firing",
            "labels": {"alertname": "X"},
            "annotations": {},
            "startsAt": "2026-12-07T08:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            **alert,
        }
        for alert in alerts
    ]
    body["status"] = status or (
        "firing" if any(a["status"] == "firing" for a in body["alerts"]) else "resolved"
    )
    return body
