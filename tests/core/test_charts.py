import pytest

from core import charts
from core.charts import bar_chart, nice_bytes_top, nice_count_top, nice_duration_top, nice_top
from core.display import format_duration


def draw(series, labels=("a", "b", "c"), **options):
    return bar_chart(
        title="T",
        labels=list(labels),
        series=series,
        fmt=lambda v: f"{v:g} u",
        empty="Nothing",
        **options,
    )


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (0.3, 0.5), (1, 1), (1.2, 2), (2.2, 2.5), (7, 10), (480, 500), (3600, 5000)],
)
def test_the_axis_top_is_a_round_number_at_or_above_the_largest_value(value, top):
    assert nice_top(value) == pytest.approx(top)


def test_bars_are_scaled_to_the_axis_top_and_stand_on_the_baseline():
    chart = draw([("s", [5, 10, None])])
    first, second = (group["bars"] for group in chart["groups"][:2])
    plot = chart["baseline"] - chart["top"]
    assert second[0]["height"] == pytest.approx(plot) and first[0]["height"] == pytest.approx(
        plot / 2, abs=0.1
    )
    assert second[0]["y"] + second[0]["height"] == pytest.approx(chart["baseline"])
    assert chart["groups"][2]["bars"] == []  # None is no bar
    assert [t["text"] for t in chart["ticks"]] == ["0 u", "2.5 u", "5 u", "7.5 u", "10 u"]
    assert chart["rows"] == [{"name": "s", "cells": ["5 u", "10 u", "–"]}] and chart["empty"] == ""


def test_everything_drawn_stays_inside_the_viewbox():
    chart = draw([("a", [1, 1000, 3]), ("b", [0.001, 2, None]), ("c", [4, 5, 6])])
    for group in chart["groups"]:
        for bar in group["bars"]:
            assert bar["x"] >= charts.LEFT and bar["x"] + bar["width"] <= chart["right"]
            assert (
                chart["top"] - 0.1 <= bar["y"]
                and bar["y"] + bar["height"] <= chart["baseline"] + 0.1
            )


def test_a_single_point_and_a_tiny_value_are_still_visible():
    single = draw([("s", [42])], labels=["only"])
    assert (
        single["groups"][0]["bars"][0]["height"] > 100
        and single["groups"][0]["bars"][0]["width"] > 10
    )
    tiny = draw([("s", [1000, 0.001, 0])])
    assert (
        tiny["groups"][1]["bars"][0]["height"] >= charts.MIN_BAR and tiny["groups"][2]["bars"] == []
    )


def test_no_data_gives_the_empty_message_instead_of_a_frame():
    assert draw([("s", [None, 0, None])])["empty"] == "Nothing"
    assert draw([], labels=[])["empty"] == "Nothing"


def test_grouped_series_sit_side_by_side_and_stacked_series_on_top_of_each_other():
    grouped = draw([("a", [2, 0, 0]), ("b", [4, 0, 0])])["groups"][0]["bars"]
    assert (
        grouped[0]["x"] < grouped[1]["x"]
        and grouped[0]["css"] == "series-0"
        and grouped[1]["css"] == "series-1"
    )
    stacked = draw([("a", [2, 0, 0]), ("b", [4, 0, 0])], stacked=True)
    lower, upper = stacked["groups"][0]["bars"]
    assert lower["x"] == upper["x"] and upper["y"] + upper["height"] == pytest.approx(lower["y"])
    assert stacked["ticks"][-1]["text"] == "10 u"  # the axis reaches the stack's total, 6
    assert upper["title"] == "a, b: 4 u"


def test_crowded_labels_are_thinned_but_every_group_is_in_the_table():
    chart = draw([("s", list(range(1, 13)))], labels=[str(n) for n in range(12)], label_every=3)
    assert [g["label"] for g in chart["groups"] if g["show_label"]] == ["0", "3", "6", "9"]
    assert len(chart["rows"][0]["cells"]) == 12


def test_a_series_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError):
        draw([("s", [1, 2])])


