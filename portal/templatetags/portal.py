from datetime import timedelta

from django import template
from django.apps import apps

from portal.lib.display import format_duration

register = template.Library()


@register.filter
def duration(value: timedelta | int | float | None) -> str:
    """`{{ incident.open_for|duration }}`: portal.lib.display.format_duration, for templates."""
    return format_duration(value)


@register.filter
def choice_label(value, field: str) -> str:
    """The display label of a stored choice value, for values kept outside their model (snapshots,
    previews): `{{ status|choice_label:"incidents.Incident.status" }}` shows "Acknowledged", translated."""
    app_label, model_name, field_name = field.split(".")
    choices = dict(apps.get_model(app_label, model_name)._meta.get_field(field_name).flatchoices)
    return str(choices.get(value, value))
