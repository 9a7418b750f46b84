"""One formatter per kind of value, in the reader's language: durations, yes/no, choices, local
times."""

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import translation

from core.display import format_duration, format_value


@pytest.mark.parametrize(
    ("value", "english", "korean"),
    [
        (timedelta(minutes=15), "15 min", "15분"),
        (timedelta(hours=1, minutes=27), "1 h 27 min", "1시간 27분"),
        (5220.4, "1 h 27 min", "1시간 27분"),  # a report's mean, in seconds
        (timedelta(days=1), "1 d", "1일"),
        (timedelta(seconds=90), "1 min 30 s", "1분 30초"),
        (timedelta(seconds=-3), "0 s", "0초"),
    ],
)
def test_a_duration_reads_the_same_in_reports_pages_templates_and_messages(value, english, korean):
    template = Template("{% load portal %}{{ value|duration }}")
    for language, expected in (("en", english), ("ko", korean)):
        with translation.override(language):
            assert format_duration(value) == expected
            assert template.render(Context({"value": value})) == expected


def test_values_read_as_labels_yes_no_and_local_times(settings):
    settings.TIME_ZONE = "Asia/Seoul"
    at = datetime(2026, 12, 2, 6, 14, 50, 561309, tzinfo=UTC)
    with translation.override("ko"):
        assert [format_value(True), format_value(False), format_value(None)] == [
            "예",
            "아니요",
            "–",
        ]
        assert format_value("ok", {"ok": "정상"}) == "정상"
        assert format_value(at) == "2026-12-02 15:14:50"
    with translation.override("en"):
        assert format_value(False) == "no"
