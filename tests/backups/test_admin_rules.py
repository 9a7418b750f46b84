"""Backup, restore and rehearsal records are the history of what ran: nobody deletes them."""

import pytest
from django.urls import reverse

from backups.models import BackupRun, Rehearsal, RestoreRun, RunStatus
from tests.adminform import staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(make_target):
    target = make_target()
    run = BackupRun.objects.create(target=target, trigger="schedule", status=RunStatus.SUCCEEDED)
    restore = RestoreRun.objects.create(target=target, backup=run, destination="/tmp/restored")
    rehearsal = Rehearsal.objects.create(target=target, backup=run, passed=True)
    return [run, restore, rehearsal]


def test_run_records_cannot_be_deleted_in_the_admin(make_user, records):
    admin = staff_client(make_user, "admin")
    for record in records:
        name = record._meta.model_name
        delete = admin.post(
            reverse(f"admin:backups_{name}_delete", args=[record.pk]), {"post": "yes"}
        )
        assert delete.status_code == 403, name
        bulk = admin.post(
            reverse(f"admin:backups_{name}_changelist"),
            {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
        )
        assert bulk.status_code in (200, 302), name
        assert type(record).objects.filter(pk=record.pk).exists(), name


def test_the_api_has_no_delete_for_run_records(api_as, records):
    manager = api_as("manager")
    for path, record in zip(("backup-runs", "restores", "rehearsals"), records, strict=True):
        assert manager.delete(f"/api/v1/{path}/{record.pk}").status_code == 405, path
        assert type(record).objects.filter(pk=record.pk).exists(), path
