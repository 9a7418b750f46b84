"""Routes for non-paging messages (issue 15, acceptance 3): a team channel hears of the events it
subscribed to, for its services, from its minimum severity, within its hours; nothing pages a
contact."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse

from backups import services as backup_services
from backups.models import BackupRun, BackupTarget, RunStatus, Verification
from checklists import services as checklist_services
from checklists.models import RunStatus as ChecklistStatus
from incidents import postmortems, services, tasks
from incidents.models import Notification, Purpose, Route
from probes import services as probe_services
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_contact, make_policy, make_service, make_tier
from tests.probes.factories import critical, make_probe, ok, warning

pytestmark = pytest.mark.django_db

# Seoul: 08:30 and 10:00 local on a Tuesday.
BEFORE_HOURS = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
IN_HOURS = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def seoul(settings):
    settings.TIME_ZONE = "Asia/Seoul"


def at(when):
    return time_machine.travel(when, tick=False)


def make_route(hooks, *, events, path="/ok", **fields) -> Route:
    services_ = fields.pop("services", [])
    route = Route.objects.create(
        name=fields.pop("name", f"route {Route.objects.count() + 1}"),
        kind="webhook",
        target=f"{hooks.url}{path}",
        events=events,
        **fields,
    )
    route.services.set(services_)
    return route


def observe(probe, result, when):
    with at(when):
        probe_services.record_results(outcomes=[(probe, result, when)])


def routed(route=None):
    rows = Notification.objects.filter(purpose=Purpose.ROUTE)
    return rows.filter(recipient=f"route:{route.pk}") if route else rows


def test_warnings_go_to_the_subscribed_channel_only_inside_its_hours(hooks):
    service = make_service("Data hub")
    route = make_route(hooks, events=["probe_warning"], hours_start=time(9), hours_end=time(18))
    probe = make_probe(service, name="api latency")
    observe(probe, warning(), BEFORE_HOURS)
    assert not routed().exists()
    observe(probe, ok(), BEFORE_HOURS + timedelta(minutes=10))
    observe(probe, warning(), IN_HOURS)
    observe(probe, warning(), IN_HOURS + timedelta(minutes=1))  # still warning: no second message
    (row,) = routed(route)
    assert row.contact is None and row.channel is None and row.incident is None
    with at(IN_HOURS + timedelta(minutes=2)):
        assert tasks.retry_notifications() == 1
    (body,) = [body for _path, body in hooks.received]
    assert (
        body["event"] == "probe_warning"
        and body["service"] == "Data hub"
        and body["title"] == "api latency"
    )
    assert "slow" in body["text"]
    # After 18:00 in Seoul, nothing again.
    observe(probe, ok(), IN_HOURS + timedelta(hours=8))
    observe(probe, warning(), IN_HOURS + timedelta(hours=8, minutes=30))
    assert routed().count() == 1


def test_nothing_pages_a_contact(hooks):
    service = make_service()
    tier = make_tier()
    make_contact(tier=tier)
    make_policy("sev2", [{"tier": tier}], service=service)
    route = make_route(hooks, events=["probe_warning", "probe_recovered"])
    probe = make_probe(service, severity="sev2")
    for minute in range(5):
        observe(probe, warning(), IN_HOURS + timedelta(minutes=minute))
    with at(IN_HOURS + timedelta(minutes=6)):
        tasks.escalate()
        tasks.retry_notifications()
    assert not probe.service.incidents.exists()
    assert not Notification.objects.filter(purpose=Purpose.PAGE).exists()
    assert list(Notification.objects.values_list("purpose", "contact", "recipient")) == [
        (Purpose.ROUTE, None, f"route:{route.pk}")
    ]


def test_a_route_for_another_service_receives_nothing(hooks):
    ours, theirs = make_service("ours"), make_service("theirs")
    mine = make_route(hooks, events=["probe_warning", "probe_critical"], services=[ours])
    everyone = make_route(hooks, events=["probe_warning"])
    probe = make_probe(theirs, failures_before_alert=1)
    observe(probe, warning(), IN_HOURS)
    observe(probe, critical(), IN_HOURS + timedelta(minutes=1))
    assert not routed(mine).exists()
    assert routed(everyone).count() == 1
    observe(make_probe(ours), warning(), IN_HOURS)
    assert routed(mine).count() == 1


def test_a_failing_probe_and_its_recovery_reach_the_routes_that_want_them(hooks):
    route = make_route(hooks, events=["probe_critical", "probe_recovered"])
    probe = make_probe(failures_before_alert=2, successes_to_recover=1, severity="sev2")
    observe(probe, critical(), IN_HOURS)
    assert not routed().exists()  # one failure does not alert
    observe(probe, critical(), IN_HOURS + timedelta(minutes=1))
    observe(probe, ok(), IN_HOURS + timedelta(minutes=2))
    rows = list(routed(route).order_by("pk"))
    assert [row.message["fields"]["event"] for row in rows] == ["probe_critical", "probe_recovered"]
    assert rows[0].incident == probe.incident  # the message links the incident the failure opened


def test_incident_events_are_filtered_by_minimum_severity(hooks, make_user):
    route = make_route(
        hooks,
        events=["incident_opened", "incident_acknowledged", "incident_resolved"],
        min_severity="sev2",
    )
    service = make_service()
    with at(IN_HOURS):
        minor, _ = services.open_incident(service=service, title="Slow reports", severity="sev3")
        major, _ = services.open_incident(service=service, title="API down", severity="sev1")
        services.acknowledge(incident=major, by=make_user("operator"))
        services.resolve(incident=major, by=make_user("operator"))
        services.resolve(incident=minor, by=None)
    events = [row.message["fields"]["event"] for row in routed(route).order_by("pk")]
    assert events == ["incident_opened", "incident_acknowledged", "incident_resolved"]
    assert set(routed(route).values_list("incident", flat=True)) == {major.pk}
    with at(IN_HOURS + timedelta(minutes=1)):
        assert tasks.retry_notifications() == 3
    assert routed(route).filter(status="sent").count() == 3  # resolving cancelled none of them


def test_backup_failures_and_the_success_after_them_are_routed(hooks, tmp_path, settings):
    settings.FILE_ROOTS = [tmp_path]
    service = make_service("payments")
    route = make_route(hooks, events=["backup_failed", "backup_recovered"], services=[service])
    target = BackupTarget.objects.create(
        name="db",
        service=service,
        kind="sqlite",
        source=str(tmp_path / "db"),
        destination=str(tmp_path / "b"),
    )
    failed = BackupRun.objects.create(
        target=target, trigger="schedule", status=RunStatus.FAILED, error="disk full"
    )
    with at(IN_HOURS):
        backup_services.report_problem(
            target=target,
            problem="run_failed",
            title="Backup of db failed",
            description="disk full",
        )
        good = BackupRun.objects.create(
            target=target,
            trigger="schedule",
            status=RunStatus.SUCCEEDED,
            verification=Verification.PASSED,
        )
        assert backup_services.report_recovery(run=good) is True
        later = BackupRun.objects.create(
            target=target,
            trigger="schedule",
            status=RunStatus.SUCCEEDED,
            verification=Verification.PASSED,
        )
        assert backup_services.report_recovery(run=later) is False  # the one before it succeeded
    rows = list(routed(route).order_by("pk"))
    assert [row.message["fields"]["event"] for row in rows] == ["backup_failed", "backup_recovered"]
    assert "disk full" in rows[0].message["text"] and failed.pk < good.pk


def test_an_overdue_checklist_and_a_published_postmortem_are_routed(hooks, make_user):
    route = make_route(hooks, events=["checklist_overdue", "postmortem_published"])
    run = make_run(make_template(name="Morning checks"))
    run.status, run.due_at = ChecklistStatus.OVERDUE, IN_HOURS - timedelta(hours=1)
    run.save()
    with at(IN_HOURS):
        checklist_services.remind_overdue(now=IN_HOURS)
        incident, _ = services.open_incident(
            service=make_service(), title="API down", severity="sev1"
        )
        services.resolve(incident=incident, by=None)
        postmortem = postmortems.save_postmortem(
            postmortem=postmortems.draft_for(incident), by=None
        )
        postmortems.publish_postmortem(postmortem=postmortem, by=make_user("manager"))
    rows = list(routed(route).order_by("pk"))
    assert [row.message["fields"]["event"] for row in rows] == [
        "checklist_overdue",
        "postmortem_published",
    ]
    assert rows[0].message["subject"].endswith("Morning checks")


def test_hours_may_span_midnight():
    route = Route(hours_start=time(22), hours_end=time(6), events=["probe_warning"])
    assert route.in_hours(datetime(2026, 3, 3, 14, 0, tzinfo=UTC))  # 23:00 in Seoul
    assert route.in_hours(datetime(2026, 3, 2, 20, 0, tzinfo=UTC))  # 05:00
    assert not route.in_hours(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))  # 12:00


def test_a_route_speaks_its_language(hooks):
    route = make_route(hooks, events=["probe_warning"], language="ko")
    observe(make_probe(make_service("결제")), warning(), IN_HOURS)
    (row,) = routed(route)
    assert row.message["subject"].startswith("[프로브 경고]") and "심각도" in row.message["text"]


# The API and the page ---------------------------------------------------------------


def test_a_manager_creates_a_route_through_the_api_and_reads_its_target_masked(api_as):
    service = make_service()
    api = api_as("manager")
    response = api.post(
        reverse("route-list"),
        {
            "name": "ops warnings",
            "kind": "slack",
            "target": "https://hooks.slack.com/services/T0/B0/secretpath",
            "events": ["probe_warning", "backup_recovered"],
            "services": [service.pk],
            "min_severity": "sev3",
            "hours_start": "09:00",
            "hours_end": "18:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "secretpath" not in str(body) and body["events"] == ["probe_warning", "backup_recovered"]
    route = Route.objects.get()
    assert route.target.endswith("secretpath") and list(route.services.all()) == [service]
    # The masked target sent back keeps the stored one.
    assert (
        api.patch(
            reverse("route-detail", args=[route.pk]),
            {"target": body["target"], "enabled": False},
            format="json",
        ).status_code
        == 200
    )
    route.refresh_from_db()
    assert route.target.endswith("secretpath") and not route.enabled


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"events": ["probe_exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "probe_warning"}, "events"),
        ({"hours_start": "09:00"}, "hours_end"),
        ({"hours_start": "09:00", "hours_end": "09:00"}, "hours_end"),
        ({"hours_start": "25:00", "hours_end": "09:00"}, "hours_start"),
        ({"target": "ftp://example.com/x"}, "target"),
        ({"kind": "carrier-pigeon"}, "kind"),
        ({"min_severity": "sev9"}, "min_severity"),
    ],
)
def test_bad_route_input_is_a_400_with_field_errors(api_as, change, field):
    data = {
        "name": "r",
        "kind": "webhook",
        "target": "https://hooks.example.com/r",
        "events": ["probe_warning"],
        **change,
    }
    response = api_as("manager").post(reverse("route-list"), data, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Route.objects.exists()


def test_only_managers_write_routes(api_as):
    data = {
        "name": "r",
        "kind": "webhook",
        "target": "https://hooks.example.com/r",
        "events": ["probe_warning"],
    }
    assert api_as("operator").post(reverse("route-list"), data, format="json").status_code == 403
    assert api_as("viewer").get(reverse("route-list")).status_code == 200


def test_a_manager_adds_edits_and_deletes_a_route_on_its_page(client_as):
    service = make_service("Data hub")
    client = client_as("manager")
    assert client.get(reverse("incidents:routes")).status_code == 200
    response = client.post(
        reverse("incidents:route-new"),
        {
            "name": "ops room",
            "kind": "webhook",
            "target": "https://hooks.example.com/room/secret",
            "language": "ko",
            "events": ["probe_warning", "checklist_overdue"],
            "services": [service.pk],
            "min_severity": "sev4",
            "hours_start": "09:00",
            "hours_end": "18:00",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    route = Route.objects.get()
    assert route.events == ["probe_warning", "checklist_overdue"] and route.hours_start == time(9)
    page = client.get(reverse("incidents:routes")).content.decode()
    assert "ops room" in page and "secret" not in page and "Data hub" in page
    edit = client.get(reverse("incidents:route-edit", args=[route.pk])).content.decode()
    assert "room/secret" not in edit
    bad = client.post(
        reverse("incidents:route-edit", args=[route.pk]),
        {
            "name": "ops room",
            "kind": "webhook",
            "target": "https://hooks.example.com/room/secret",
            "language": "ko",
            "events": ["probe_warning"],
            "min_severity": "sev4",
            "hours_start": "09:00",
        },
    )
    assert bad.status_code == 400
    assert client.post(reverse("incidents:route-delete", args=[route.pk])).status_code == 302
    assert not Route.objects.exists()
