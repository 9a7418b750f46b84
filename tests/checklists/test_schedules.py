from datetime import UTC, datetime

import pytest

from checklists import schedules
from checklists.schedules import Preset, ScheduleError, parse_phrase


@pytest.mark.parametrize(
    ("phrase", "cron"),
    [
        ("매일 오전 09:00", "0 9 * * *"),
        ("매일 저녁 (오후 6시)", "0 18 * * *"),
        ("매주 월요일 오전 10:00", "0 10 * * 1"),
        ("매주 금요일", "0 9 * * 5"),
        ("매월 1일", "0 9 1 * *"),
        ("마지막 금요일", "0 9 * * L5"),
        ("분기 첫 주", "0 9 * 1,4,7,10 1#1"),
        ("연 1회 (12월)", "0 9 1 12 *"),
        ("Daily 09:00", "0 9 * * *"),
        ("Weekly (Monday)", "0 9 * * 1"),
        ("Monthly", "0 9 1 * *"),
        ("Every day at 6 pm", "0 18 * * *"),
        ("Yearly (March)", "0 9 1 3 *"),
    ],
)
def test_schedule_phrases_in_korean_and_english_become_cron(phrase, cron):
    assert parse_phrase(phrase).cron == cron


def test_a_heading_under_a_weekly_heading_takes_its_weekday_and_time():
    assert parse_phrase("월요일 09:00 - 보안 점검", "weekly").cron == "0 9 * * 1"
    assert parse_phrase("18:00 - 로그 검토", "daily").cron == "0 18 * * *"


@pytest.mark.parametrize(
    "heading", ["Type 1: API 서버 다운", "복구 체크리스트", "Holiday plan", "Overview"]
)
def test_headings_without_a_schedule_have_none(heading):
    assert parse_phrase(heading) is None


@pytest.mark.parametrize(
    "heading", ["매일 오전 13시", "Daily 25:00", "Weekly (Funday)", "매월 32일", "매주 화성요일"]
)
def test_nonsense_schedules_are_refused(heading):
    with pytest.raises(ScheduleError):
        parse_phrase(heading)


@pytest.mark.parametrize(
    ("preset", "cron"),
    [
        (Preset("daily", 9, 30), "30 9 * * *"),
        (Preset("weekly", 10, 0, weekday=0), "0 10 * * 1"),
        (Preset("weekly", 10, 0, weekday=6), "0 10 * * 0"),
        (Preset("monthly", 9, 0, day=15), "0 9 15 * *"),
        (Preset("monthly_last", 17, 0, weekday=4), "0 17 * * L5"),
        (Preset("quarterly", 9, 0), "0 9 * 1,4,7,10 1#1"),
        (Preset("yearly", 9, 0, month=12), "0 9 1 12 *"),
    ],
)
def test_presets_make_valid_cron(preset, cron):
    assert preset.cron() == cron
    assert schedules.validate(cron) == cron


def test_a_bad_cron_is_refused_with_an_example():
    with pytest.raises(ScheduleError, match="0 9"):
        schedules.validate("every morning")


def test_the_last_friday_preset_falls_on_the_last_friday(settings):
    settings.TIME_ZONE = "UTC"
    assert schedules.next_after("0 9 * * L5", datetime(2026, 1, 1, tzinfo=UTC)) == datetime(
        2026, 1, 30, 9, tzinfo=UTC
    )
