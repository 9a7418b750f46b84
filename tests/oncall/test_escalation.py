"""Escalation steps that page whoever is on call for a schedule when the step fires."""

import ast
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings

from incidents import services, targets
from incidents.models import EventKind, Notification, TimelineEvent
from oncall import services as oncall_services
from tests.incidents.factories import make_contact, make_policy, make_service
from tests.incidents.test_escalation import sweep
from tests.oncall.factories import make_layer, make_override, make_schedule

SEOUL = ZoneInfo("Asia/Seoul")
TUESDAY_10 = datetime(2026, 3, 3, 10, 0, tzinfo=SEOUL)
MIN = timedelta(minutes=1)


@pytest.fixture
def rota(db, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    people = {name: make_contact(name) for name in ("ann", "bob", "carol", "dan")}
    schedule = make_schedule("primary")
    make_layer(schedule, [people["ann"], people["bob"]])
    service = make_service("api")
    policy = make_policy(
        "sev1",
        [
            {"after": timedelta(0), "contacts": [people["dan"]]},
            {"after": timedelta(minutes=30)},
            {"after": timedelta(hours=1)},
        ],
        service=service,
    )
    steps = list(policy.steps.order_by("position"))
    schedule.escalation_steps.add(steps[1], steps[2])
    return {"people": people, "schedule": schedule, "service": service, "steps": steps}


def open_at(at, rota):
    with time_machine.travel(at, tick=False):
        incident, _ = services.open_incident(
            service=rota["service"], title="API down", severity="sev1"
        )
    return incident


def paged(incident):
    rows = (
        Notification.objects.filter(incident=incident)
        .select_related("contact")
        .order_by("step", "repeat")
    )
    return [(n.step, n.contact.name) for n in rows]


def test_the_snapshot_records_the_schedules_a_step_targets(rota):
    incident = open_at(TUESDAY_10, rota)
    steps = incident.escalation_snapshot["steps"]
    assert [step["schedules"] for step in steps] == [
        [],
        [rota["schedule"].pk],
        [rota["schedule"].pk],
    ]


def test_a_step_targeting_a_schedule_pages_exactly_the_person_on_call(rota):
    incident = open_at(TUESDAY_10, rota)
    sweep(TUESDAY_10)
    sweep(TUESDAY_10 + 30 * MIN)
    assert paged(incident) == [(0, "dan"), (1, "ann")]  # ann's week; bob is not paged
    event = TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.ESCALATION, data__step=1
    ).get()
    assert event.data["on_call"] == {str(rota["schedule"].pk): rota["people"]["ann"].pk}
    assert event.text == "Step 2: paging ann."


def test_an_override_made_after_the_incident_opened_applies_to_later_steps_only(rota):
    incident = open_at(TUESDAY_10, rota)
    sweep(TUESDAY_10)
    sweep(TUESDAY_10 + 30 * MIN)
    make_override(
        rota["schedule"],
        rota["people"]["carol"],
        TUESDAY_10 + 40 * MIN,
        TUESDAY_10 + timedelta(hours=3),
    )
    sweep(TUESDAY_10 + 60 * MIN)
    assert paged(incident) == [(0, "dan"), (1, "ann"), (2, "carol")]
    step_3 = TimelineEvent.objects.get(incident=incident, kind=EventKind.ESCALATION, data__step=2)
    assert step_3.data["on_call"] == {str(rota["schedule"].pk): rota["people"]["carol"].pk}


def test_a_hand_off_between_two_steps_pages_the_new_person(rota):
    monday_0845 = datetime(2026, 3, 9, 8, 45, tzinfo=SEOUL)  # ann's week ends at 09:00
    incident = open_at(monday_0845, rota)
    for minutes in (0, 30, 60):
        sweep(monday_0845 + minutes * MIN)
    assert paged(incident) == [(0, "dan"), (1, "bob"), (2, "bob")]


def test_the_person_on_call_is_paged_outside_their_usual_hours(rota):
    ann = rota["people"]["ann"]
    ann.availability = "business_hours"
    ann.save()
    saturday_night = datetime(2026, 3, 7, 23, 0, tzinfo=SEOUL)
    incident = open_at(saturday_night, rota)
    sweep(saturday_night)
    sweep(saturday_night + 30 * MIN)
    assert paged(incident) == [(0, "dan"), (1, "ann")]


def test_nobody_on_call_is_a_failed_step_and_the_chain_goes_on(rota):
    before_the_rota = datetime(2026, 2, 20, 10, 0, tzinfo=SEOUL)
    incident = open_at(before_the_rota, rota)
    sweep(before_the_rota)
    sweep(before_the_rota + 30 * MIN)
    failed = TimelineEvent.objects.get(incident=incident, kind=EventKind.ESCALATION_FAILED)
    assert failed.data["on_call"] == {str(rota["schedule"].pk): None}
    incident.refresh_from_db()
    assert incident.next_escalation_at == before_the_rota + 60 * MIN


def test_without_the_oncall_hook_steps_target_no_schedule(rota):
    registered = targets._registered
    targets.register_schedule_targets(None)
    try:
        incident = open_at(TUESDAY_10, rota)
    finally:
        targets.register_schedule_targets(registered)
    assert [step["schedules"] for step in incident.escalation_snapshot["steps"]] == [[], [], []]
    assert targets.resolve_schedules({rota["schedule"].pk}, TUESDAY_10) == {
        rota["schedule"].pk: rota["people"]["ann"].pk
    }


def test_the_oncall_app_registers_its_hook():
    assert targets._registered.steps is oncall_services.schedules_of_steps
    assert targets._registered.on_call is oncall_services.on_call


def test_incidents_never_imports_oncall():
    root = Path(django_settings.BASE_DIR) / "incidents"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(name.split(".")[0] == "oncall" for name in names), path


def test_through_the_scheduled_tasks_the_mail_goes_to_the_person_on_call(rota, mailoutbox):
    from incidents import tasks
    from tests.incidents.worker import worker

    with time_machine.travel(TUESDAY_10, tick=False), worker():
        incident, _ = services.open_incident(
            service=rota["service"], title="API down", severity="sev1"
        )
    make_override(
        rota["schedule"],
        rota["people"]["carol"],
        TUESDAY_10 + 5 * MIN,
        TUESDAY_10 + timedelta(hours=2),
    )
    for minutes in (30, 60):
        with time_machine.travel(TUESDAY_10 + minutes * MIN, tick=False), worker():
            tasks.escalate()
    assert [m.to for m in mailoutbox] == [
        [rota["people"][name].email] for name in ("dan", "carol", "carol")
    ]
    assert paged(incident) == [(0, "dan"), (1, "carol"), (2, "carol")]


def test_a_page_from_a_schedule_step_names_the_schedule_and_who_was_paged_before(rota, mailoutbox):
    incident = open_at(TUESDAY_10, rota)
    sweep(TUESDAY_10)
    sweep(TUESDAY_10 + 30 * MIN)
    [mail] = [m for m in mailoutbox if m.to == [rota["people"]["ann"].email]]
    assert "Step: 2 of 3 · primary" in mail.body
    assert "Also paged: dan" in mail.body
    assert f"/incidents/{incident.pk}/" in mail.body
