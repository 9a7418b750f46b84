"""Alertmanager and Grafana samples (firing, then resolved) through the real URL: one incident,
routed by the rules, escalating, auto-resolved; repeats neither add incidents nor flood the
timeline."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Delivery, Outcome
from incidents import services as incidents
from incidents.models import (
    EventKind,
    Incident,
    MaintenanceWindow,
    RecurringMaintenanceWindow,
    Source,
    Status,
)
from tests.alerts.factories import make_integration, prometheus, sample
from tests.incidents.factories import make_policy, make_service, make_tier

pytestmark = pytest.mark.django_db

RULES = [
    {"match": [{"label": "severity", "op": "equals", "value": "critical"}], "severity": "sev1"},
    {
        "match": [{"label": "service", "op": "regex", "value": "judgment.*"}],
        "service": "Judgment",
        "category": "API down",
    },
    {
        "match": [{"label": "team", "op": "equals", "value": "judgment"}],
        "service": "Judgment",
        "severity": "sev2",
    },
]


@pytest.fixture
def judgment():
    service = make_service("Judgment")
    tier = make_tier(1, "ops")
    make_policy("sev1", [{"tier": tier}], service=service)
    make_policy("sev2", [{"tier": tier}], service=service)
    return service


def events(incident, kind=EventKind.ALERT):
    return [event.text for event in incident.events.filter(kind=kind).order_by("at", "id")]


@pytest.mark.parametrize(
    ("kind", "firing", "resolved", "severity", "category"),
    [
        ("alertmanager", "alertmanager_firing", "alertmanager_resolved", "sev1", "API down"),
        ("grafana", "grafana_firing", "grafana_resolved", "sev2", ""),
    ],
)
def test_a_documented_sample_opens_one_routed_escalating_incident_then_resolves_it(
    judgment,
    post_alerts,
    enqueued,
    django_capture_on_commit_callbacks,
    kind,
    firing,
    resolved,
    severity,
    category,
):
    integration = make_integration(kind, name="prom", rules=RULES)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_alerts(integration, sample(firing))
    assert response.status_code == 200, response.content
    [incident] = Incident.objects.all()
    assert response.json() == {"alerts": 1, "outcomes": {"opened": 1}, "incidents": [incident.pk]}
    assert (incident.service, incident.severity, incident.category) == (
        judgment,
        severity,
        category,
    )
    assert incident.source == Source.ALERT and incident.status == Status.TRIGGERED
    assert (
        incident.dedup_key == f"alert:{integration.pk}:{sample(firing)['alerts'][0]['fingerprint']}"
    )
    # Escalation started: the policy is on the incident and its first step is queued, after the
    # commit.
    assert incident.escalation_snapshot["policy"] and incident.escalation_started_at is not None
    assert enqueued == [("incidents.tasks.escalate_incident", incident.pk)]

    for _ in range(5):
        assert post_alerts(integration, sample(firing)).status_code == 200
    assert Incident.objects.count() == 1
    alert = Alert.objects.get()
    assert (alert.fire_count, alert.outcome) == (6, Outcome.REPEAT)
    assert len(events(incident)) == 1  # repeats within the repeat interval add nothing
    assert not incident.events.filter(kind=EventKind.DUPLICATE).exists()

    response = post_alerts(integration, sample(resolved))
    assert response.json()["outcomes"] == {"resolved": 1}
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED and incident.resolved_by is None
    status_event = incident.events.filter(kind=EventKind.STATUS).get()
    assert status_event.text == "Resolved by integration prom"
    assert events(incident)[-1].startswith("Alert resolved: ")
    assert Delivery.objects.filter(integration=integration, status_code=200).count() == 7


def test_a_still_firing_alert_adds_one_timeline_event_per_repeat_interval(judgment, post_alerts):
    integration = make_integration(rules=RULES, repeat_minutes=30)
    start = timezone.now()
    for minutes in (0, 10, 20, 31, 40, 62):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            post_alerts(integration, sample("alertmanager_firing"))
    [incident] = Incident.objects.all()
    notes = events(incident)
    assert len(notes) == 3  # opened, then at 31 and 62 minutes
    assert notes[1].startswith("Still firing: ") and notes[1].endswith("(4 deliveries)")
    assert Alert.objects.get().fire_count == 6


def test_labels_annotations_and_safe_links_are_on_the_incident_page(
    judgment, post_alerts, client_as
):
    integration = make_integration("grafana", rules=RULES)
    body = sample("grafana_firing")
    body["alerts"][0]["panelURL"] = "javascript:alert(1)"
    post_alerts(integration, body)
    incident = Incident.objects.get()
    page = client_as("viewer").get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "zone=kr-1" in page and "Memory use on the judgment workers is above 90%" in page
    assert 'href="https://grafana.internal/d/judgment-overview"' in page
    assert 'href="https://grafana.internal/alerting/grafana/aa11bb22/view"' in page
    assert "javascript:" not in page
    event = incident.events.filter(kind=EventKind.ALERT).get()
    assert event.data["labels"]["zone"] == "kr-1" and event.data["values"] == {"B": 93.25, "C": 1.0}


def test_a_resolved_alert_without_an_incident_is_recorded_and_ignored(judgment, post_alerts):
    integration = make_integration(rules=RULES)
    response = post_alerts(integration, sample("alertmanager_resolved"))
    assert response.status_code == 200 and response.json()["outcomes"] == {"ignored": 1}
    assert not Incident.objects.exists()
    alert = Alert.objects.get()
    assert (alert.status, alert.outcome, alert.incident) == ("resolved", Outcome.IGNORED, None)
    assert Delivery.objects.get().body.startswith("{")


def test_an_alert_firing_again_after_resolution_opens_a_new_incident_naming_the_old(
    judgment, post_alerts
):
    integration = make_integration(rules=RULES)
    post_alerts(integration, sample("alertmanager_firing"))
    post_alerts(integration, sample("alertmanager_resolved"))
    first = Incident.objects.get()
    assert first.status == Status.RESOLVED
    response = post_alerts(integration, sample("alertmanager_firing"))
    assert response.json()["outcomes"] == {"opened": 1}
    second = Incident.objects.exclude(pk=first.pk).get()
    assert second.status == Status.TRIGGERED and second.dedup_key == first.dedup_key
    assert f"incident #{first.pk} was resolved" in events(second)[0]
    first.refresh_from_db()
    assert first.status == Status.RESOLVED
    assert Alert.objects.get().fire_count == 1  # counting starts again


def test_a_resolved_alert_after_a_person_resolved_the_incident_changes_nothing(
    judgment, post_alerts, make_user
):
    integration = make_integration(rules=RULES)
    post_alerts(integration, sample("alertmanager_firing"))
    incident = Incident.objects.get()
    incidents.resolve(incident=incident, by=make_user("operator"))
    assert post_alerts(integration, sample("alertmanager_resolved")).json()["outcomes"] == {
        "ignored": 1
    }
    assert incident.events.filter(kind=EventKind.STATUS).count() == 1


@pytest.mark.parametrize("takeover", ["reopen", "commander"])
def test_a_resolved_alert_leaves_open_an_incident_a_person_took_over(
    judgment, post_alerts, make_user, takeover
):
    integration = make_integration(rules=RULES)
    person = make_user("operator")
    post_alerts(integration, sample("alertmanager_firing"))
    incident = Incident.objects.get()
    if takeover == "reopen":
        incidents.resolve(incident=incident, by=person)
        incidents.reopen(incident=incident, by=person, reason="still broken")
    else:
        incidents.edit_incident(incident=incident, by=person, changes={"commander": person})
    response = post_alerts(integration, sample("alertmanager_resolved"))
    assert response.json()["outcomes"] == {"kept_open": 1}
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert "left open: a person holds this incident" in events(incident)[-1]


def test_grouping_puts_a_group_in_one_incident_that_resolves_with_its_last_alert(
    judgment, post_alerts
):
    integration = make_integration(group_by_key=True)
    post_alerts(
        integration,
        prometheus(
            [
                {"fingerprint": "a", "labels": {"alertname": "Disk", "host": "db1"}},
                {"fingerprint": "b", "labels": {"alertname": "Disk", "host": "db2"}},
            ]
        ),
    )
    post_alerts(
        integration,
        prometheus([{"fingerprint": "c", "labels": {"alertname": "Disk", "host": "db3"}}]),
    )
    [incident] = Incident.objects.all()
    assert len(events(incident)) == 3 and set(Alert.objects.values_list("incident", flat=True)) == {
        incident.pk
    }
    post_alerts(integration, prometheus([{"fingerprint": "a", "status": "resolved"}]))
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert events(incident)[-1].endswith("(2 of the group still firing)")
    # The last two resolve in one delivery: the incident resolves once.
    post_alerts(
        integration,
        prometheus(
            [{"fingerprint": "b", "status": "resolved"}, {"fingerprint": "c", "status": "resolved"}]
        ),
    )
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.events.filter(kind=EventKind.STATUS).count() == 1


def test_another_group_opens_its_own_incident(judgment, post_alerts):
    integration = make_integration(group_by_key=True)
    post_alerts(integration, prometheus([{"fingerprint": "a"}], group_key='{}:{alertname="A"}'))
    post_alerts(integration, prometheus([{"fingerprint": "b"}], group_key='{}:{alertname="B"}'))
    assert Incident.objects.count() == 2


def test_a_maintenance_window_records_the_alert_without_paging_then_the_next_repeat_opens_it(
    judgment, post_alerts
):
    integration = make_integration(rules=RULES)
    now = timezone.now()
    MaintenanceWindow.objects.create(
        service=judgment, starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=30)
    )
    response = post_alerts(integration, sample("alertmanager_firing"))
    assert response.json()["outcomes"] == {"silenced": 1}
    assert not Incident.objects.exists()
    with time_machine.travel(now + timedelta(minutes=31), tick=False):
        assert post_alerts(integration, sample("alertmanager_firing")).json()["outcomes"] == {
            "opened": 1
        }
    assert Incident.objects.get().service == judgment


def test_a_recurring_maintenance_window_silences_alerts_inside_it_only(
    judgment, post_alerts, settings
):
    # Tuesday 02:00–04:00 patches (issue 16's recurring windows), in the portal's time zone.
    RecurringMaintenanceWindow.objects.create(
        service=judgment, cron="0 2 * * 2", duration=timedelta(hours=2)
    )
    integration = make_integration(rules=RULES)
    tuesday = datetime(2027, 1, 5, 2, 30, tzinfo=ZoneInfo(settings.TIME_ZONE))
    with time_machine.travel(tuesday, tick=False):
        assert post_alerts(integration, sample("alertmanager_firing")).json()["outcomes"] == {
            "silenced": 1
        }
    assert not Incident.objects.exists()
    with time_machine.travel(tuesday + timedelta(hours=1, minutes=31), tick=False):
        assert post_alerts(integration, sample("alertmanager_firing")).json()["outcomes"] == {
            "opened": 1
        }


def test_a_rule_may_say_not_to_page(judgment, post_alerts):
    integration = make_integration(
        rules=[{"match": [{"label": "severity", "op": "equals", "value": "info"}], "page": False}]
    )
    response = post_alerts(
        integration,
        prometheus([{"fingerprint": "i", "labels": {"alertname": "X", "severity": "info"}}]),
    )
    assert response.json()["outcomes"] == {"not_paged": 1}
    assert not Incident.objects.exists()
    assert post_alerts(integration, prometheus([{"fingerprint": "j"}])).json()["outcomes"] == {
        "opened": 1
    }


def test_the_generic_shape_opens_and_resolves_by_its_dedup_key(judgment, post_alerts):
    integration = make_integration(
        "generic",
        rules=[
            {
                "match": [{"label": "host", "op": "regex", "value": "db[0-9]+"}],
                "category": "database",
            }
        ],
    )
    body = {
        "title": "Disk almost full on db1",
        "status": "firing",
        "dedup_key": "db1-disk",
        "severity": "sev3",
        "service": "Judgment",
        "details": {"host": "db1", "used_percent": 97},
    }
    assert post_alerts(integration, body).json()["outcomes"] == {"opened": 1}
    incident = Incident.objects.get()
    assert (incident.service, incident.severity, incident.category) == (
        judgment,
        "sev3",
        "database",
    )
    assert incident.title == "Disk almost full on db1"
    assert incident.dedup_key == f"alert:{integration.pk}:db1-disk"
    post_alerts(integration, {**body, "status": "resolved"})
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_a_thousand_alerts_in_one_request_open_a_thousand_incidents(judgment, post_alerts):
    integration = make_integration()
    body = prometheus(
        [
            {"fingerprint": f"fp-{i:04}", "labels": {"alertname": "X", "n": str(i)}}
            for i in range(1000)
        ]
    )
    response = post_alerts(integration, body)
    assert response.json()["outcomes"] == {"opened": 1000}
    assert Incident.objects.count() == 1000 == Alert.objects.filter(outcome=Outcome.OPENED).count()
    assert post_alerts(integration, body).json()["outcomes"] == {"repeat": 1000}
    assert Incident.objects.count() == 1000


def test_long_fingerprints_that_share_a_prefix_open_their_own_incidents(judgment, post_alerts):
    integration = make_integration()
    prefix = "f" * 195
    post_alerts(
        integration, prometheus([{"fingerprint": prefix + "1"}, {"fingerprint": prefix + "2"}])
    )
    assert Incident.objects.count() == 2
    assert all(len(key) <= 200 for key in Incident.objects.values_list("dedup_key", flat=True))
