"""History rows for the changes django-simple-history cannot see.

State changes are conditional updates (`filter(pk=…, status=current).update(…)`),
so that two people racing never undo each other, and bulk updates, so that a
probe tick stays cheap. Neither sends a signal, so nothing would be recorded;
these write the row. Who: `by`, else the user of the current request (simple-
history's middleware), else nobody — a background task, shown as "system".
"""

from collections.abc import Iterable

from django.db import models


def record_changes(objects: Iterable[models.Model], *, by=None, reason: str = "") -> None:
    """One history row per object, as it is now (reload it after an update())."""
    objects = list(objects)
    if not objects:
        return
    type(objects[0]).history.bulk_history_create(
        objects, update=True, default_user=by, default_change_reason=reason
    )


def record_change(instance: models.Model, *, by=None, reason: str = "") -> None:
    record_changes([instance], by=by, reason=reason)
