"""Recurring maintenance windows: a cron rule plus a duration, in the portal's time zone; probes
stay silent inside them, and an occurrence can be ended early."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from incidents.models import Incident, RecurringMaintenanceWindow, services_in_maintenance
from probes import services
from probes.models import Probe
from tests.incidents.factories import make_service
from tests.probes.factories import critical, make_probe

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
API = "/api/v1/recurring-maintenance-windows"
TUESDAY_2 = datetime(2026, 3, 3, 2, 0, tzinfo=SEOUL)


def seoul(*args):
    return datetime(*args, tzinfo=SEOUL)


@pytest.fixture
def patch_tuesdays(db, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    probe = make_probe(
        name="API health", severity="sev1", failures_before_alert=3, reminder_minutes=5
    )
    window = RecurringMaintenanceWindow.objects.create(
        service=probe.service,
        cron="0 2 * * 2",
        duration=timedelta(hours=2),
        reason="weekly patches",
    )
    return {"probe": probe, "window": window}


def fail_at(probe, at):
    with time_machine.travel(at, tick=False):
        fresh = Probe.objects.select_related("service").get(pk=probe.pk)
        services.record_results(outcomes=[(fresh, critical(), timezone.now())])


def test_probes_failing_every_tuesday_0200_to_0400_open_nothing_and_at_0401_they_do(patch_tuesdays):
    probe = patch_tuesdays["probe"]
    for week in (0, 1):
        start = TUESDAY_2 + timedelta(weeks=week)
        for minutes in range(0, 120, 10):
            fail_at(probe, start + timedelta(minutes=minutes))
        assert not Incident.objects.exists(), f"week {week}"
        assert Probe.objects.get(pk=probe.pk).consecutive_failures >= 12
    fail_at(probe, TUESDAY_2 + timedelta(weeks=1, hours=2, minutes=1))
    assert Incident.objects.filter(dedup_key=f"probe:{probe.pk}").count() == 1


def test_the_window_covers_only_its_own_hours_and_service(patch_tuesdays):
    service = patch_tuesdays["probe"].service
    other = make_service("other")
    assert services_in_maintenance({service.pk, other.pk}, seoul(2026, 3, 3, 2, 0)) == {service.pk}
    assert services_in_maintenance({service.pk}, seoul(2026, 3, 3, 3, 59)) == {service.pk}
    assert services_in_maintenance({service.pk}, seoul(2026, 3, 3, 4, 0)) == set()
    assert services_in_maintenance({service.pk}, seoul(2026, 3, 3, 1, 59)) == set()
    assert services_in_maintenance({service.pk}, seoul(2026, 3, 4, 2, 30)) == set()  # a Wednesday
    patch_tuesdays["window"].active = False
    patch_tuesdays["window"].save()
    assert services_in_maintenance({service.pk}, seoul(2026, 3, 3, 2, 30)) == set()


def test_a_monthly_window_on_the_first_sunday(db, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    window = RecurringMaintenanceWindow(
        service=make_service(), cron="0 3 * * 0#1", duration=timedelta(hours=3)
    )
    assert window.is_active(seoul(2026, 3, 1, 5, 59))  # Sunday 1 March
    assert not window.is_active(seoul(2026, 3, 8, 4, 0))  # the second Sunday
    assert window.next_occurrence(seoul(2026, 3, 1, 6, 0)) == seoul(2026, 4, 5, 3, 0)


def test_the_window_keeps_its_local_time_across_dst(db, settings):
    settings.TIME_ZONE = "America/New_York"
    window = RecurringMaintenanceWindow(
        service=make_service(), cron="0 2 * * 2", duration=timedelta(hours=2)
    )
    # Tuesdays 3 March (EST, UTC-5) and 10 March 2026 (EDT, UTC-4), both at 02:00 local.
    assert window.is_active(datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    assert window.is_active(datetime(2026, 3, 10, 6, 0, tzinfo=UTC))
    assert not window.is_active(datetime(2026, 3, 10, 5, 59, tzinfo=UTC))


def test_an_operator_ends_the_occurrence_under_way_early_and_failures_page_again(
    patch_tuesdays, api_as
):
    probe, window = patch_tuesdays["probe"], patch_tuesdays["window"]
    api = api_as("operator")
    for minutes in (0, 10, 20):
        fail_at(probe, TUESDAY_2 + timedelta(minutes=minutes))
    with time_machine.travel(TUESDAY_2 + timedelta(minutes=25), tick=False):
        response = api.post(f"{API}/{window.pk}/end")
    assert response.status_code == 200, response.json()
    assert response.json()["active_now"] is False
    window.refresh_from_db()
    assert window.ended_at == TUESDAY_2 + timedelta(minutes=25)
    fail_at(probe, TUESDAY_2 + timedelta(minutes=30))
    assert Incident.objects.filter(dedup_key=f"probe:{probe.pk}").count() == 1
    # Next week's occurrence silences again.
    assert window.is_active(TUESDAY_2 + timedelta(weeks=1, minutes=30))


def test_ending_a_window_that_is_not_under_way_is_a_conflict(patch_tuesdays, api_as):
    with time_machine.travel(seoul(2026, 3, 4, 12, 0), tick=False):
        response = api_as("operator").post(f"{API}/{patch_tuesdays['window'].pk}/end")
    assert response.status_code == 409
    assert response.json()["code"] == "not_active"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cron": "every tuesday"}, "cron"),
        ({"cron": "0 25 * * 2"}, "cron"),
        ({"duration": "00:00:00"}, "duration"),
        ({"duration": "8 00:00:00"}, "duration"),
    ],
)
def test_bad_windows_are_refused_with_field_errors(db, api_as, changes, field):
    body = {"service": make_service().pk, "cron": "0 2 * * 2", "duration": "02:00:00", **changes}
    response = api_as("manager").post(API, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not RecurringMaintenanceWindow.objects.exists()


def test_a_manager_plans_a_window_and_an_operator_cannot(db, api_as, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    body = {
        "service": make_service().pk,
        "cron": " 0  2 * * 2 ",
        "duration": "02:00:00",
        "reason": "patches",
    }
    assert api_as("operator").post(API, body, format="json").status_code == 403
    with time_machine.travel(seoul(2026, 3, 2, 12, 0), tick=False):
        response = api_as("manager").post(API, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["cron"] == "0 2 * * 2"
    assert response.json()["next_starts_at"] == "2026-03-03T02:00:00+09:00"


def test_the_probe_page_shows_its_services_recurring_window(patch_tuesdays, client_as):
    probe = patch_tuesdays["probe"]
    client = client_as("viewer")
    with time_machine.travel(seoul(2026, 3, 3, 2, 30), tick=False):
        during = client.get(f"/probes/{probe.pk}/")
    with time_machine.travel(seoul(2026, 3, 4, 12, 0), tick=False):
        after = client.get(f"/probes/{probe.pk}/")
    assert "0 2 * * 2" in during.content.decode()
    assert [item["active"] for item in during.context["maintenance"]] == [True]
    assert [item["next"] for item in after.context["maintenance"]] == [seoul(2026, 3, 10, 2, 0)]
