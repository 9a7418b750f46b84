"""Paging cannot be silenced by a lower role: a maintenance window is bounded by the role
of whoever sets it (operators a week by default, managers a year), on the API and in the
admin alike, and whoever may announce a window may also end it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from incidents.models import MaintenanceWindow
from tests.incidents.factories import make_service

API = "/api/v1/maintenance-windows"
FAR_FUTURE = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)


@pytest.fixture
def service(db):
    return make_service(name="billing")


def window_body(service, starts, ends):
    return {
        "service": service.pk,
        "starts_at": starts.isoformat(),
        "ends_at": ends.isoformat(),
        "reason": "upgrade",
    }


def test_an_operator_cannot_announce_a_window_that_ends_in_the_year_9999(api_as, service):
    response = api_as("operator").post(
        API, window_body(service, timezone.now(), FAR_FUTURE), format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "too_long"
    assert "7 days" in response.json()["ends_at"][0]
    assert not MaintenanceWindow.objects.exists()


def test_an_operator_announces_a_window_of_up_to_seven_days(api_as, service):
    api, now = api_as("operator"), timezone.now()
    assert (
        api.post(API, window_body(service, now, now + timedelta(days=7)), format="json").status_code
        == 201
    )
    response = api.post(
        API, window_body(service, now, now + timedelta(days=7, minutes=1)), format="json"
    )
    assert response.status_code == 400
    assert response.json()["codes"] == ["too_long"]
    assert MaintenanceWindow.objects.count() == 1


def test_the_operators_limit_is_a_setting(api_as, service, settings):
    settings.PORTAL_OPERATOR_MAINTENANCE_DAYS = 1
    api, now = api_as("operator"), timezone.now()
    assert (
        api.post(API, window_body(service, now, now + timedelta(days=2)), format="json").status_code
        == 400
    )
    assert (
        api.post(
            API, window_body(service, now, now + timedelta(hours=24)), format="json"
        ).status_code
        == 201
    )


def test_a_manager_plans_a_window_of_up_to_a_year_but_not_to_the_year_9999(api_as, service):
    api, now = api_as("manager"), timezone.now()
    assert (
        api.post(
            API, window_body(service, now, now + timedelta(days=366)), format="json"
        ).status_code
        == 201
    )
    response = api.post(API, window_body(service, now, FAR_FUTURE), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "too_long"
    assert MaintenanceWindow.objects.count() == 1


def test_a_manager_cannot_stretch_a_window_past_a_year_by_editing_it(api_as, service):
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        service=service, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    response = api_as("manager").patch(
        f"{API}/{window.pk}", {"ends_at": FAR_FUTURE.isoformat()}, format="json"
    )
    assert response.status_code == 400
    window.refresh_from_db()
    assert window.ends_at == now + timedelta(hours=1)


def test_an_operator_ends_a_window_by_deleting_it(api_as, service):
    api, now = api_as("operator"), timezone.now()
    created = api.post(
        API, window_body(service, now, now + timedelta(days=1)), format="json"
    ).json()
    assert api.delete(f"{API}/{created['id']}").status_code == 204
    assert not MaintenanceWindow.objects.exists()


def test_an_operator_still_cannot_change_a_window(api_as, service):
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        service=service, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    response = api_as("operator").patch(f"{API}/{window.pk}", {"reason": "longer"}, format="json")
    assert response.status_code == 403


def test_check_length_is_the_one_rule_for_every_role(make_user):
    now = timezone.now()
    week, year = (
        MaintenanceWindow(starts_at=now, ends_at=now + timedelta(days=8)),
        MaintenanceWindow(starts_at=now, ends_at=now + timedelta(days=367)),
    )
    with pytest.raises(ValidationError) as refused:
        week.check_length(by=make_user("operator"))
    assert refused.value.error_dict["ends_at"][0].code == "too_long"
    week.check_length(by=make_user("manager"))
    for user in (make_user("manager"), make_user("admin"), AnonymousUser()):
        with pytest.raises(ValidationError):
            year.check_length(by=user)


def admin_form(service, ends):
    return {
        "service": service.pk,
        "starts_at_0": "2026-03-03",
        "starts_at_1": "10:00",
        "ends_at_0": ends.strftime("%Y-%m-%d"),
        "ends_at_1": "12:00",
        "reason": "upgrade",
    }


def test_a_staff_operator_cannot_add_a_window_to_the_year_9999_in_the_admin(
    client, make_user, service
):
    client.force_login(make_user("operator", is_staff=True))
    response = client.post(
        reverse("admin:incidents_maintenancewindow_add"), admin_form(service, FAR_FUTURE)
    )
    assert response.status_code == 200
    assert "at most 7 days" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()
    response = client.post(
        reverse("admin:incidents_maintenancewindow_add"), admin_form(service, datetime(2026, 3, 5))
    )
    assert response.status_code == 302
    assert MaintenanceWindow.objects.count() == 1


def test_a_staff_manager_cannot_add_a_window_to_the_year_9999_in_the_admin(
    client, make_user, service
):
    client.force_login(make_user("manager", is_staff=True))
    response = client.post(
        reverse("admin:incidents_maintenancewindow_add"), admin_form(service, FAR_FUTURE)
    )
    assert response.status_code == 200
    assert "at most 366 days" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_a_staff_operator_deletes_a_window_in_the_admin(client, make_user, service):
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        service=service, starts_at=now, ends_at=now + timedelta(hours=1)
    )
    client.force_login(make_user("operator", is_staff=True))
    response = client.post(
        reverse("admin:incidents_maintenancewindow_delete", args=[window.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not MaintenanceWindow.objects.exists()
