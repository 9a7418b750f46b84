"""Repositories through the pages and the API; the scorecard's grades."""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from backups import services
from backups.models import Rehearsal, Repository, RestoreRun, Trigger
from backups.scorecard import scorecards
from tests.backups.conftest import PASSWORD
from tests.incidents.factories import make_service

NIGHT = datetime(2026, 5, 4, 2, 0, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "nas", "url": "sftp:backup@nas:/restic"}, "password"),
        ({"name": "nas", "url": "relative/folder", "password": "pw"}, "url"),
        ({"name": "nas", "url": "sftp:no-path", "password": "pw"}, "url"),
        ({"name": "nas", "url": "/etc/restic", "password": "pw"}, "url"),
        (
            {
                "name": "nas",
                "url": "sftp:backup@nas:/restic",
                "password": "pw",
                "upload_limit_kib": -1,
            },
            "upload_limit_kib",
        ),
        ({"name": "", "url": "sftp:backup@nas:/restic", "password": "pw"}, "name"),
    ],
)
def test_bad_repository_input_gets_a_field_error_not_a_500(api_as, roots, body, field):
    response = api_as("manager").post("/api/v1/restic-repositories", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Repository.objects.exists()


def test_a_manager_adds_a_repository_on_the_page_and_initialises_it(client_as, roots, tmp_path):
    client = client_as("manager")
    response = client.post(
        "/backups/repositories/new/", {"name": "nas", "url": "not a location", "password": "pw"}
    )
    assert response.status_code == 400
    assert not Repository.objects.exists()
    response = client.post(
        "/backups/repositories/new/",
        {"name": "nas", "url": str(tmp_path / "r"), "password": PASSWORD},
    )
    repository = Repository.objects.get()
    assert response.url == f"/backups/repositories/{repository.pk}/"
    client.post(f"/backups/repositories/{repository.pk}/init/")
    repository.refresh_from_db()
    assert repository.initialised_at is not None and repository.snapshot_count == 0
    # A second init is refused by restic, and says so.
    Repository.objects.filter(pk=repository.pk).update(initialised_at=None)
    response = client.post(f"/backups/repositories/{repository.pk}/init/", follow=True)
    assert "already exists" in response.content.decode()


def test_the_restore_page_can_read_the_backup_from_its_snapshot(
    client_as, local_repository, make_target
):
    target = make_target("sqlite", repository=local_repository)
    run = services.run_backup(target=target, trigger=Trigger.MANUAL)
    client = client_as("manager")
    page = client.get(f"/backups/runs/{run.pk}/restore/")
    assert run.snapshot_id in page.content.decode()
    client.post(
        f"/backups/runs/{run.pk}/restore/", {"confirm": target.name, "from_repository": "on"}
    )
    assert RestoreRun.objects.get().from_repository is True


def card_for(service):
    return next(card for card in scorecards(now=timezone.now()) if card.service == service)


def test_the_scorecard_grades_backup_age_against_the_rpo_and_its_tolerable_value(
    make_target, local_repository
):
    service = make_service(
        rpo=timedelta(hours=1), tolerable_rpo=timedelta(hours=4), rto=timedelta(hours=2)
    )
    target = make_target("sqlite", service=service, repository=local_repository)
    with time_machine.travel(NIGHT, tick=False):
        services.run_backup(target=target, trigger=Trigger.SCHEDULE)
        services.check_repository(repository=local_repository)
        Rehearsal.objects.create(
            target=target,
            passed=True,
            finished_at=timezone.now(),
            duration=timedelta(minutes=3),
            rto=service.rto,
        )
    with time_machine.travel(NIGHT + timedelta(minutes=30), tick=False):
        assert card_for(service).status == "green", card_for(service).reasons
    with time_machine.travel(NIGHT + timedelta(hours=2), tick=False):
        card = card_for(service)
        assert card.status == "amber"
        assert any("within the tolerable" in reason for reason in card.reasons)
        assert card.offsite_age == timedelta(hours=2)
    with time_machine.travel(NIGHT + timedelta(hours=5), tick=False):
        assert card_for(service).status == "red"
    with time_machine.travel(NIGHT + timedelta(days=45), tick=False):
        reasons = " ".join(card_for(service).reasons)
        assert "older than 40 days" in reasons


def test_a_target_kept_only_on_the_machine_and_never_rehearsed_is_amber(make_target):
    service = make_service(rpo=timedelta(hours=24), rto=timedelta(hours=2))
    target = make_target("sqlite", service=service)
    services.run_backup(target=target, trigger=Trigger.MANUAL)
    card = card_for(service)
    assert card.status == "amber"
    assert any("not copied off the machine" in reason for reason in card.reasons)
    assert any("No restore was ever rehearsed" in reason for reason in card.reasons)


def test_a_service_without_a_verified_backup_is_red_and_the_api_says_why(make_target, api_as):
    service = make_service(rpo=timedelta(hours=24), rto=timedelta(hours=2))
    make_target("sqlite", service=service)
    rows = api_as("viewer").get("/api/v1/recoverability").json()
    row = next(r for r in rows if r["service"] == service.pk)
    assert row["status"] == "red"
    assert any("no verified backup" in reason for reason in row["reasons"])
    assert row["rto"] == "02:00:00"


def test_the_run_page_shows_the_copy_and_offers_a_restore_when_only_the_snapshot_is_left(
    client_as, local_repository, make_target
):
    target = make_target("sqlite", repository=local_repository)
    run = services.run_backup(target=target, trigger=Trigger.MANUAL)
    run.mark_pruned(now=timezone.now())
    page = client_as("manager").get(f"/backups/runs/{run.pk}/").content.decode()
    assert run.snapshot_id in page
    assert f"/backups/runs/{run.pk}/restore/" in page
    as_operator = client_as("operator").get(f"/backups/runs/{run.pk}/").content.decode()
    assert f"/backups/runs/{run.pk}/restore/" not in as_operator


def test_a_folder_outside_the_file_roots_is_never_initialised(db, roots):
    from core.errors import DomainError

    repository = Repository.objects.create(name="nas", url="/etc/portal-restic", password=PASSWORD)
    with pytest.raises(DomainError) as caught:
        services.init_repository(repository=repository)
    assert caught.value.field == "url"
    assert not Path("/etc/portal-restic").exists()