@pytest.mark.parametrize(
    ("seconds", "top"),
    [
        (3, 4),
        (45, 60),
        (100, 120),
        (3000, 3600),
        (5000, 7200),
        (10 * 3600, 12 * 3600),
        (50 * 86400, 80 * 86400),
    ],
)
def test_a_duration_axis_ends_on_a_round_duration_with_round_quarters(seconds, top):
    assert nice_duration_top(seconds) == top


def test_a_duration_chart_ticks_read_as_durations():
    chart = bar_chart(
        title="T",
        labels=["a"],
        series=[("s", [5000])],
        fmt=format_duration,
        empty="-",
        scale=nice_duration_top,
    )
    assert [tick["text"] for tick in chart["ticks"]] == [
        "0 s",
        "30 min",
        "1 h",
        "1 h 30 min",
        "2 h",
    ]


@pytest.mark.parametrize(("count", "top"), [(1, 4), (2, 4), (4, 4), (7, 8), (30, 40), (150, 200)])
def test_a_count_axis_ticks_whole_numbers(count, top):
    assert nice_count_top(count) == top


@pytest.mark.parametrize(
    ("size", "top"), [(1, 4), (3 * 2**20, 4 * 2**20), (5 * 2**20, 8 * 2**20), (2**30, 2**30)]
)
def test_a_size_axis_ends_on_a_power_of_two(size, top):
    assert nice_bytes_top(size) == top


def test_a_line_puts_one_value_on_the_scale_and_skips_empty_hours():
    assert charts.line_chart([None] * 24, title="t", width=96, height=24) is None
    one = charts.line_chart([None] * 23 + [5.0], title="t", width=96, height=24)
    assert one["dots"] == [(94.0, 2.0, "5.0")] and one["points"] == "94.0,2.0"
    assert not one["axes"] and one["rows"] == []
    both = charts.line_chart([-2.0, None, 2.0], title="t", width=100, height=20)
    assert (both["bottom"], both["top"]) == (-2.0, 2.0)
    assert [(x, y) for x, y, _text in both["dots"]] == [(2.0, 18.0), (98.0, 2.0)]


def test_a_line_with_labels_has_axes_their_first_middle_and_last_label_and_a_table():
    line = charts.line_chart(
        [1.0, None, 3.0, 4.0],
        title="Latency",
        width=480,
        height=160,
        fmt=lambda v: f"{v:g} ms",
        labels=["10:00", "11:00", "12:00", "12:30"],
    )
    assert line["axes"] and (line["left"], line["lower"]) == (charts.LINE_LEFT, 136)
    assert (line["first"], line["midpoint"], line["last"]) == ("10:00", "11:00", "12:30")
    assert (line["top_text"], line["bottom_text"]) == ("4 ms", "0 ms")
    assert [row["text"] for row in line["rows"]] == ["1 ms", "–", "3 ms", "4 ms"]
    with pytest.raises(ValueError):
        charts.line_chart([1.0], title="t", width=10, height=10, labels=["a", "b"])


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_drawn_bars_and_sparkline_dots_carry_their_numbers_as_written_in_python(language):
    # The numbers are written once in Python, not one by one through the template's localisation:
    # the same text in every language (a "," decimal point would break the SVG).
    from django.template.loader import render_to_string
    from django.utils import translation

    chart = draw([("s", [5, 10, None])])
    spark = charts.line_chart([1.0, None, 3.0], title="t", width=96, height=24)
    with translation.override(language):
        bars = render_to_string("core/chart.html", {"chart": chart})
        line = render_to_string("core/line_chart.html", {"chart": spark})
    for group in chart["groups"]:
        for bar in group["bars"]:
            assert (
                f'<rect class="{bar["css"]}" x="{bar["x"]}" y="{bar["y"]}" '
                f'width="{bar["width"]}" height="{bar["height"]}"><title>'
            ) in bars
    assert line.count('<circle class="chart-dot"') == 2
    for x, y, _text in spark["dots"]:
        assert f'cx="{x}" cy="{y}" r="1.5"' in line
