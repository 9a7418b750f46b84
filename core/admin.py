"""Admin pieces every app shares."""

from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from core.parsers import JSONFormField


class HistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin whose history page answers 404, not 500, for an id that is not a valid
    key, and whose JSON fields refuse JSON nested too deep (core.parsers)."""

    formfield_overrides = {models.JSONField: {"form_class": JSONFormField}}

    def history_view(self, request, object_id, extra_context=None):
        try:
            self.model._meta.pk.to_python(object_id)
        except ValidationError:
            raise Http404 from None
        return super().history_view(request, object_id, extra_context=extra_context)


class SecretFieldsAdmin:
    """Credential fields as their mask only.

    `secret_fields` maps a field to a read-only display of its mask (a method of
    the admin). Whoever may change the row gets the field's input, whose form shows
    the mask and keeps the stored value unless a new one is typed; whoever may only
    view it (and the history pages) gets the display in its place, never the value.
    """

    secret_fields: dict[str, str] = {}

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.has_change_permission(request, obj):
            return fields
        return list(dict.fromkeys(self.secret_fields.get(name, name) for name in fields))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self.has_change_permission(request, obj):
            return readonly
        return [self.secret_fields.get(name, name) for name in readonly] + [
            shown for shown in self.secret_fields.values() if shown not in readonly
        ]
