from datetime import timedelta

from django import template
from django.apps import apps
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(value: timedelta | int | float | None) -> str:
    """A duration (or a number of seconds) as people say it: "1 d", "4 h 30 min", "15 min", "1 min 30 s",
    "20 s" (not "1 day, 0:00:00" or "86400 s"). Seconds only count under an hour."""
    if value is None or value == "":
        return ""
    total = int(value.total_seconds() if isinstance(value, timedelta) else value)
    minutes, seconds = divmod(total, 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(_("%(n)d d") % {"n": days})
    if hours:
        parts.append(_("%(n)d h") % {"n": hours})
    if minutes:
        parts.append(_("%(n)d min") % {"n": minutes})
    if (seconds and not (days or hours)) or not parts:
        parts.append(_("%(n)d s") % {"n": seconds})
    return " ".join(parts)


@register.filter
def choice_label(value, field: str) -> str:
    """The display label of a stored choice value, for values kept outside their model (snapshots,
    previews): `{{ status|choice_label:"incidents.Incident.status" }}` shows "Acknowledged", translated."""
    app_label, model_name, field_name = field.split(".")
    choices = dict(apps.get_model(app_label, model_name)._meta.get_field(field_name).flatchoices)
    return str(choices.get(value, value))
