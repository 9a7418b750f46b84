"""Admin pieces every app shares."""

from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from portal.parsers import JSONFormField


class HistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin whose history page answers 404, not 500, for an id that is not a valid key,
    and whose JSON fields refuse JSON nested too deep (portal.parsers)."""

    formfield_overrides = {models.JSONField: {"form_class": JSONFormField}}

    def history_view(self, request, object_id, extra_context=None):
        try:
            self.model._meta.pk.to_python(object_id)
        except ValidationError:
            raise Http404 from None
        return super().history_view(request, object_id, extra_context=extra_context)
