from datetime import timedelta

import pytest

from portal.templatetags.portal import duration


@pytest.mark.parametrize(("value", "text"), [
    (timedelta(days=1), "1 d"),
    (timedelta(hours=4, minutes=30), "4 h 30 min"),
    (timedelta(minutes=15), "15 min"),
    (timedelta(seconds=20), "0 min"),
    (None, ""),
])
def test_durations_read_as_people_say_them(value, text):
    assert duration(value) == text
