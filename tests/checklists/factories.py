"""Plain `make_*` helpers for checklists tests."""

from datetime import timedelta
from itertools import count

from checklists import services
from checklists.models import Kind, Run, Template

_seq = count(1)


def make_template(
    name: str | None = None,
    *,
    items=("Check the health endpoint", "Check disk use"),
    sections: list[dict] | None = None,
    **fields,
) -> Template:
    """A template with one section holding `items` (texts; all required), or the given
    `sections`."""
    fields.setdefault("kind", Kind.ROUTINE)
    fields.setdefault("due_window", timedelta(hours=2))
    template = Template.objects.create(name=name or f"template-{next(_seq)}", **fields)
    if sections is None:
        sections = [{"title": "Checks", "items": [{"text": text} for text in items]}]
    services.replace_sections(template, sections)
    return template


def make_run(template: Template | None = None, *, by=None, **fields) -> Run:
    """A run started by hand (snapshot of the template's items)."""
    template = template or make_template(**fields)
    return services.start_run(template=template, by=by)
