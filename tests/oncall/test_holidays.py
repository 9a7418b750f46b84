"""The holiday calendar (core.holidays): KR public holidays incl. lunar and substitute days, plus
company days from the admin, as business hours, contact availability, checklists and due dates see
them."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from checklists import services as checklist_services
from checklists.models import Run
from core.holidays import WorkCalendar
from incidents import services
from incidents.escalation import next_business_start
from incidents.models import add_business_days
from portal.env import ConfigError, env_holidays
from portal.models import CompanyDay
from tests.adminform import staff_client
from tests.checklists.factories import make_template
from tests.incidents.factories import make_contact, make_policy, make_service, make_tier
from tests.incidents.test_escalation import paged, sweep

SEOUL = ZoneInfo("Asia/Seoul")
MIN = timedelta(minutes=1)


def seoul(*args):
    return datetime(*args, tzinfo=SEOUL)


@pytest.fixture
def korea(settings):
    settings.TIME_ZONE = "Asia/Seoul"
    settings.PORTAL_HOLIDAYS = "KR"


@pytest.fixture
def sev3(db, korea):
    ops = make_tier(1, "Operations")
    make_contact("ops", tier=ops)
    make_policy("sev3", [{"after": timedelta(0), "tier": ops, "business_hours_only": True}])
    return {"service": make_service("api")}


def open_sev3(at, sev3):
    with time_machine.travel(at, tick=False):
        incident, _ = services.open_incident(service=sev3["service"], title="Slow", severity="sev3")
    return incident


def test_the_kr_calendar_knows_lunar_and_substitute_holidays():
    calendar = WorkCalendar("KR")
    # 추석 2027 falls on Tue 14 – Thu 16 September; 설날 2027 on Sat 6 – Mon 8 February, with
    # Tuesday 9 February as its substitute holiday (대체공휴일) for the Sunday.
    assert all(calendar.holiday(date(2027, 9, d)) for d in (14, 15, 16))
    assert calendar.holiday(date(2027, 2, 9)) is not None
    assert calendar.is_working_day(date(2027, 9, 17))
    assert calendar.next_working_day(date(2027, 9, 14)) == date(2027, 9, 17)
    assert calendar.next_working_day(date(2027, 2, 6)) == date(2027, 2, 10)
    assert not calendar.is_working_day(date(2027, 9, 18))  # a Saturday
    assert WorkCalendar("").holiday(date(2027, 9, 15)) is None


def test_portal_holidays_takes_a_country_code_or_nothing(monkeypatch):
    monkeypatch.setenv("PORTAL_HOLIDAYS", "us")
    assert env_holidays("PORTAL_HOLIDAYS", "KR") == "US"
    monkeypatch.setenv("PORTAL_HOLIDAYS", "")
    assert env_holidays("PORTAL_HOLIDAYS", "KR") == ""
    monkeypatch.setenv("PORTAL_HOLIDAYS", "Narnia")
    with pytest.raises(ConfigError, match="PORTAL_HOLIDAYS"):
        env_holidays("PORTAL_HOLIDAYS", "KR")


def test_a_sev3_opened_the_evening_before_chuseok_2027_pages_on_the_first_working_day_after_it(
    sev3,
):
    monday_evening = seoul(2027, 9, 13, 20, 0)
    friday_9 = seoul(2027, 9, 17, 9, 0)
    incident = open_sev3(monday_evening, sev3)
    assert incident.next_escalation_at == friday_9
    for at in (monday_evening, seoul(2027, 9, 14, 9, 0), seoul(2027, 9, 16, 12, 0), friday_9 - MIN):
        sweep(at)
    assert paged(incident) == []
    sweep(friday_9)
    assert paged(incident) == [(0, 0, "ops")]


def test_without_a_holiday_country_the_same_sev3_pages_the_next_morning(sev3, settings):
    settings.PORTAL_HOLIDAYS = ""
    incident = open_sev3(seoul(2027, 9, 13, 20, 0), sev3)
    assert incident.next_escalation_at == seoul(2027, 9, 14, 9, 0)


def test_a_company_day_added_in_the_admin_is_not_a_business_day(sev3, make_user):
    admin = staff_client(make_user, "manager")
    response = admin.post(
        "/admin/portal/companyday/add/",
        {"date": "2026-03-06", "name": "Foundation day", "_save": "Save"},
    )
    assert response.status_code == 302, response.content
    assert CompanyDay.objects.get().date == date(2026, 3, 6)
    thursday_evening = seoul(2026, 3, 5, 20, 0)
    incident = open_sev3(thursday_evening, sev3)
    # Monday, not the company's Friday off
    assert incident.next_escalation_at == seoul(2026, 3, 9, 9, 0)


def test_viewers_and_operators_cannot_add_company_days(make_user):
    for role in ("viewer", "operator"):
        client = staff_client(make_user, role)
        assert (
            client.post(
                "/admin/portal/companyday/add/", {"date": "2026-03-06", "name": "x"}
            ).status_code
            == 403
        )
    assert not CompanyDay.objects.exists()


def test_a_business_hours_contact_is_off_on_a_holiday(db, korea):
    contact = make_contact("day", availability="business_hours")
    assert contact.is_available(seoul(2027, 9, 13, 10, 0), "sev2")
    assert not contact.is_available(seoul(2027, 9, 15, 10, 0), "sev2")
    CompanyDay.objects.create(date=date(2027, 9, 13), name="Bridge day")
    assert not contact.is_available(seoul(2027, 9, 13, 10, 0), "sev2")


def test_next_business_start_skips_a_company_day(settings):
    settings.TIME_ZONE = "Asia/Seoul"
    calendar = WorkCalendar("", {date(2026, 3, 9): "Company day"})
    assert next_business_start(seoul(2026, 3, 6, 20, 0), calendar) == seoul(2026, 3, 10, 9, 0)
    assert next_business_start(seoul(2026, 3, 6, 17, 0), calendar) == seoul(2026, 3, 6, 17, 0)


def test_the_postmortem_due_date_counts_working_days(db, korea):
    # Resolved on Friday 10 September 2027: five working days (13, 17, 20, 21, 22) skip the
    # weekends and 추석 (14–16).
    resolved = seoul(2027, 9, 10, 15, 0)
    assert add_business_days(resolved, 5) == seoul(2027, 9, 22, 15, 0)


# Checklists ---------------------------------------------------------------------------------------


def materialize(at):
    with time_machine.travel(at, tick=False):
        return checklist_services.materialize_runs()


def occurrences(template):
    return [
        timezone_date(r.occurrence)
        for r in Run.objects.filter(template=template).order_by("occurrence")
    ]


def timezone_date(at):
    return at.astimezone(SEOUL).date()


@pytest.mark.django_db
def test_a_daily_checklist_set_to_skip_makes_no_run_on_seollal(korea):
    with time_machine.travel(seoul(2027, 2, 4, 12, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *", on_holiday="skip")
    for day in range(5, 11):
        materialize(seoul(2027, 2, day, 9, 0, 5))
    # 6–9 February are 설날 and its substitute holiday: no run, not even a missed one.
    assert occurrences(template) == [date(2027, 2, 5), date(2027, 2, 10)]
    assert Run.objects.get(template=template, occurrence=seoul(2027, 2, 10, 9, 0)).status == "open"


@pytest.mark.django_db
def test_a_daily_checklist_set_to_run_anyway_runs_on_seollal(korea):
    with time_machine.travel(seoul(2027, 2, 7, 12, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *", on_holiday="run")
    materialize(seoul(2027, 2, 8, 9, 0, 5))
    assert occurrences(template) == [date(2027, 2, 8)]


@pytest.mark.django_db
def test_a_weekly_checklist_moved_off_a_holiday_opens_on_the_next_working_day(korea):
    with time_machine.travel(seoul(2027, 2, 1, 12, 0), tick=False):
        template = make_template(
            "Monday 10:00", schedule="0 10 * * 1", on_holiday="next_working_day"
        )
    for at in (seoul(2027, 2, 8, 10, 0, 5), seoul(2027, 2, 9, 10, 0, 5), seoul(2027, 2, 10, 9, 59)):
        assert materialize(at)["created"] == 0
    assert materialize(seoul(2027, 2, 10, 10, 0, 5))["created"] == 1
    run = Run.objects.get(template=template)
    assert run.occurrence == seoul(2027, 2, 8, 10, 0)  # the run of Monday's occurrence…
    assert run.due_at == seoul(2027, 2, 10, 12, 0)  # …due two hours after it opened on Wednesday
    assert run.status == "open"


@pytest.mark.django_db
def test_a_daily_checklist_moved_over_seollal_opens_one_run_on_the_next_working_day(korea):
    with time_machine.travel(seoul(2027, 2, 5, 12, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *", on_holiday="next_working_day")
    for day in range(6, 11):
        materialize(seoul(2027, 2, day, 9, 0, 5))
    assert occurrences(template) == [date(2027, 2, 10)]
    assert not Run.objects.filter(status="missed").exists()


@pytest.mark.django_db
def test_a_checklist_skips_a_company_day(korea):
    CompanyDay.objects.create(date=date(2026, 3, 6), name="Foundation day")
    with time_machine.travel(seoul(2026, 3, 4, 12, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *", on_holiday="skip")
    for day in (5, 6):
        materialize(seoul(2026, 3, day, 9, 0, 5))
    assert occurrences(template) == [date(2026, 3, 5)]


@pytest.mark.django_db
def test_the_template_page_says_what_it_does_on_holidays(client_as):
    template = make_template("Daily 09:00", schedule="0 9 * * *", on_holiday="skip")
    response = client_as("viewer").get(f"/checklists/templates/{template.pk}/")
    assert response.status_code == 200
    assert "On public holidays and company days" in response.content.decode()
    assert ">skip<" in response.content.decode()
