"""get_FOO_display() reads a dict of labels kept per field (core.display.keep_choice_labels): the
same answers as Django's, in the language of the moment, for every choice field of the portal's
models."""

from functools import partialmethod

import pytest
from django.apps import apps
from django.db.models import Model
from django.utils import translation

from core.display import _get_display
from incidents.models import EventKind, Incident, Severity, TimelineEvent
from portal.apps import PORTAL_APPS


def choice_fields():
    for config in apps.get_app_configs():
        if config.name in PORTAL_APPS:
            for model in config.get_models():
                for field in model._meta.fields:
                    if field.choices:
                        yield model, field


def test_every_choice_field_of_the_portal_keeps_its_labels():
    found = list(choice_fields())
    assert len(found) > 50  # statuses, kinds, severities… of every app and their histories
    for model, field in found:
        method = model.__dict__[f"get_{field.name}_display"]
        assert isinstance(method, partialmethod), (model, field.name)
        assert method.func is _get_display, f"{model.__name__}.{field.name} keeps Django's"
        assert method.func is not Model._get_FIELD_display


@pytest.mark.parametrize("model, field", list(choice_fields()), ids=lambda v: str(v))
def test_each_label_is_djangos_in_both_languages(model, field):
    for value, _label in field.flatchoices:
        row = model(**{field.attname: value})
        for language in ("en", "ko"):
            with translation.override(language):
                assert row.__getattribute__(f"get_{field.name}_display")() == (
                    Model._get_FIELD_display(row, field)
                )


def test_the_label_follows_the_active_language_after_the_first_call():
    incident = Incident(severity=Severity.SEV1)
    event = TimelineEvent(kind=EventKind.CREATED)
    with translation.override("en"):
        english = (incident.get_severity_display(), event.get_kind_display())
    with translation.override("ko"):
        korean = (incident.get_severity_display(), event.get_kind_display())
    assert english[1] == "created" and korean[1] == "생성"
    assert english[0] != korean[0]


def test_a_value_that_is_no_choice_reads_as_itself():
    assert TimelineEvent(kind="gone").get_kind_display() == "gone"
    assert Incident(severity=None).get_severity_display() is None
