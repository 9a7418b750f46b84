"""django-q2 entry points: thin, each calls one service."""

from checklists import services


def materialize() -> dict:
    return services.materialize_runs()


def remind_overdue() -> int:
    return services.remind_overdue()
