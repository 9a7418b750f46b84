"""`who is on call at T`: a pure function of layers and overrides, in the portal's zone,
DST-safe."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from oncall.rotation import LayerSpec, OverrideSpec, Shift, current_and_next, on_call_at, shifts

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
ANN, BOB, CAROL, DAN = 1, 2, 3, 4


def weekly(members, anchor=date(2026, 3, 2), handoff=time(9), **extra):
    """A weekly rotation handing off on Mondays (2026-03-02 is a Monday)."""
    return LayerSpec(
        members=tuple(members), rotation_days=7, handoff=handoff, anchor=anchor, **extra
    )


def seoul(*args):
    return datetime(*args, tzinfo=SEOUL)


def test_a_weekly_rotation_hands_off_at_monday_0900_in_seoul():
    layer = weekly([ANN, BOB])
    assert on_call_at([layer], [], seoul(2026, 3, 2, 9, 0), SEOUL) == ANN
    assert on_call_at([layer], [], seoul(2026, 3, 8, 23, 0), SEOUL) == ANN
    assert on_call_at([layer], [], seoul(2026, 3, 9, 8, 59, 59), SEOUL) == ANN
    assert on_call_at([layer], [], seoul(2026, 3, 9, 9, 0), SEOUL) == BOB
    # round the rotation again
    assert on_call_at([layer], [], seoul(2026, 3, 16, 9, 0), SEOUL) == ANN
    # The same moment given in UTC (00:00 UTC is 09:00 in Seoul).
    assert on_call_at([layer], [], datetime(2026, 3, 9, 0, 0, tzinfo=UTC), SEOUL) == BOB


def test_nobody_is_on_call_before_the_first_shift():
    layer = weekly([ANN, BOB])
    assert on_call_at([layer], [], seoul(2026, 3, 2, 8, 59), SEOUL) is None


def test_a_weekly_rotation_starts_on_its_hand_off_weekday():
    # A layer started on a Wednesday with Monday hand-offs (the model computes this anchor; see
    # test_models).
    layer = weekly([ANN, BOB], anchor=date(2026, 3, 9))
    assert on_call_at([layer], [], seoul(2026, 3, 5, 12), SEOUL) is None
    assert on_call_at([layer], [], seoul(2026, 3, 9, 9), SEOUL) == ANN


def test_a_daily_and_a_custom_rotation():
    daily = LayerSpec(
        members=(ANN, BOB, CAROL), rotation_days=1, handoff=time(18), anchor=date(2026, 3, 2)
    )
    assert [on_call_at([daily], [], seoul(2026, 3, d, 19), SEOUL) for d in (2, 3, 4, 5)] == [
        ANN,
        BOB,
        CAROL,
        ANN,
    ]
    # yesterday's shift until 18:00
    assert on_call_at([daily], [], seoul(2026, 3, 3, 17, 59), SEOUL) == ANN
    every_3 = LayerSpec(
        members=(ANN, BOB), rotation_days=3, handoff=time(9), anchor=date(2026, 3, 2)
    )
    assert on_call_at([every_3], [], seoul(2026, 3, 5, 8, 59), SEOUL) == ANN
    assert on_call_at([every_3], [], seoul(2026, 3, 5, 9), SEOUL) == BOB


def test_an_override_covers_a_day_then_the_rotation_returns():
    layer = weekly([ANN, BOB])
    leave = OverrideSpec(CAROL, seoul(2026, 3, 4, 9), seoul(2026, 3, 5, 9), order=1)
    assert on_call_at([layer], [leave], seoul(2026, 3, 4, 8, 59), SEOUL) == ANN
    assert on_call_at([layer], [leave], seoul(2026, 3, 4, 9), SEOUL) == CAROL
    assert on_call_at([layer], [leave], seoul(2026, 3, 5, 8, 59), SEOUL) == CAROL
    assert on_call_at([layer], [leave], seoul(2026, 3, 5, 9), SEOUL) == ANN


def test_the_later_of_two_overlapping_overrides_wins():
    layer = weekly([ANN])
    first = OverrideSpec(BOB, seoul(2026, 3, 4), seoul(2026, 3, 6), order=1)
    swap = OverrideSpec(CAROL, seoul(2026, 3, 5), seoul(2026, 3, 5, 12), order=2)
    assert on_call_at([layer], [swap, first], seoul(2026, 3, 5, 6), SEOUL) == CAROL
    assert on_call_at([layer], [swap, first], seoul(2026, 3, 5, 13), SEOUL) == BOB


def test_a_restricted_layer_covers_only_its_hours_and_the_higher_level_wins_there():
    day_team = weekly([ANN], position=1)
    # Nights, Monday to Friday 18:00–09:00 (a night belongs to the day it starts on).
    nights = LayerSpec(
        members=(DAN,),
        rotation_days=7,
        handoff=time(9),
        anchor=date(2026, 3, 2),
        position=2,
        weekdays=(0, 1, 2, 3, 4),
        from_time=time(18),
        to_time=time(9),
    )
    layers = [nights, day_team]
    assert on_call_at(layers, [], seoul(2026, 3, 3, 12), SEOUL) == ANN
    assert on_call_at(layers, [], seoul(2026, 3, 3, 18), SEOUL) == DAN
    assert on_call_at(layers, [], seoul(2026, 3, 4, 8, 59), SEOUL) == DAN
    assert on_call_at(layers, [], seoul(2026, 3, 4, 9), SEOUL) == ANN
    # Friday's night, on Saturday morning
    assert on_call_at(layers, [], seoul(2026, 3, 7, 3), SEOUL) == DAN
    # Saturday night is not restricted in
    assert on_call_at(layers, [], seoul(2026, 3, 7, 20), SEOUL) == ANN
    assert on_call_at([nights], [], seoul(2026, 3, 3, 12), SEOUL) is None


def test_weekdays_only_restriction():
    weekend = LayerSpec(
        members=(BOB,),
        rotation_days=7,
        handoff=time(9),
        anchor=date(2026, 3, 2),
        position=2,
        weekdays=(5, 6),
    )
    layers = [weekly([ANN]), weekend]
    assert on_call_at(layers, [], seoul(2026, 3, 6, 23, 59), SEOUL) == ANN
    assert on_call_at(layers, [], seoul(2026, 3, 7, 0, 0), SEOUL) == BOB
    assert on_call_at(layers, [], seoul(2026, 3, 9, 0, 0), SEOUL) == ANN


def test_in_new_york_the_hand_off_stays_at_0900_local_across_the_dst_week():
    # DST began on Sunday 2026-03-08: Monday 03-02 09:00 is 14:00 UTC, Monday 03-09 09:00 is 13:00
    # UTC.
    layer = weekly([ANN, BOB])
    assert on_call_at([layer], [], datetime(2026, 3, 2, 14, 0, tzinfo=UTC), NEW_YORK) == ANN
    assert on_call_at([layer], [], datetime(2026, 3, 9, 12, 59, tzinfo=UTC), NEW_YORK) == ANN
    assert on_call_at([layer], [], datetime(2026, 3, 9, 13, 0, tzinfo=UTC), NEW_YORK) == BOB
    # And back in November (DST ended on Sunday 2026-11-01): Monday 11-02 09:00 EST is 14:00 UTC.
    november = weekly([ANN, BOB], anchor=date(2026, 10, 26))
    assert on_call_at([november], [], datetime(2026, 11, 2, 13, 59, tzinfo=UTC), NEW_YORK) == ANN
    assert on_call_at([november], [], datetime(2026, 11, 2, 14, 0, tzinfo=UTC), NEW_YORK) == BOB


def test_the_final_schedule_merges_stretches_and_keeps_the_local_hand_off_across_dst():
    layer = weekly([ANN, BOB])
    found = shifts(
        [layer],
        [],
        datetime(2026, 3, 2, 14, tzinfo=UTC),
        datetime(2026, 3, 16, 13, tzinfo=UTC),
        NEW_YORK,
    )
    assert found == [
        Shift(ANN, datetime(2026, 3, 2, 14, tzinfo=UTC), datetime(2026, 3, 9, 13, tzinfo=UTC)),
        Shift(BOB, datetime(2026, 3, 9, 13, tzinfo=UTC), datetime(2026, 3, 16, 13, tzinfo=UTC)),
    ]


def test_current_and_next_shift_around_an_override():
    layer = weekly([ANN, BOB])
    leave = OverrideSpec(CAROL, seoul(2026, 3, 4, 9), seoul(2026, 3, 5, 9))
    current, upcoming = current_and_next([layer], [leave], seoul(2026, 3, 3, 10), SEOUL)
    assert (current.contact, current.ends_at) == (ANN, seoul(2026, 3, 4, 9))
    assert (upcoming.contact, upcoming.starts_at, upcoming.ends_at) == (
        CAROL,
        seoul(2026, 3, 4, 9),
        seoul(2026, 3, 5, 9),
    )


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ({}, {}, True),
        ({"weekdays": (0, 1, 2, 3, 4)}, {"weekdays": (5, 6)}, False),
        (
            {"from_time": time(9), "to_time": time(18)},
            {"from_time": time(18), "to_time": time(9)},
            False,
        ),
        (
            {"from_time": time(9), "to_time": time(18)},
            {"from_time": time(17), "to_time": time(9)},
            True,
        ),
        # Sunday night runs into Monday morning, where the Monday day layer starts at 08:00.
        (
            {"weekdays": (6,), "from_time": time(22), "to_time": time(9)},
            {"weekdays": (0,), "from_time": time(8), "to_time": time(18)},
            True,
        ),
    ],
)
def test_which_restrictions_cover_the_same_hours(a, b, overlap):
    assert weekly([ANN], **a).overlaps(weekly([BOB], **b)) is overlap
    assert weekly([BOB], **b).overlaps(weekly([ANN], **a)) is overlap
