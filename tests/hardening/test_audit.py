"""Every state change of incidents, postmortems, checklist runs, probes, backup targets
and restores is attributable to a user or to the system, and managers can see it."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupTarget
from checklists import services as checklists
from checklists.models import Run, RunStatus
from incidents import postmortems
from incidents.models import Incident, Postmortem
from probes import services as probes
from probes.models import Probe
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_incident, make_service
from tests.probes.factories import make_probe


@pytest.fixture
def failing_probe(db, settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    return make_probe(
        kind="file", config={"path": str(tmp_path / "missing.db")}, failures_before_alert=1
    )


def test_a_change_through_the_api_with_a_token_is_attributed_to_that_user(api_as, failing_probe):
    api = api_as("manager")
    response = api.patch(
        f"/api/v1/probes/{failing_probe.pk}", {"name": "portal database"}, format="json"
    )
    assert response.status_code == 200, response.content
    change = Probe.history.filter(id=failing_probe.pk).latest("history_date", "history_id")
    assert change.name == "portal database"
    assert change.history_user == api.user
    # One edit, one row: rescheduling after the save writes no second one.
    assert Probe.history.filter(id=failing_probe.pk, history_type="~").count() == 1


def test_an_acknowledgement_through_the_api_is_attributed_to_the_operator(api_as):
    incident = make_incident()
    api = api_as("operator")
    assert api.post(f"/api/v1/incidents/{incident.pk}/acknowledge").status_code == 200
    change = Incident.history.filter(id=incident.pk).latest("history_date", "history_id")
    assert (change.status, change.history_user) == ("acknowledged", api.user)


def test_a_probe_run_by_the_scheduler_is_attributed_to_the_system(failing_probe):
    assert probes.run_due(now=timezone.now()) == 1
    failing_probe.refresh_from_db()
    assert (failing_probe.status, failing_probe.alerting) == ("critical", True)
    flip = Probe.history.filter(id=failing_probe.pk).latest("history_date", "history_id")
    assert (flip.status, flip.alerting, flip.history_user) == ("critical", True, None)
    # The incident it opened is the system's too.
    opened = Incident.history.get(id=failing_probe.incident_id, history_type="+")
    assert opened.history_user is None


def test_a_probe_that_keeps_its_status_adds_no_history(failing_probe):
    probes.run_due(now=timezone.now())
    rows = Probe.history.filter(id=failing_probe.pk).count()
    probes.run_due(now=timezone.now() + timedelta(minutes=5))
    assert Probe.history.filter(id=failing_probe.pk).count() == rows


def test_runs_turned_overdue_by_the_scheduler_are_attributed_to_the_system(db):
    run = make_run(make_template())
    Run.objects.filter(pk=run.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    assert checklists.mark_overdue(now=timezone.now()) == 1
    change = Run.history.filter(id=run.pk).latest("history_date", "history_id")
    assert (change.status, change.history_user, change.history_change_reason) == (
        RunStatus.OVERDUE,
        None,
        "overdue",
    )


def test_completing_a_run_and_publishing_a_postmortem_record_who_did_it(make_user):
    operator, manager = make_user("operator"), make_user("manager")
    run = make_run(make_template(items=()))
    checklists.complete_run(run=run, by=operator)
    assert (
        Run.history.filter(id=run.pk).latest("history_date", "history_id").history_user == operator
    )
    incident = make_incident()
    postmortem = Postmortem.objects.create(
        incident=incident, title="t", severity="sev2", occurred_at=timezone.now()
    )
    postmortems.publish_postmortem(postmortem=postmortem, by=manager)
    change = Postmortem.history.filter(id=postmortem.pk).latest("history_date", "history_id")
    assert (change.status, change.history_user) == ("published", manager)


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_cannot_open_the_audit_page(client_as, role):
    client = client_as(role)
    assert client.get(reverse("audit")).status_code == 403
    assert reverse("audit") not in client.get(reverse("dashboard")).content.decode()


def test_a_manager_sees_who_changed_what(client_as, api_as, failing_probe):
    api = api_as("operator")
    incident = make_incident(make_service("billing"), title="Billing API down")
    api.post(f"/api/v1/incidents/{incident.pk}/acknowledge")
    probes.run_due(now=timezone.now())
    client = client_as("manager")
    assert reverse("audit") in client.get(reverse("dashboard")).content.decode()

    page = client.get(reverse("audit")).content.decode()
    assert api.user.username in page and "Billing API down" in page and "system" in page
    assert "triggered → acknowledged" in page

    by_operator = client.get(reverse("audit"), {"user": api.user.pk}).content.decode()
    assert "Billing API down" in by_operator and failing_probe.name not in by_operator
    by_system = client.get(
        reverse("audit"), {"user": "system", "model": "probes.probe"}
    ).content.decode()
    assert failing_probe.name in by_system and "Billing API down" not in by_system


def test_the_audit_page_shows_labels_yes_no_and_local_times_in_the_readers_language(
    client_as, failing_probe, settings
):
    settings.TIME_ZONE = "Asia/Seoul"
    with time_machine.travel(datetime(2027, 1, 5, 6, 14, 50, 561309, tzinfo=UTC), tick=False):
        probes.run_due(now=timezone.now())
    client = client_as("manager")
    english = client.get(
        reverse("audit"), {"model": "probes.probe"}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    korean = client.get(
        reverse("audit"), {"model": "probes.probe"}, HTTP_ACCEPT_LANGUAGE="ko"
    ).content.decode()
    assert "status: not run yet → critical" in english and "alerting: no → yes" in english
    assert "incident: – → #" in english
    assert "아직 실행 안 됨 → 심각" in korean and "알림 중: 아니요 → 예" in korean
    for raw in ("True", "False", "+00:00", "critical", "unknown"):
        assert raw not in korean
    assert "2027-01-05 15:14:50" in korean  # the last run, in the portal's time zone


def test_the_audit_page_never_shows_a_secret(client_as, api_as, failing_probe):
    api = api_as("manager")
    url = "http://monitor:s3cret-pw@127.0.0.1:9/health"
    response = api.patch(
        f"/api/v1/probes/{failing_probe.pk}",
        {"kind": "http", "config": {"url": url}},
        format="json",
    )
    assert response.status_code == 200, response.content
    page = client_as("manager").get(reverse("audit")).content.decode()
    assert "s3cret-pw" not in page


@pytest.mark.parametrize("model", ["probes_probe", "checklists_run", "backups_restorerun"])
def test_managers_find_these_models_in_the_admin(client, make_user, model):
    client.force_login(make_user("manager", is_staff=True))
    assert client.get(reverse(f"admin:{model}_changelist")).status_code == 200


def test_the_admin_history_of_a_run_shows_who_completed_it(client, make_user):
    operator = make_user("operator")
    run = make_run(make_template(items=()))
    checklists.complete_run(run=run, by=operator)
    client.force_login(make_user("manager", is_staff=True))
    page = client.get(reverse("admin:checklists_run_history", args=[run.pk])).content.decode()
    assert operator.username in page


def test_the_admin_history_of_a_probe_shows_who_changed_it(
    client, make_user, api_as, failing_probe
):
    api = api_as("manager")
    api.patch(f"/api/v1/probes/{failing_probe.pk}", {"name": "portal database"}, format="json")
    client.force_login(make_user("manager", is_staff=True))
    page = client.get(
        reverse("admin:probes_probe_history", args=[failing_probe.pk])
    ).content.decode()
    assert api.user.username in page


def test_a_backup_target_edited_through_the_api_has_one_history_row_naming_the_manager(
    api_as, settings, tmp_path
):
    settings.FILE_ROOTS = [tmp_path]
    target = BackupTarget.objects.create(
        name="db",
        service=make_service(),
        kind="sqlite",
        source=str(tmp_path / "db.sqlite3"),
        destination=str(tmp_path / "b"),
    )
    api = api_as("manager")
    response = api.patch(f"/api/v1/backup-targets/{target.pk}", {"keep_last": 7}, format="json")
    assert response.status_code == 200, response.content
    [change] = BackupTarget.history.filter(id=target.pk, history_type="~")
    assert (change.keep_last, change.history_user) == (7, api.user)


@pytest.mark.parametrize(
    "model", ["incidents/incident", "checklists/run", "probes/probe", "backups/backuptarget"]
)
def test_an_admin_history_page_for_an_id_that_is_not_a_key_is_a_404(db, client, model):
    admin = User.objects.create_superuser("root-history", password="x")
    client.force_login(admin)
    assert client.get(f"/admin/{model}/not-a-number/history/").status_code == 404
