"""manage.py seed_bench: DESIGN §9's dataset, here at its `tiny` scale."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Min, Sum

from backups.models import BackupRun, BackupTarget
from bench.management.commands.seed_bench import SCALES, Command
from checklists.models import Item, Run, RunItem, Section, Template
from incidents.models import (
    ActionItem,
    Contact,
    EscalationPolicy,
    EscalationStep,
    Incident,
    IncidentRollup,
    NotificationChannel,
    Postmortem,
    Service,
    Tier,
    TimelineEvent,
)
from probes.models import Probe, ProbeResult

ANCHOR = "2026-03-01T12:00:00+00:00"
# In dependency order: each model's foreign keys point at models before it.
MODELS = (
    Tier,
    Contact,
    NotificationChannel,
    EscalationPolicy,
    EscalationStep,
    Service,
    Incident,
    TimelineEvent,
    Postmortem,
    ActionItem,
    Probe,
    ProbeResult,
    Template,
    Section,
    Item,
    Run,
    RunItem,
    BackupTarget,
    BackupRun,
)

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = StringIO()
    call_command(Command(), scale="tiny", anchor=ANCHOR, stdout=out, **options)
    return out.getvalue()


def fingerprint() -> list[tuple]:
    """Every row of every seeded table, with primary and foreign keys counted from each table's
    first row: two seeds compare equal even where the database does not reuse ids."""
    first = {model: model.objects.aggregate(first=Min("pk"))["first"] or 0 for model in MODELS}
    rows = []
    for model in MODELS:
        fields = model._meta.concrete_fields
        for values in model.objects.order_by("pk").values_list(*[f.attname for f in fields]):
            row = [model.__name__]
            for field, value in zip(fields, values, strict=True):
                if value is not None and field.primary_key:
                    value -= first[model]
                elif value is not None and field.is_relation and field.related_model in first:
                    value -= first[field.related_model]
                elif field.name == "escalation_snapshot" and value:
                    value = snapshot_counted_from_first(value, first)
                row.append(value)
            rows.append(tuple(row))
    return rows


def snapshot_counted_from_first(snapshot: dict, first: dict) -> dict:
    """An incident's escalation snapshot names its policy and tiers by id: count those from the
    first row too (PostgreSQL does not hand out the same ids again after a rollback)."""
    steps = [
        {**step, "tier": step["tier"] - first[Tier] if step.get("tier") else step.get("tier")}
        for step in snapshot.get("steps", [])
    ]
    policy = snapshot.get("policy")
    return {
        **snapshot,
        "steps": steps,
        "policy": policy - first[EscalationPolicy] if policy else policy,
    }


class Rollback(Exception):
    pass


def seeded_fingerprint(seed_value: int = 7) -> list[tuple]:
    try:
        with transaction.atomic():
            seed(seed=seed_value)
            taken = fingerprint()
            raise Rollback
    except Rollback:
        return taken


def test_it_writes_exactly_the_rows_of_its_scale():
    scale = SCALES["tiny"]
    output = seed()
    assert Service.objects.count() == scale.services
    assert Contact.objects.count() == scale.contacts
    assert Incident.objects.count() == scale.incidents
    assert Incident.objects.open().count() == scale.open_incidents
    assert TimelineEvent.objects.count() == scale.events
    assert Probe.objects.count() == scale.probes
    assert ProbeResult.objects.count() == scale.results
    assert Template.objects.count() == scale.templates
    assert Run.objects.count() == scale.runs
    assert BackupTarget.objects.count() == scale.targets
    assert BackupRun.objects.count() == scale.backup_runs
    assert Postmortem.objects.exists() and ActionItem.objects.exists()
    # Written in bulk: the rollups the reports read are built from them at once.
    assert IncidentRollup.objects.aggregate(n=Sum("incidents"))["n"] == scale.incidents
    assert "seeded in" in output and "incidents" in output


def test_the_same_seed_writes_the_same_rows_and_another_seed_does_not():
    first = seeded_fingerprint()
    assert len(first) > 3000
    assert seeded_fingerprint() == first
    assert seeded_fingerprint(seed_value=8) != first


def test_nothing_it_writes_is_due_for_the_portals_own_workers():
    from django.utils.dateparse import parse_datetime

    seed()
    anchor = parse_datetime(ANCHOR)
    assert not Probe.objects.due(anchor).exists()
    assert not BackupTarget.objects.exclude(next_run_at__gt=anchor).exists()
    assert not Template.objects.filter(materialized_through__isnull=True).exists()
    assert not Incident.objects.filter(next_escalation_at__lte=anchor).exists()


def test_it_refuses_a_database_that_holds_data_unless_forced():
    Service.objects.create(name="Production API")
    with pytest.raises(CommandError, match="already holds services"):
        seed()
    seed(force=True)
    assert Service.objects.count() == 1 + SCALES["tiny"].services
