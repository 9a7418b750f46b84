"""Server-drawn SVG bar and line charts (DESIGN §7): the geometry is computed here and drawn by
templates/core/chart.html as inline SVG, so a chart needs no script, no CDN and no inline
style (the CSP forbids style=""). Colours come from classes in portal.css (`series-0`…), which
follow the light and dark schemes; the SVG scales to its box through its viewBox.

A chart is a row of groups (a month, a week, a run), each with one value per series: side by
side, or stacked when the series add up to a whole (incidents per service). Every chart carries
its own table of the same figures for screen readers and for people who want the numbers.
"""

import math
from collections.abc import Callable, Sequence

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 100, 8, 12, 36  # room for the value axis' labels and the group labels
SERIES_CLASSES = 6  # portal.css colours series-0 … series-5; more series reuse them
TICKS = 4
MIN_BAR = 1.5  # a small positive value still shows as a sliver, not as nothing


def nice_top(value: float) -> float:
    """The axis' top: the smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `value` (1 for nothing to
    draw)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power  # pragma: no cover: the loop always ends at 10 × power


def nice_count_top(count: float) -> float:
    """The axis' top for counts: a whole number of whole quarters (4: ticks 1, 2, 3), never 0.5."""
    return max(4, 4 * nice_top(count / 4))


def nice_bytes_top(size: float) -> float:
    """The axis' top for sizes in bytes: a power of two, so its quarters read as 1 MB, 2 MB…"""
    return max(4, 2 ** math.ceil(math.log2(size))) if size > 0 else 4


MINUTE, HOUR, DAY = 60, 3600, 86400
# Axis tops for durations whose quarters are round too (4 h: 1 h ticks), not 1 h 23 min.
DURATION_TOPS = (
    4,
    20,
    40,
    MINUTE,
    2 * MINUTE,
    4 * MINUTE,
    8 * MINUTE,
    20 * MINUTE,
    40 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    4 * DAY,
    8 * DAY,
    20 * DAY,
    40 * DAY,
)


def nice_duration_top(seconds: float) -> float:
    """The axis' top for durations in seconds: the first of DURATION_TOPS at or above `seconds`
    (beyond them, a round number of 4-day steps)."""
    for top in DURATION_TOPS:
        if seconds <= top:
            return top
    return 4 * DAY * nice_top(seconds / (4 * DAY))


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    fmt: Callable[[float], str],
    empty: str,
    stacked: bool = False,
    label_every: int = 1,
    height: int = HEIGHT,
    scale: Callable[[float], float] = nice_top,
) -> dict:
    """Geometry for `series` ([(name, one value per label)]) over the groups `labels`.

    `fmt` writes a value with its unit (the axis, the tooltips and the table use it); None is no
    value (drawn as no bar, "–" in the table). With nothing above zero the chart is `empty`: the
    template says so in words instead of drawing an empty frame. `label_every` thins the group
    labels on a crowded axis (every group keeps its tooltip and table column); a smaller `height`
    makes a small chart for a dashboard panel (with fewer ticks). `scale` picks the axis' top for
    the largest value (nice_duration_top for durations in seconds)."""
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} groups")
    if stacked:
        totals = [sum(values[i] or 0 for _, values in series) for i in range(len(labels))]
        largest = max(totals, default=0)
    else:
        largest = max((v for _, values in series for v in values if v is not None), default=0)
    top = scale(largest) if largest > 0 else 1
    plot_width, plot_height = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    ticks = TICKS if height >= HEIGHT else 2
    baseline = TOP + plot_height
    slot = plot_width / max(len(labels), 1)
    group_width = slot * 0.8
    bar_width = group_width if stacked else group_width / max(len(series), 1)

    def height_of(value: float) -> float:
        return max(plot_height * value / top, MIN_BAR) if value > 0 else 0

    groups = []
    for index, label in enumerate(labels):
        left = LEFT + index * slot + (slot - group_width) / 2
        bars, stack = [], baseline
        for number, (name, values) in enumerate(series):
            value = values[index]
            if value is None or value <= 0:
                continue
            tall = height_of(value)
            if stacked:
                x, y = left, stack - tall
                stack = y
            else:
                x, y = left + number * bar_width, baseline - tall
            bar = {
                "x": round(x, 1),
                "y": round(y, 1),
                "width": round(max(bar_width - 1, 1), 1),
                "height": round(tall, 1),
                "css": f"series-{number % SERIES_CLASSES}",
                "title": f"{label}, {name}: {fmt(value)}",
            }
            bar["attrs"] = _attributes(bar, "x", "y", "width", "height")
            bars.append(bar)
        groups.append(
            {
                "label": label,
                "x": round(left + group_width / 2, 1),
                "bars": bars,
                "show_label": index % max(label_every, 1) == 0,
            }
        )
    return {
        "title": title,
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "baseline": baseline,
        "label_y": baseline + 28,
        "ticks": [
            {"y": round(baseline - plot_height * step / ticks, 1), "text": fmt(top * step / ticks)}
            for step in range(ticks + 1)
        ],
        "groups": groups,
        "legend": [
            {"name": name, "css": f"series-{n % SERIES_CLASSES}"}
            for n, (name, _) in enumerate(series)
        ],
        "labels": list(labels),
        "rows": [
            {"name": name, "cells": ["–" if v is None else fmt(v) for v in values]}
            for name, values in series
        ],
        "empty": empty if largest <= 0 else "",
    }


