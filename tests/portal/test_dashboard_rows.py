"""The dashboard loads what its rows show and no more (issue 22: the dashboard within 50 ms at full
scale). Each panel is drawn on every visit, so a wide row or an unused query is paid each time."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backups.dashboard import panel as backups_panel
from backups.models import BackupRun, BackupTarget
from incidents.dashboard import panel as incidents_panel
from incidents.models import Incident
from incidents.postmortems import dashboard_panel as follow_up_panel
from tests.incidents.factories import make_incident, make_service

pytestmark = pytest.mark.django_db


def test_the_backups_panel_reads_the_targets_and_their_ages_in_one_query():
    now = timezone.now()
    for n in range(3):
        target = BackupTarget.objects.create(
            name=f"t{n}", kind="sqlite", service=make_service(rpo=timedelta(hours=24))
        )
        BackupRun.objects.create(
            target=target,
            trigger="manual",
            status="succeeded",
            # ageing (20 h of a 24 h RPO), then too old (25 h, 30 h): each needs someone
            finished_at=now - timedelta(hours=20 + 5 * n),
            verification="passed",
        )
    with CaptureQueriesContext(connection) as queries:
        shown = backups_panel(request=None, now=now)["targets"]
    # The newest run of each target is not shown on the dashboard (the targets page shows it).
    assert len(queries) == 1
    assert [t.name for t in shown] == ["t2", "t1", "t0"]  # worst first
    assert all(t.age is not None for t in shown)


def test_the_open_incidents_and_missing_postmortems_load_only_what_a_row_shows():
    now = timezone.now()
    make_incident(severity="sev1", description="long text " * 100)
    make_incident(
        severity="sev1",
        status="resolved",
        created_at=now - timedelta(days=40),
        resolved_at=now - timedelta(days=30),
    )
    (shown,) = incidents_panel(request=None, now=now)["open_incidents"]
    (missing,) = follow_up_panel(request=None, now=now)["missing"]
    for row in (shown, missing):
        assert isinstance(row, Incident)
        assert {"description", "escalation_snapshot"} <= row.get_deferred_fields()
