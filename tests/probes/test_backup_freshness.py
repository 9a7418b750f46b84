"""The backup_freshness kind: the newest verified backup's age against the service's RPO."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import BackupRun, BackupTarget, RunStatus, Verification
from probes.kinds import check_backup_freshness, limits_for
from probes.models import Kind, Status
from tests.incidents.factories import make_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    service = make_service("Data hub", rpo=timedelta(hours=1))
    return BackupTarget.objects.create(name="hub-db", kind="file", source=str(tmp_path / "hub.db"),
                                       destination=str(tmp_path / "backups"), service=service)


def backed_up(target, *, ago, verification=Verification.PASSED):
    finished = timezone.now() - ago
    return BackupRun.objects.create(target=target, trigger="manual", status=RunStatus.SUCCEEDED,
                                    finished_at=finished, verification=verification, sha256="0" * 64, size=1)


def check(target, now=None):
    return check_backup_freshness({"target": target.pk}, limits_for(Kind.BACKUP_FRESHNESS, None, None, 5), now=now)


@pytest.mark.parametrize(("age", "status"), [
    (timedelta(minutes=30), Status.OK),
    (timedelta(minutes=48), Status.WARNING),   # 80 % of the RPO
    (timedelta(minutes=61), Status.CRITICAL),  # past the RPO
])
def test_the_age_is_graded_as_a_share_of_the_rpo(target, age, status):
    backed_up(target, ago=age)
    result = check(target)
    assert result.status == status
    assert result.value == pytest.approx(age / timedelta(hours=1) * 100, abs=0.5)


def test_only_verified_backups_count(target):
    backed_up(target, ago=timedelta(minutes=5), verification=Verification.FAILED)
    backed_up(target, ago=timedelta(hours=3))
    assert check(target).status == Status.CRITICAL


def test_a_target_without_any_verified_backup_is_critical(target):
    result = check(target)
    assert result.status == Status.CRITICAL
    assert "hub-db" in result.message


def test_the_api_refuses_a_target_that_does_not_exist(api_as, target):
    response = api_as("manager").post("/api/v1/probes", {
        "service": target.service.pk, "name": "hub backup age", "kind": "backup_freshness",
        "config": {"target": target.pk + 1000}}, format="json")
    assert response.status_code == 400
    assert "target" in str(response.json())


def test_the_api_creates_a_freshness_probe_for_a_target(api_as, target):
    response = api_as("manager").post("/api/v1/probes", {
        "service": target.service.pk, "name": "hub backup age", "kind": "backup_freshness",
        "config": {"target": target.pk}}, format="json")
    assert response.status_code == 201, response.json()


def test_a_manager_creates_a_freshness_probe_with_the_form(client_as, target):
    from probes.models import Probe

    client = client_as("manager")
    page = client.get("/probes/new/backup_freshness/").content.decode()
    assert f'<option value="{target.pk}">hub-db</option>' in page
    response = client.post("/probes/new/backup_freshness/", {
        "service": target.service.pk, "name": "hub backup age", "interval": 300, "timeout": 5,
        "failures_before_alert": 1, "successes_to_recover": 1, "reminder_minutes": 60, "severity": "sev2",
        "enabled": "on", "config_target": target.pk})
    probe = Probe.objects.get()
    assert response.status_code == 302 and response["Location"] == probe.get_absolute_url()
    assert probe.config == {"target": target.pk}
