"""Plain `make_*` helpers for probes tests."""

from itertools import count

from django.utils import timezone

from probes.kinds import Result
from probes.models import Probe
from tests.incidents.factories import make_service

_seq = count(1)


def make_probe(service=None, *, kind: str = "http", config: dict | None = None, **fields) -> Probe:
    """A saved probe, due at once unless `next_run_at` is given."""
    fields.setdefault("next_run_at", timezone.now())
    return Probe.objects.create(
        service=service or make_service(),
        name=fields.pop("name", f"probe-{next(_seq)}"),
        kind=kind,
        config=config if config is not None else {},
        **fields,
    )


def ok(value=12.0):
    return Result("ok", value, value, "fine")


def warning(value=300.0):
    return Result("warning", value, value, "slow")


def critical(message="HTTP 500"):
    return Result("critical", None, None, message)
