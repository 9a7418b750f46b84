import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from checklists import services, tasks
from checklists.models import Run, RunStatus
from tests.checklists.factories import make_template


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def seoul(settings):
    settings.TIME_ZONE = "Asia/Seoul"


@pytest.mark.django_db
def test_a_daily_0900_seoul_template_creates_its_run_at_0000_utc_exactly_once_when_run_twice(seoul):
    with time_machine.travel(utc(2026, 3, 2, 12, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *")
    with time_machine.travel(utc(2026, 3, 2, 23, 59, 30), tick=False):
        assert services.materialize_runs()["created"] == 0
    with time_machine.travel(utc(2026, 3, 3, 0, 0, 5), tick=False):
        assert tasks.materialize()["created"] == 1
        assert tasks.materialize()["created"] == 0
    run = Run.objects.get(template=template)
    assert run.occurrence == utc(2026, 3, 3, 0, 0)
    assert run.name == "Daily 09:00 — 2026-03-03"
    assert run.due_at == utc(2026, 3, 3, 2, 0)
    assert [i.text for i in run.items.order_by("position")] == [
        "Check the health endpoint",
        "Check disk use",
    ]


@pytest.mark.django_db(transaction=True)
def test_two_materialisations_at_the_same_moment_create_the_run_once(seoul):
    with time_machine.travel(utc(2026, 3, 2, 12, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def materialise():
        try:
            barrier.wait(timeout=10)
            results.append(services.materialize_runs(now=utc(2026, 3, 3, 0, 0, 1))["created"])
        except Exception as exc:  # reported below; a thread must not swallow it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=materialise) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(results) == [0, 1]
    assert Run.objects.filter(template=template).count() == 1
    assert Run.objects.get(template=template).items.count() == 2


@pytest.mark.django_db
def test_a_second_cluster_that_lost_the_race_creates_nothing_and_breaks_nothing(seoul):
    with time_machine.travel(utc(2026, 3, 2, 12, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *")
    now = utc(2026, 3, 3, 0, 0, 1)
    services.materialize_runs(now=now)
    # The other cluster inserted the run but had not yet moved the mark when we looked.
    type(template).objects.filter(pk=template.pk).update(materialized_through=None)
    assert services.materialize_runs(now=now)["created"] == 0
    assert Run.objects.filter(template=template).count() == 1


@pytest.mark.django_db
def test_a_weekly_berlin_template_keeps_0900_local_across_the_dst_change(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(utc(2026, 3, 20, 12, 0), tick=False):
        template = make_template("Weekly review", schedule="0 9 * * 1")
    services.materialize_runs(now=utc(2026, 3, 23, 8, 0, 1))  # Monday before the change: CET, UTC+1
    services.materialize_runs(now=utc(2026, 3, 30, 7, 0, 1))  # Monday after it: CEST, UTC+2
    runs = list(Run.objects.filter(template=template).order_by("occurrence"))
    assert [r.occurrence for r in runs] == [utc(2026, 3, 23, 8, 0), utc(2026, 3, 30, 7, 0)]
    assert [timezone.localtime(r.occurrence).strftime("%H:%M") for r in runs] == ["09:00", "09:00"]
    assert [r.name for r in runs] == ["Weekly review — 2026-W13", "Weekly review — 2026-W14"]


@pytest.mark.django_db
def test_two_days_of_downtime_create_one_run_and_record_the_missed_one(seoul):
    with time_machine.travel(utc(2026, 3, 1, 12, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *")
    services.materialize_runs(now=utc(2026, 3, 2, 0, 0, 1))
    # Down from 3 March 00:30 UTC to 4 March 01:00 UTC: the 3rd and the 4th were owed.
    counts = services.materialize_runs(now=utc(2026, 3, 4, 1, 0))
    assert counts["created"] == 1 and counts["missed"] == 1
    runs = {r.occurrence: r for r in Run.objects.filter(template=template)}
    assert runs[utc(2026, 3, 3, 0, 0)].status == RunStatus.MISSED
    assert runs[utc(2026, 3, 3, 0, 0)].items.count() == 0
    assert runs[utc(2026, 3, 4, 0, 0)].status == RunStatus.OPEN
    assert runs[utc(2026, 3, 4, 0, 0)].items.count() == 2
    assert len(runs) == 3


@pytest.mark.django_db
def test_a_long_outage_records_a_bounded_number_of_missed_runs(seoul):
    with time_machine.travel(utc(2025, 1, 1), tick=False):
        template = make_template("Every minute", schedule="* * * * *")
    services.materialize_runs(now=utc(2025, 1, 2))
    assert (
        Run.objects.filter(template=template, status=RunStatus.MISSED).count()
        == services.MISSED_RECORDED_AT_MOST
    )
    assert Run.objects.filter(template=template, status=RunStatus.OPEN).count() == 1


@pytest.mark.django_db
def test_a_template_made_after_todays_slot_waits_for_tomorrow(seoul):
    with time_machine.travel(utc(2026, 3, 3, 1, 0), tick=False):
        template = make_template("Daily 09:00", schedule="0 9 * * *")
    assert services.materialize_runs(now=utc(2026, 3, 3, 5, 0))["created"] == 0
    assert services.materialize_runs(now=utc(2026, 3, 4, 0, 0))["created"] == 1
    assert Run.objects.get(template=template).occurrence == utc(2026, 3, 4, 0, 0)


@pytest.mark.django_db
def test_editing_the_template_never_rewrites_a_run_already_made(seoul):
    with time_machine.travel(utc(2026, 3, 2, 12, 0), tick=False):
        template = make_template("Daily", schedule="0 9 * * *", items=["Old text"])
    services.materialize_runs(now=utc(2026, 3, 3, 0, 0))
    services.save_template(
        template=template, fields={}, sections=[{"title": "New", "items": [{"text": "New"}]}]
    )
    template.refresh_from_db()
    run = Run.objects.get(template=template)
    assert [i.text for i in run.items.all()] == ["Old text"]
    assert run.template_version == 1 and template.version == 2


@pytest.mark.django_db
def test_runs_past_their_due_time_turn_overdue_and_the_assignee_is_reminded_once(seoul, mailoutbox):
    from tests.incidents.factories import make_contact

    contact = make_contact(email="shift@example.com")
    with time_machine.travel(utc(2026, 3, 2, 12, 0), tick=False):
        template = make_template("Daily", schedule="0 9 * * *", assignee_contact=contact)
    services.materialize_runs(now=utc(2026, 3, 3, 0, 0))
    assert services.materialize_runs(now=utc(2026, 3, 3, 2, 1))["overdue"] == 1
    run = Run.objects.get(template=template)
    assert run.status == RunStatus.OVERDUE
    assert services.remind_overdue(now=utc(2026, 3, 3, 2, 2)) == 1
    assert services.remind_overdue(now=utc(2026, 3, 3, 2, 7)) == 0
    assert [m.to for m in mailoutbox] == [["shift@example.com"]]
    assert run.name in mailoutbox[0].subject


@pytest.mark.django_db
def test_inactive_and_unscheduled_templates_make_no_runs():
    make_template("Off", schedule="* * * * *", active=False)
    make_template("By hand")
    assert services.materialize_runs(now=timezone.now() + timedelta(days=2))["created"] == 0


@pytest.mark.django_db
def test_the_materialiser_and_reminder_are_registered_as_schedules_once():
    from django_q.models import Schedule

    from portal.schedules import ensure_schedules

    ensure_schedules()
    ensure_schedules()
    assert Schedule.objects.filter(name="checklists.materialize", minutes=1).count() == 1
    assert Schedule.objects.filter(name="checklists.remind_overdue").count() == 1
