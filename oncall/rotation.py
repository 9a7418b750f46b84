"""Who is on call when: a pure function of a schedule's layers and overrides.

Nothing here reads the database or the clock. Hand-offs and restrictions are
wall-clock times in the schedule's time zone: a shift is computed on naive local
date-times (a week is seven calendar days, not 168 hours) and only then placed
in the zone, so a weekly hand-off at Monday 09:00 stays at 09:00 across a DST
change.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


@dataclass(frozen=True)
class LayerSpec:
    members: tuple[int, ...]  # contact ids in rotation order
    rotation_days: int
    handoff: time
    anchor: date  # the first shift starts on this date at the hand-off time
    position: int = 0  # a higher position takes precedence
    weekdays: tuple[int, ...] = ()  # restriction: ISO weekdays (Monday = 0); empty = every day
    from_time: time | None = None  # restriction: daily hours [from, to); to < from crosses midnight
    to_time: time | None = None

    def allows(self, local: datetime) -> bool:
        """Whether the restriction lets this layer cover the naive local moment."""
        day = local.weekday()
        if self.from_time is None or self.to_time is None or self.from_time == self.to_time:
            return not self.weekdays or day in self.weekdays
        t = local.time()
        if self.from_time < self.to_time:
            return (
                not self.weekdays or day in self.weekdays
            ) and self.from_time <= t < self.to_time
        # A night restriction (22:00–06:00) belongs to the day it starts on.
        started = day if t >= self.from_time else (day - 1) % 7 if t < self.to_time else None
        return started is not None and (not self.weekdays or started in self.weekdays)

    def shift(self, local: datetime) -> tuple[int, datetime, datetime] | None:
        """(contact, start, end) of the rotation's shift at the naive local moment, or None
        before the layer starts. Start and end are naive local hand-off times."""
        day = local.date() if local.time() >= self.handoff else local.date() - timedelta(days=1)
        offset = (day - self.anchor).days
        if offset < 0 or not self.members:
            return None
        index = offset // self.rotation_days
        start = datetime.combine(
            self.anchor + timedelta(days=index * self.rotation_days), self.handoff
        )
        return (
            self.members[index % len(self.members)],
            start,
            start + timedelta(days=self.rotation_days),
        )

    def who(self, local: datetime) -> int | None:
        if not self.allows(local):
            return None
        found = self.shift(local)
        return found[0] if found else None

    def weekly_coverage(self) -> list[tuple[int, int]]:
        """The minutes of a week (Monday 00:00 = 0) the restriction lets this layer cover,
        as [start, end) intervals; wrapping ones are split at the week's end."""
        days = self.weekdays or tuple(range(7))
        if self.from_time is None or self.to_time is None or self.from_time == self.to_time:
            return [(d * MINUTES_PER_DAY, (d + 1) * MINUTES_PER_DAY) for d in days]
        start = self.from_time.hour * 60 + self.from_time.minute
        end = self.to_time.hour * 60 + self.to_time.minute
        if end < start:
            end += MINUTES_PER_DAY
        intervals = []
        for d in days:
            a, b = d * MINUTES_PER_DAY + start, d * MINUTES_PER_DAY + end
            if b <= MINUTES_PER_WEEK:
                intervals.append((a, b))
            else:
                intervals += [(a, MINUTES_PER_WEEK), (0, b - MINUTES_PER_WEEK)]
        return intervals

    def overlaps(self, other: "LayerSpec") -> bool:
        """Whether the two restrictions cover some hour of the week in common."""
        return any(
            a < d and c < b for a, b in self.weekly_coverage() for c, d in other.weekly_coverage()
        )


@dataclass(frozen=True)
class OverrideSpec:
    contact: int
    starts_at: datetime
    ends_at: datetime
    order: int = 0  # among overlapping overrides the higher (the later made) wins

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class Shift:
    contact: int | None
    starts_at: datetime
    ends_at: datetime


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def on_call_at(
    layers: list[LayerSpec], overrides: list[OverrideSpec], at: datetime, zone: ZoneInfo
) -> int | None:
    """The contact on call at `at`: an override covering it, else the highest layer
    whose restriction allows it and whose rotation has started; None if nobody."""
    for override in sorted(overrides, key=lambda o: o.order, reverse=True):
        if override.covers(at):
            return override.contact
    local = _local(at, zone)
    for layer in sorted(layers, key=lambda layer: layer.position, reverse=True):
        who = layer.who(local)
        if who is not None:
            return who
    return None


def shifts(
    layers: list[LayerSpec],
    overrides: list[OverrideSpec],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
) -> list[Shift]:
    """The final schedule in [start, end): consecutive stretches with one person (or nobody) on
    call.

    Who is on call can only change at a hand-off, a restriction's edge, midnight
    (a weekday restriction) or an override's edge, so the function is asked at
    those moments only and equal neighbours are merged.
    """
    moments = {start}
    first, last = (
        _local(start, zone).date() - timedelta(days=1),
        _local(end, zone).date() + timedelta(days=1),
    )
    day = first
    while day <= last:
        for clock in (
            {time(0)}
            | {layer.handoff for layer in layers}
            | {t for layer in layers for t in (layer.from_time, layer.to_time) if t is not None}
        ):
            moments.add(datetime.combine(day, clock).replace(tzinfo=zone))
        day += timedelta(days=1)
    for override in overrides:
        moments.update((override.starts_at, override.ends_at))
    ordered = sorted(m for m in moments if start <= m < end)
    found: list[Shift] = []
    for n, moment in enumerate(ordered):
        until = ordered[n + 1] if n + 1 < len(ordered) else end
        who = on_call_at(layers, overrides, moment, zone)
        if found and found[-1].contact == who:
            found[-1] = Shift(who, found[-1].starts_at, until)
        else:
            found.append(Shift(who, moment, until))
    return found


def current_and_next(
    layers: list[LayerSpec],
    overrides: list[OverrideSpec],
    at: datetime,
    zone: ZoneInfo,
    horizon: timedelta = timedelta(days=62),
) -> tuple[Shift | None, Shift | None]:
    """The shift under way at `at` and the next one with someone else (or nobody) on call."""
    found = shifts(layers, overrides, at, at + horizon, zone)
    current = found[0] if found else None
    upcoming = found[1] if len(found) > 1 else None
    return current, upcoming
