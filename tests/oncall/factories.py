"""Plain `make_*` helpers for oncall tests; each saves the row and returns it."""

from datetime import date
from itertools import count

from oncall.models import Layer, Override, Schedule
from oncall.services import save_layer

_seq = count(1)


def make_schedule(name: str | None = None, **fields) -> Schedule:
    return Schedule.objects.create(name=name or f"schedule-{next(_seq)}", **fields)


def make_layer(
    schedule: Schedule, members, *, starts_on: date = date(2026, 3, 2), **fields
) -> Layer:
    """A weekly layer handing off on Mondays at 09:00 unless told otherwise (2026-03-02 is a
    Monday)."""
    fields.setdefault("name", f"layer-{next(_seq)}")
    layer = Layer(schedule=schedule, starts_on=starts_on, **fields)
    return save_layer(layer=layer, member_ids=[m.pk for m in members])


def make_override(schedule: Schedule, contact, starts_at, ends_at, **fields) -> Override:
    return Override.objects.create(
        schedule=schedule, contact=contact, starts_at=starts_at, ends_at=ends_at, **fields
    )
