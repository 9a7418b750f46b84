"""On-call workflows: saving a layer with its rotation, overrides, and the escalation hook's two
reads."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _

from oncall.models import Layer, LayerMember, Override, Schedule, portal_zone
from oncall.rotation import current_and_next


def check_layer(layer: Layer, member_ids: list[int]) -> None:
    """A layer's own rules (Layer.clean) and its rotation's: at least one person, nobody twice."""
    errors = {}
    if not member_ids:
        errors["members"] = [
            ValidationError(_("A rotation needs at least one person."), code="empty")
        ]
    elif len(set(member_ids)) != len(member_ids):
        errors["members"] = [
            ValidationError(_("A person appears twice in the rotation."), code="duplicate")
        ]
    try:
        layer.clean()
    except ValidationError as exc:
        errors.update(exc.update_error_dict({}))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_layer(*, layer: Layer, member_ids: list[int]) -> Layer:
    check_layer(layer, member_ids)
    layer.save()
    layer.memberships.all().delete()
    LayerMember.objects.bulk_create(
        [LayerMember(layer=layer, contact_id=pk, position=n) for n, pk in enumerate(member_ids)]
    )
    return layer


def schedules_with_rotations(queryset=None):
    """Schedules with what `on_call_at` reads, in three queries whatever their number."""
    layers = Layer.objects.prefetch_related("memberships")
    return (queryset if queryset is not None else Schedule.objects.all()).prefetch_related(
        Prefetch("layers", queryset=layers), "overrides"
    )


# The escalation hook (incidents.targets), registered in OncallConfig.ready() --------------


def schedules_of_steps(step_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    rows = (
        Schedule.escalation_steps.through.objects.filter(escalationstep_id__in=step_ids)
        .order_by("escalationstep_id", "schedule_id")
        .values_list("escalationstep_id", "schedule_id")
    )
    for step_id, schedule_id in rows:
        found.setdefault(step_id, []).append(schedule_id)
    return found


def on_call(schedule_ids: set[int], at: datetime) -> dict[int, int | None]:
    overrides = Override.objects.filter(starts_at__lte=at, ends_at__gt=at)
    schedules = Schedule.objects.filter(pk__in=schedule_ids).prefetch_related(
        Prefetch("layers", queryset=Layer.objects.prefetch_related("memberships")),
        Prefetch("overrides", queryset=overrides),
    )
    return {schedule.pk: schedule.on_call_at(at) for schedule in schedules}


def schedule_names(schedule_ids: set[int]) -> dict[int, str]:
    return dict(Schedule.objects.filter(pk__in=schedule_ids).values_list("pk", "name"))


def now_and_next(schedules, at: datetime) -> list[dict]:
    """Per schedule (prefetched with schedules_with_rotations): the shift under way and the next
    one."""
    zone = portal_zone()
    rows = []
    for schedule in schedules:
        current, upcoming = current_and_next(
            schedule.layer_specs(), schedule.override_specs(), at, zone
        )
        rows.append({"schedule": schedule, "current": current, "next": upcoming})
    return rows
