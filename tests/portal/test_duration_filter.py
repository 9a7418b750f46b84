from datetime import timedelta

import pytest

from portal.templatetags.portal import duration


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=1), "1 d"),
        (timedelta(hours=4, minutes=30), "4 h 30 min"),
        (timedelta(minutes=15), "15 min"),
        (timedelta(seconds=20), "20 s"),
        (timedelta(minutes=1, seconds=30), "1 min 30 s"),
        (timedelta(hours=1, seconds=30), "1 h"),
        (timedelta(0), "0 s"),
        (86400, "1 d"),  # a probe's interval, in seconds
        (30, "30 s"),
        (None, ""),
    ],
)
def test_durations_read_as_people_say_them(value, text):
    assert duration(value) == text


def test_choice_label_shows_a_snapshot_value_as_its_translated_label():
    from django.utils import translation

    from checklists.models import Kind
    from incidents.models import Status
    from portal.templatetags.portal import choice_label

    with translation.override("ko"):
        assert choice_label("acknowledged", "incidents.Incident.status") == str(
            Status.ACKNOWLEDGED.label
        )
        assert choice_label("routine", "checklists.Template.kind") == str(Kind.ROUTINE.label)
        assert (
            str(Kind.ROUTINE.label) != "routine"
            and str(Status.ACKNOWLEDGED.label) != "acknowledged"
        )
    assert choice_label("no-such-value", "incidents.Incident.status") == "no-such-value"
