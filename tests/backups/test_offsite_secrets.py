"""The repository password never shows: not in argv (/proc/*/cmdline), logs, pages, the API or
the admin."""

import logging
from pathlib import Path

from django.db import connection

from backups import restic, services
from backups.models import BackupRun, OffsiteStatus, Repository, Trigger
from tests.backups.conftest import PASSWORD


def command_lines() -> dict[int, str]:
    lines = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue  # gone in between
    return lines


def test_the_password_is_in_no_process_command_line_while_restic_runs(local_repository, roots):
    source = roots / "payload.bin"
    source.write_bytes(b"x" * 4_000_000)
    seen = []

    def look(_done):
        seen.append(command_lines())

    restic.backup(
        local_repository.as_restic(), source, tags=["target:x"], host="portal", progress=look
    )
    assert seen, "restic reported no progress: the process list was never read while it ran"
    restic_lines = [
        line
        for snapshot in seen
        for line in snapshot.values()
        if "restic" in line and " backup " in line
    ]
    assert restic_lines, "no restic backup process was found in /proc while it ran"
    assert all(PASSWORD not in line for snapshot in seen for line in snapshot.values())


def test_the_password_is_stored_encrypted(local_repository):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT password FROM backups_repository WHERE id = %s", [local_repository.pk]
        )
        stored = cursor.fetchone()[0]
    assert stored and PASSWORD not in stored
    assert Repository.objects.get(pk=local_repository.pk).password == PASSWORD


def test_the_password_is_in_no_log_line_nor_error_of_a_copy_or_a_failure(
    local_repository, make_target, caplog
):
    caplog.set_level(logging.DEBUG)
    target = make_target("sqlite", repository=local_repository)
    good = services.run_backup(target=target, trigger=Trigger.MANUAL)
    assert good.offsite_status == OffsiteStatus.SUCCEEDED
    Repository.objects.filter(pk=local_repository.pk).update(password=PASSWORD + " but wrong")
    target.refresh_from_db()
    bad = services.run_backup(target=target, trigger=Trigger.MANUAL)
    assert bad.offsite_status == OffsiteStatus.FAILED
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in (run.offsite_error + run.error) for run in BackupRun.objects.all())
    assert PASSWORD not in Repository.objects.get(pk=local_repository.pk).error


def test_the_password_is_in_no_page_api_answer_or_admin_view(
    local_repository, make_target, client_as, api_as
):
    make_target("sqlite", repository=local_repository)
    api = api_as("manager")
    answers = [
        api.get("/api/v1/restic-repositories"),
        api.get(f"/api/v1/restic-repositories/{local_repository.pk}"),
        api.post(f"/api/v1/restic-repositories/{local_repository.pk}/refresh"),
        api.patch(
            f"/api/v1/restic-repositories/{local_repository.pk}",
            {"upload_limit_kib": 512},
            format="json",
        ),
    ]
    assert all(answer.status_code == 200 for answer in answers), [a.content for a in answers]
    assert all(
        "password" not in answer.json() and PASSWORD not in answer.content.decode()
        for answer in answers[1:]
    )
    assert all("password" not in row for row in answers[0].json()["results"])
    client = client_as("admin")
    pk = local_repository.pk
    for url in (
        "/backups/repositories/",
        f"/backups/repositories/{pk}/",
        f"/backups/repositories/{pk}/edit/",
        "/admin/backups/repository/",
        f"/admin/backups/repository/{pk}/change/",
        f"/admin/backups/repository/{pk}/history/",
        "/backups/recoverability/",
        "/api/v1/recoverability",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert PASSWORD not in response.content.decode(), url
    # An edit that leaves the password empty keeps the stored one.
    assert Repository.objects.get(pk=pk).password == PASSWORD
    assert Repository.objects.get(pk=pk).upload_limit_kib == 512


def test_the_password_column_is_rotated_with_the_other_field_keys():
    from core.fields import encrypted_columns

    assert ("backups_repository", "id", "password") in encrypted_columns()
    # The history table keeps no copy of it.
    assert not [c for c in encrypted_columns() if c[0] == "backups_historicalrepository"]