LINE_LEFT, LINE_BOTTOM = 64, 24  # room for the value axis' labels and the time axis' labels


def line_chart(
    values: Sequence[float | None],
    *,
    title: str,
    width: int,
    height: int,
    fmt: Callable[[float], str] = str,
    labels: Sequence[str] = (),
) -> dict | None:
    """Geometry for a line through `values`, oldest first (None: no sample there), drawn by
    templates/core/line_chart.html: a dot for every value (a single sample still shows). With
    `labels` (one per value) it is a full chart with axes, the first, middle and last label under
    them, and a table of the figures; without, a sparkline. The scale starts at 0 (or below, for
    negative values). None: nothing to draw."""
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    if not present:
        return None
    if labels and len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    top = max(max(v for _i, v in present), 0.0)
    bottom = min(min(v for _i, v in present), 0.0)
    span = (top - bottom) or 1.0
    axes = bool(labels)
    left, right = (LINE_LEFT, width - 8) if axes else (2, width - 2)
    upper, lower = (8, height - LINE_BOTTOM) if axes else (2, height - 2)
    step = (right - left) / max(1, len(values) - 1)

    def at(i, v):
        return round(left + i * step, 1), round(lower - (v - bottom) / span * (lower - upper), 1)

    dots = [(*at(i, v), fmt(v)) for i, v in present]
    return {
        # A sparkline's dots carry no text: written here in one string, as the grid draws one
        # sparkline per probe (thousands of dots through the template's loop, or format_html,
        # otherwise).
        "sparkline_dots": mark_safe(  # noqa: S308 - rounded floats only, no text
            "".join(
                f'<circle class="chart-dot" cx="{x}" cy="{y}" r="1.5" fill="currentColor"/>'
                for x, y, _text in dots
            )
        ),
        "title": title,
        "axes": axes,
        "points": " ".join(f"{x},{y}" for x, y, _text in dots),
        "dots": dots,
        "top": top,
        "bottom": bottom,
        "top_text": fmt(top),
        "bottom_text": fmt(bottom),
        "left": left,
        "right": right,
        "upper": upper,
        "lower": lower,
        "middle": round((left + right) / 2, 1),
        "width": width,
        "height": height,
        "first": labels[0] if axes else "",
        "midpoint": labels[(len(labels) - 1) // 2] if axes else "",
        "last": labels[-1] if axes else "",
        "rows": [
            {"label": label, "text": "–" if v is None else fmt(v)}
            for label, v in zip(labels, values, strict=True)
        ]
        if axes
        else [],
    }


def _attributes(numbers: dict, *names: str) -> SafeString:
    """SVG attributes of numbers as one string, each written as str() writes it, which is what the
    template wrote (no separators, "." for the decimal point): a chart has hundreds of bars, and
    each number through the template's localisation cost more than the rest of the bar."""
    return mark_safe(" ".join(f'{name}="{numbers[name]}"' for name in names))  # noqa: S308 - floats
