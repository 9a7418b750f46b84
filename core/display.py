"""How values read on every page, report, export and message: one formatter per kind of value, in
the reader's language (the active translation) and the portal's time zone."""

from datetime import date, datetime, timedelta
from functools import partialmethod

from django.apps import apps
from django.db.models import Model
from django.utils import formats, timezone
from django.utils.choices import CallableChoiceIterator
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import gettext as _


def format_duration(value: timedelta | int | float | None) -> str:
    """A duration (or a number of seconds) as people say it: "1 d", "4 h 30 min", "15 min", "1
    min 30 s", "20 s" (not "1 day, 0:00:00" or "86400 s"). Seconds only count under an hour;
    negative is zero."""
    if value is None or value == "":
        return ""
    total = max(round(value.total_seconds() if isinstance(value, timedelta) else float(value)), 0)
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


def choice_label(value, field: str) -> str:
    """The label of a stored choice by "app_label.Model.field", for values kept outside their model
    (snapshots, event parameters): the value itself when it is no longer a choice."""
    app_label, model_name, field_name = field.split(".")
    choices = dict(apps.get_model(app_label, model_name)._meta.get_field(field_name).flatchoices)
    return str(choices.get(value, value))


def format_bool(value: bool) -> str:
    return _("yes") if value else _("no")


def format_datetime(value: datetime) -> str:
    """Local time, to the second, in the active language's short format."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "Y-m-d H:i:s")


def format_value(value, choices: dict | None = None) -> str:
    """Any stored value as a person reads it: a choice by its label, yes/no, local times, durations;
    empty as a dash."""
    if value is None or value == "":
        return "–"
    if choices and value in choices:
        return str(choices[value])
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return formats.date_format(value, "Y-m-d")
    if isinstance(value, timedelta):
        return format_duration(value)
    return str(value)


def _labels(field) -> dict:
    """A field's choices as {value: label}, built once per field; the labels stay lazy, so each one
    is translated when it is shown, in the language of that request."""
    labels = field.__dict__.get("_portal_labels")
    if labels is None:
        labels = field._portal_labels = dict(make_hashable(field.flatchoices))
    return labels


def _get_display(self, *, field):
    value = getattr(self, field.attname)
    return force_str(_labels(field).get(make_hashable(value), value), strings_only=True)


def keep_choice_labels(models) -> None:
    """Give these models' get_FOO_display() a dict of labels kept per field. Django's builds the
    dict of every choice on each call, hashing (so translating) every lazy label: on a list that
    shows a label per row (timeline kinds, statuses, severities) that was most of the page's time
    (issue 22).
    Same answers: the label in the active language, or the value when it is no choice. Fields whose
    choices are computed (a callable) keep Django's."""
    for model in models:
        for field in model._meta.fields:
            name = f"get_{field.name}_display"
            method = model.__dict__.get(name)
            if (
                isinstance(method, partialmethod)
                and method.func is Model._get_FIELD_display
                and not isinstance(field.choices, CallableChoiceIterator)
            ):
                setattr(model, name, partialmethod(_get_display, field=field))
