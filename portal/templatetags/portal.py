from datetime import timedelta

from django import template

from core import display

register = template.Library()


@register.filter
def duration(value: timedelta | int | float | None) -> str:
    """`{{ incident.open_for|duration }}`: core.display.format_duration, for templates."""
    return display.format_duration(value)


@register.filter
def choice_label(value, field: str) -> str:
    """The display label of a stored choice value, for values kept outside their model
    (snapshots, previews): `{{ status|choice_label:"incidents.Incident.status" }}` shows
    "Acknowledged", translated."""
    return display.choice_label(value, field)
