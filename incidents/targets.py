"""Escalation targets that another app provides, so that incidents never imports it.

The oncall app registers its schedules here from its AppConfig.ready(): which
schedules each escalation step pages (read into the policy snapshot when an
incident opens) and who is on call for a schedule at a moment (asked when the
step fires, so an override made after the incident opened applies to the steps
that fire after it). With nothing registered, no step targets a schedule.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ScheduleTargets:
    # Step ids → {step id: [schedule id, …]} for the steps that target schedules.
    steps: Callable[[list[int]], dict[int, list[int]]]
    # Schedule ids and a moment → {schedule id: contact id on call, or None}.
    on_call: Callable[[set[int], datetime], dict[int, int | None]]
    # Schedule ids → {schedule id: name}.
    names: Callable[[set[int]], dict[int, str]] | None = None


_registered: ScheduleTargets | None = None


def register_schedule_targets(targets: ScheduleTargets | None) -> None:
    global _registered
    _registered = targets


def schedules_of_steps(step_ids: Iterable[int]) -> dict[int, list[int]]:
    step_ids = list(step_ids)
    if _registered is None or not step_ids:
        return {}
    return _registered.steps(step_ids)


def resolve_schedules(schedule_ids: Iterable[int], at: datetime) -> dict[int, int | None]:
    schedule_ids = set(schedule_ids)
    if _registered is None or not schedule_ids:
        return {}
    return _registered.on_call(schedule_ids, at)


def schedule_names(schedule_ids: Iterable[int]) -> dict[int, str]:
    """{schedule id: name}, for what a page says it was sent as."""
    schedule_ids = set(schedule_ids)
    if _registered is None or _registered.names is None or not schedule_ids:
        return {}
    return _registered.names(schedule_ids)
