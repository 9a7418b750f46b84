"""The audit trail: who changed what, across every model of the portal's apps that
keeps history (django-simple-history). A change with no user was made by a
background task and is shown as "system" (core.history).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.apps import apps
from django.db.models import CharField, Value
from django.utils.translation import gettext_lazy as _

from core.display import format_value
from core.roles import PORTAL_APPS

SYSTEM = "system"
# Shown as changed, never with their values: a URL, connection string or header may hold a password.
SECRET_FIELDS = {"config", "source", "token", "target"}
ACTIONS = {"+": _("created"), "~": _("changed"), "-": _("deleted")}
# The change reasons background tasks give (core.history), in the reader's language.
REASONS = {"overdue": _("overdue")}
COLUMNS = (
    "history_id",
    "history_date",
    "history_type",
    "history_user_id",
    "history_change_reason",
    "id",
)


def audited_models() -> dict[str, type]:
    """ "app_label.model_name" → model, for each model of the portal's apps with a history."""
    found = {}
    for label in PORTAL_APPS:
        for model in apps.get_app_config(label).get_models():
            if getattr(model._meta, "simple_history_manager_attribute", None):
                found[model._meta.label_lower] = model
    return dict(sorted(found.items(), key=lambda item: str(item[1]._meta.verbose_name)))


def changes(*, model: str = "", user: str = ""):
    """Every history row, newest first, as values (one UNION over the history tables).
    `model` narrows to one "app_label.model_name"; `user` to a user id or SYSTEM."""
    queries = []
    for label, audited in audited_models().items():
        if model and label != model:
            continue
        rows = audited.history.all()
        if user == SYSTEM:
            rows = rows.filter(history_user__isnull=True)
        elif user:
            rows = rows.filter(history_user_id=user)
        queries.append(
            rows.order_by()
            .annotate(model=Value(label, output_field=CharField()))
            .values(*COLUMNS, "model")
        )
    if not queries:
        return []
    return queries[0].union(*queries[1:], all=True).order_by("-history_date", "-history_id")


@dataclass
class Entry:
    at: datetime
    model: str
    object_id: int
    name: str
    action: str
    user: str
    reason: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)


def short(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def shown(model_field, value) -> str:
    """A field's stored value as people read it: a choice's label, yes/no, a local time, #id of a
    row."""
    if model_field.is_relation and value is not None:
        return f"#{value}"
    return short(
        format_value(value, dict(model_field.flatchoices) if model_field.choices else None)
    )


def entries(rows) -> list[Entry]:
    """The rows of one page, with who did it and what changed against the previous version."""
    by_model: dict[str, list[int]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row["history_id"])
    records = {}
    models = audited_models()
    for label, ids in by_model.items():
        for record in (
            models[label].history.filter(history_id__in=ids).select_related("history_user")
        ):
            records[(label, record.history_id)] = record
    result = []
    for row in rows:
        record = records.get((row["model"], row["history_id"]))
        if record is None:
            continue
        opts = models[row["model"]]._meta
        entry = Entry(
            at=record.history_date,
            model=str(opts.verbose_name),
            object_id=row["id"],
            name=short(getattr(record, "name", None) or getattr(record, "title", None) or ""),
            action=str(ACTIONS.get(record.history_type, record.history_type)),
            user=record.history_user.get_username() if record.history_user else str(_("system")),
            reason=str(
                REASONS.get(record.history_change_reason, record.history_change_reason or "")
            ),
        )
        previous = record.prev_record if record.history_type == "~" else None
        if previous is not None:
            for change in record.diff_against(previous).changes:
                model_field = opts.get_field(change.field)
                label = str(model_field.verbose_name)
                if change.field in SECRET_FIELDS:
                    entry.fields.append((label, "…", "…"))
                else:
                    entry.fields.append(
                        (label, shown(model_field, change.old), shown(model_field, change.new))
                    )
        result.append(entry)
    return result
