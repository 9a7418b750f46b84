"""The dashboard's backup panel: how many targets are fresh, then the ones that need someone,
worst first, up to PANEL_ROWS (the backups page lists them all)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backups.dashboard import PANEL_ROWS
from backups.models import BackupRun, RunStatus, Verification
from tests.incidents.factories import make_service

pytestmark = pytest.mark.django_db


def verified(target, age):
    BackupRun.objects.create(
        target=target,
        trigger="manual",
        status=RunStatus.SUCCEEDED,
        verification=Verification.PASSED,
        finished_at=timezone.now() - age,
        sha256="0" * 64,
    )


def test_the_panel_counts_the_fresh_and_lists_the_others_worst_first(client_as, make_target):
    service = make_service(rpo=timedelta(hours=24))
    verified(make_target(name="fresh-db", service=service), timedelta(hours=1))
    verified(make_target(name="ageing-db", service=service), timedelta(hours=22))
    verified(make_target(name="old-db", service=service), timedelta(hours=30))
    make_target(name="never-db", service=service)
    page = client_as("viewer").get("/").content.decode()
    panel = page[page.index('id="backups-title"') :]
    assert "1 of 4 targets have a fresh verified backup." in panel
    assert "fresh-db" not in panel
    assert panel.index("never-db") < panel.index("old-db") < panel.index("ageing-db")
    assert "targets that need attention" not in panel


def test_past_the_panels_rows_it_links_to_all_of_them(client_as, make_target):
    service = make_service(rpo=timedelta(hours=1))
    for n in range(PANEL_ROWS + 3):
        make_target(name=f"db-{n:02}", service=service)
    page = client_as("viewer").get("/").content.decode()
    panel = page[page.index('id="backups-title"') :]
    assert "0 of 11 targets have a fresh verified backup." in panel
    assert panel.count("no verified backup") == PANEL_ROWS
    assert f"All {PANEL_ROWS + 3} targets that need attention" in panel


def test_the_panel_speaks_korean(client_as, make_target):
    make_target(name="never-db")
    client = client_as("viewer")
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "백업 대상 1개 중 0개는 검증된 최신 백업이 있습니다." in page
