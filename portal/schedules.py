"""Idempotent registration of django-q2 schedules, by name, after migrate.

django-q2's Schedule.name is not unique, so registering in AppConfig.ready()
or twice in a row would duplicate jobs. Each app lists its schedules as
`schedules` on its AppConfig; `ensure_schedules()` makes the table match.
"""

from django.apps import apps
from django.db import transaction
from django_q.models import Schedule


def declared_schedules() -> list[dict]:
    found = []
    for config in apps.get_app_configs():
        found.extend(getattr(config, "schedules", ()))
    return found


@transaction.atomic
def ensure_schedules() -> list[str]:
    names = []
    for spec in declared_schedules():
        spec = dict(spec)
        name = spec.pop("name")
        names.append(name)
        rows = list(Schedule.objects.select_for_update().filter(name=name).order_by("id"))
        if rows:
            keep, extra = rows[0], rows[1:]
            for row in extra:
                row.delete()
            changed = False
            for key, value in spec.items():
                if getattr(keep, key) != value:
                    setattr(keep, key, value)
                    changed = True
            if changed:
                keep.save()
        else:
            Schedule.objects.create(name=name, **spec)
    return names
