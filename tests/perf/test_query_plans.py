"""The hot queries are answered from the index meant for them (DESIGN §9), on SQLite and PostgreSQL.

SQLite: `EXPLAIN QUERY PLAN` must search or scan the named index, and an
ordered query must come out of it in order (no temporary B-tree for ORDER BY).
PostgreSQL: with sequential scans and sorts priced out (`enable_seqscan`,
`enable_sort`, `enable_incremental_sort` off, so neither a handful of test rows
nor statistics gathered by autovacuum can make a table scan or a sort over
another index look cheaper), `EXPLAIN (FORMAT JSON)` must show an index scan on
the named index: the index is usable for the query as written.
"""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import Q
from django_q.models import Task

from backups.dashboard import with_freshness
from backups.models import BackupRun
from checklists.models import Run
from incidents.models import PUBLISHED_STATUSES, Incident, Postmortem, TimelineEvent
from incidents.postmortems import missing_postmortems
from probes.models import ProbeResult

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)

# name → (queryset, index names any of which may answer it (or such a list per database),
#         whether its ORDER BY must come from the index)
HOT_QUERIES = {
    "incident list, open first": (
        lambda: Incident.objects.open_first()[:50],
        ["incident_open_first"],
        True,
    ),
    "incident list, one status": (
        lambda: Incident.objects.filter(status="resolved").open_first()[:50],
        ["incident_status_list"],
        True,
    ),
    "incident list, count of one status": (
        lambda: Incident.objects.filter(status="resolved").values("status").order_by(),
        # The page count: SQLite must walk the narrow index, PostgreSQL may take either.
        {"sqlite": ["incident_status"], "postgresql": ["incident_status", "incident_status_list"]},
        False,
    ),
    # T is a Tuesday: incidents resolved on one past day fall due today, in the filter's OR.
    "missing postmortems, oldest first (dashboard)": (
        lambda: missing_postmortems(now=T).order_by("resolved_at")[:10],
        ["incident_resolved_severity"],
        True,
    ),
    "missing postmortems, capped count (dashboard)": (
        lambda: missing_postmortems(now=T).order_by("resolved_at").values("id")[:1001],
        ["incident_resolved_severity"],
        True,
    ),
    "published postmortems of a period (reports)": (
        lambda: Postmortem.objects.filter(
            incident__created_at__gte=T,
            incident__created_at__lt=T,
            incident__resolved_at__isnull=False,
            status__in=PUBLISHED_STATUSES,
        ),
        # SQLite has no statistics: without the status index it walks every incident of the period.
        # PostgreSQL weighs both ways by its statistics, from the postmortems or from the incidents.
        {
            "sqlite": ["postmortem_status"],
            "postgresql": [
                "postmortem_status",
                "incidents_postmortem_incident_id_key",
                "incidents_incident_pkey",
            ],
        },
        False,
    ),
    "escalation sweep, due incidents": (
        lambda: Incident.objects.filter(next_escalation_at__lte=T).order_by("next_escalation_at")[
            :500
        ],
        ["incident_next_escalation"],
        True,
    ),
    "incident timeline, first page": (
        lambda: TimelineEvent.objects.filter(incident_id=1).order_by("at", "id")[:50],
        ["timeline_incident_at"],
        True,
    ),
    "incident timeline, next page by cursor": (
        lambda: (
            TimelineEvent.objects.filter(incident_id=1)
            .filter(Q(at__gt=T) | Q(at=T, id__gt=10))
            .order_by("at", "id")[:50]
        ),
        ["timeline_incident_at"],
        True,
    ),
    "probe results of one probe, newest first": (
        lambda: ProbeResult.objects.filter(probe_id=1).order_by("-at", "-id")[:50],
        ["result_probe_at"],
        True,
    ),
    "latest result of one probe": (
        lambda: ProbeResult.objects.filter(probe_id=1).order_by("-at")[:1],
        ["result_probe_at"],
        True,
    ),
    "probe results older than the retention": (
        lambda: ProbeResult.objects.filter(at__lt=T).values("id"),
        ["result_at"],
        False,
    ),
    "checklist runs of one status by due date": (
        lambda: Run.objects.filter(status="open").order_by("due_at")[:50],
        ["checklists_run_status_due"],
        True,
    ),
    "backup runs of one target, newest first": (
        lambda: BackupRun.objects.filter(target_id=1).order_by("-id")[:50],
        ["backup_run_target_recent"],
        True,
    ),
    "backup freshness of every target (dashboard, targets page, metrics)": (
        lambda: with_freshness(),
        ["backup_run_target_recent"],
        False,
    ),
    "task history, newest first": (
        lambda: Task.objects.order_by("-stopped", "-id")[:50],
        ["portal_task_stopped"],
        True,
    ),
}


def sqlite_plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(row[-1] for row in cursor.fetchall())


def postgres_indexes(queryset) -> list[str]:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found = []

    def walk(node):
        if node.get("Node Type") in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"):
            found.append(node["Index Name"])
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    return found


@pytest.mark.parametrize("name", list(HOT_QUERIES))
def test_the_hot_query_uses_its_index(name):
    build, indexes, ordered = HOT_QUERIES[name]
    queryset = build()
    if isinstance(indexes, dict):
        indexes = indexes[connection.vendor]
    if connection.vendor == "postgresql":
        used = postgres_indexes(queryset)
        assert set(used) & set(indexes), f"{name}: index scans on {used}, expected one of {indexes}"
        return
    plan = sqlite_plan(queryset)
    assert any(
        f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan
        for index in indexes
    ), f"{name}: expected one of {indexes} in\n{plan}"
    if ordered:
        # "FOR RIGHT PART OF ORDER BY" is fine: rows come in index order and only ties
        # (results of one probe in the same instant) are put in id order, as they stream.
        assert "TEMP B-TREE FOR ORDER BY" not in plan, f"{name}: sorted outside the index\n{plan}"
