import csv
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from incidents import services
from incidents.models import (
    EscalationPolicy,
    EventKind,
    Incident,
    MaintenanceWindow,
    Notification,
    NotificationChannel,
    Service,
    Status,
    TimelineEvent,
)
from tests.incidents.factories import make_contact, make_policy, make_service, make_tier

pytestmark = pytest.mark.django_db

MODELS = [
    "service",
    "tier",
    "contact",
    "notificationchannel",
    "escalationpolicy",
    "maintenancewindow",
    "incident",
    "timelineevent",
    "notification",
]


@pytest.fixture
def manager(client, make_user):
    user = make_user("manager", is_staff=True)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def data():
    tier = make_tier(1, "Operations")
    contact = make_contact("Mina Seo", tier=tier, phone="010-0000-0101")
    service = make_service("Data hub", owner=contact)
    policy = make_policy("sev1", [{"tier": tier}, {"contacts": [contact]}])
    first, _ = services.open_incident(
        service=service, title='=HYPERLINK("http://evil")', severity="sev1"
    )
    second, _ = services.open_incident(service=service, title="Disk full", severity="sev2")
    Notification.objects.create(
        incident=first,
        step=0,
        condition="not_resolved",
        kind="email",
        target=contact.email,
        status="sent",
    )
    return {
        "tier": tier,
        "contact": contact,
        "service": service,
        "policy": policy,
        "incidents": [first, second],
    }


def changelist(model):
    return reverse(f"admin:incidents_{model}_changelist")


def test_a_manager_sees_every_incidents_model_with_filters_and_search(manager, data):
    for model in MODELS:
        assert manager.get(changelist(model)).status_code == 200, model
        assert manager.get(changelist(model), {"q": "Data"}).status_code == 200, model
    response = manager.get(
        changelist("incident"), {"status__exact": "triggered", "severity__exact": "sev1"}
    )
    assert list(response.context["cl"].result_list) == [data["incidents"][0]]


def test_the_incident_changelist_runs_a_constant_number_of_queries(
    manager, data, django_assert_max_num_queries
):
    for i in range(30):
        services.open_incident(service=data["service"], title=f"incident {i}", severity="sev3")
    with django_assert_max_num_queries(20):
        assert manager.get(changelist("incident")).status_code == 200


def test_change_pages_show_inlines_for_timeline_steps_and_channels(manager, data):
    incident = data["incidents"][0]
    page = manager.get(
        reverse("admin:incidents_incident_change", args=[incident.pk])
    ).content.decode()
    assert "Opened:" in page  # the read-only timeline inline
    page = manager.get(reverse("admin:incidents_escalationpolicy_change", args=[data["policy"].pk]))
    assert page.status_code == 200 and "steps-TOTAL_FORMS" in page.content.decode()
    page = manager.get(reverse("admin:incidents_contact_change", args=[data["contact"].pk]))
    assert "channels-TOTAL_FORMS" in page.content.decode()


def test_the_timeline_and_notifications_are_read_only_in_the_admin(manager, data):
    event = TimelineEvent.objects.first()
    assert manager.get(reverse("admin:incidents_timelineevent_add")).status_code == 403
    response = manager.post(
        reverse("admin:incidents_timelineevent_change", args=[event.pk]), {"message": "x"}
    )
    assert response.status_code == 403
    assert (
        manager.post(
            reverse("admin:incidents_timelineevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert TimelineEvent.objects.filter(pk=event.pk, message=event.message).exists()


def test_bulk_acknowledge_and_resolve_go_through_the_services(manager, data):
    first, second = data["incidents"]
    response = manager.post(
        changelist("incident"),
        {"action": "acknowledge_incidents", ACTION_CHECKBOX_NAME: [first.pk, second.pk]},
        follow=True,
    )
    assert "2 incidents acknowledged" in response.content.decode()
    assert set(Incident.objects.values_list("status", flat=True)) == {Status.ACKNOWLEDGED}
    assert TimelineEvent.objects.filter(kind=EventKind.STATUS, actor_user=manager.user).count() == 2

    response = manager.post(
        changelist("incident"),
        {"action": "acknowledge_incidents", ACTION_CHECKBOX_NAME: [first.pk]},
        follow=True,
    )
    # a refused transition is a message, not a 500
    assert "Not changed" in response.content.decode()

    manager.post(
        changelist("incident"), {"action": "resolve_incidents", ACTION_CHECKBOX_NAME: [first.pk]}
    )
    first.refresh_from_db()
    assert first.status == Status.RESOLVED and first.resolved_by == manager.user


def test_csv_export_streams_the_selected_rows_with_formulas_neutralised(manager, data):
    first, second = data["incidents"]
    response = manager.post(
        changelist("incident"),
        {"action": "export_csv", ACTION_CHECKBOX_NAME: [first.pk, second.pk]},
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["id", "title", "service__name"]
    assert [row[0] for row in rows[1:]] == [str(first.pk), str(second.pk)]
    assert rows[1][1].startswith("'=")
    assert rows[1][2] == "Data hub"

    response = manager.post(
        changelist("contact"), {"action": "export_csv", ACTION_CHECKBOX_NAME: [data["contact"].pk]}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][1] == "Mina Seo" and rows[1][3] == "Operations"


def test_history_shows_who_changed_what_and_cannot_revert(manager, data):
    policy = data["policy"]
    manager.post(
        reverse("admin:incidents_escalationpolicy_change", args=[policy.pk]),
        {
            "name": "Renamed",
            "service": "",
            "severity": "sev1",
            "repeat_limit": 0,
            "steps-TOTAL_FORMS": 0,
            "steps-INITIAL_FORMS": 0,
            "steps-MIN_NUM_FORMS": 0,
            "steps-MAX_NUM_FORMS": 1000,
        },
    )
    policy.refresh_from_db()
    assert policy.name == "Renamed"
    latest = policy.history.first()
    assert latest.history_user == manager.user
    for model, obj in [
        ("escalationpolicy", policy),
        ("incident", data["incidents"][0]),
        ("contact", data["contact"]),
        ("service", data["service"]),
    ]:
        assert (
            manager.get(reverse(f"admin:incidents_{model}_history", args=[obj.pk])).status_code
            == 200
        ), model
    old = policy.history.last()
    url = reverse(
        "admin:incidents_escalationpolicy_simple_history", args=[policy.pk, old.history_id]
    )
    assert manager.get(url).status_code == 200
    assert manager.post(url, {"name": policy.name}).status_code == 403


def test_a_manager_adds_a_maintenance_window_and_is_recorded_as_its_author(manager, data):
    response = manager.post(
        reverse("admin:incidents_maintenancewindow_add"),
        {
            "service": data["service"].pk,
            "starts_at_0": "2026-03-03",
            "starts_at_1": "10:00",
            "ends_at_0": "2026-03-03",
            "ends_at_1": "12:00",
            "reason": "upgrade",
        },
    )
    assert response.status_code == 302
    assert MaintenanceWindow.objects.get().created_by == manager.user


def test_an_operator_with_staff_access_cannot_edit_configuration(client, make_user, data):
    client.force_login(make_user("operator", is_staff=True))
    assert client.get(reverse("admin:incidents_contact_add")).status_code == 403
    response = client.post(
        reverse("admin:incidents_service_change", args=[data["service"].pk]), {"name": "Hacked"}
    )
    assert response.status_code == 403
    assert Service.objects.filter(name="Data hub").exists()
    assert EscalationPolicy.objects.count() == 1 and NotificationChannel.objects.count() == 1
