import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.holidays import WorkCalendar
from incidents import escalation, notify, services, tasks
from incidents.escalation import escalate_due, next_business_start
from incidents.models import (
    EscalationPolicy,
    EventKind,
    Notification,
    NotificationStatus,
    TimelineEvent,
)
from tests.incidents.factories import make_contact, make_policy, make_service, make_tier
from tests.incidents.worker import capture_tasks, run, worker

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Seoul
MIN = timedelta(minutes=1)


@pytest.fixture
def runbook(db):
    """The runbooks' shape: Tier 1 ops 24/7, Tier 2 developers, Tier 3 management for
    emergencies."""
    tiers = {
        n: make_tier(n, name)
        for n, name in ((1, "Operations"), (2, "Developers"), (3, "Management"))
    }
    people = {
        "ops": make_contact("ops", tier=tiers[1]),
        "dev": make_contact("dev", tier=tiers[2]),
        "boss": make_contact("boss", tier=tiers[3], availability="emergency_only"),
    }
    service = make_service("api")
    make_policy(
        "sev1",
        [
            {"after": timedelta(0), "tier": tiers[1]},
            {"after": timedelta(minutes=30), "tier": tiers[2]},
            {"after": timedelta(hours=2), "tier": tiers[3]},
        ],
    )
    make_policy(
        "sev2",
        [
            {"after": timedelta(0), "tier": tiers[1]},
            {"after": timedelta(hours=4), "tier": tiers[2]},
        ],
    )
    make_policy("sev3", [{"after": timedelta(0), "tier": tiers[1], "business_hours_only": True}])
    return {"tiers": tiers, "people": people, "service": service}


def open_at(at, runbook, severity="sev1", **extra):
    with time_machine.travel(at, tick=False):
        incident, _ = services.open_incident(
            service=runbook["service"], title="API down", severity=severity, **extra
        )
    return incident


def sweep(at):
    """A sweep at `at`, then the delivery tasks it enqueued, as the cluster runs them."""
    with time_machine.travel(at, tick=False), worker():
        return escalate_due(now=at)


def paged(incident):
    """Who was paged, as (step, repeat, contact name), in order."""
    rows = Notification.objects.filter(incident=incident, notice__isnull=True).order_by(
        "step", "repeat", "contact__name"
    )
    return [(n.step, n.repeat, n.contact.name) for n in rows.select_related("contact")]


def test_sev1_pages_tier_1_at_once_and_tier_2_after_30_minutes_even_when_acknowledged(
    runbook, mailoutbox
):
    incident = open_at(T0, runbook)
    sweep(T0)
    assert paged(incident) == [(0, 0, "ops")]
    assert [m.to for m in mailoutbox] == [[runbook["people"]["ops"].email]]

    with time_machine.travel(T0 + 5 * MIN, tick=False):
        services.acknowledge(incident=incident, by=None)
    sweep(T0 + 29 * MIN)
    assert paged(incident) == [(0, 0, "ops")]

    sweep(T0 + 30 * MIN)
    assert paged(incident) == [(0, 0, "ops"), (1, 0, "dev")]
    assert mailoutbox[-1].to == [runbook["people"]["dev"].email]
    incident.refresh_from_db()
    assert incident.next_escalation_at == T0 + timedelta(hours=2)
    assert incident.escalation_step == 1


def test_it_pages_tier_3_for_a_sev1_still_unresolved_after_2_hours(runbook):
    incident = open_at(T0, runbook)
    for minutes in (0, 30, 120):
        sweep(T0 + minutes * MIN)
    assert paged(incident) == [(0, 0, "ops"), (1, 0, "dev"), (2, 0, "boss")]
    incident.refresh_from_db()
    assert incident.next_escalation_at is None


def test_nothing_more_is_sent_once_resolved_at_29_minutes(runbook, mailoutbox):
    incident = open_at(T0, runbook)
    sweep(T0)
    with time_machine.travel(T0 + 29 * MIN, tick=False):
        services.resolve(incident=incident, by=None)
    for minutes in (30, 31, 120, 600):
        sweep(T0 + minutes * MIN)
    assert paged(incident) == [(0, 0, "ops")]
    assert len(mailoutbox) == 1
    incident.refresh_from_db()
    assert incident.next_escalation_at is None


def test_sev2_pages_tier_1_then_tier_2_after_4_hours(runbook):
    incident = open_at(T0, runbook, severity="sev2")
    sweep(T0)
    sweep(T0 + timedelta(hours=3, minutes=59))
    assert paged(incident) == [(0, 0, "ops")]
    sweep(T0 + timedelta(hours=4))
    assert paged(incident) == [(0, 0, "ops"), (1, 0, "dev")]


def test_a_sev3_opened_friday_22_00_pages_monday_09_00(runbook, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    seoul = ZoneInfo("Asia/Seoul")
    friday_22 = datetime(2026, 3, 6, 22, 0, tzinfo=seoul)
    monday_9 = datetime(2026, 3, 9, 9, 0, tzinfo=seoul)
    incident = open_at(friday_22, runbook, severity="sev3")
    assert incident.next_escalation_at == monday_9

    for at in (friday_22, friday_22 + timedelta(hours=12), monday_9 - MIN):
        sweep(at)
    assert paged(incident) == []
    sweep(monday_9)
    assert paged(incident) == [(0, 0, "ops")]


def test_business_hours_start_is_09_00_local_across_a_dst_change(settings):
    settings.TIME_ZONE = "America/New_York"
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # DST starts Sunday 2026-03-08 in New York
    monday = next_business_start(saturday, WorkCalendar())  # no holidays: the weekend alone
    assert monday == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert monday.astimezone(ZoneInfo("America/New_York")).time() == time(9, 0)
    inside = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert next_business_start(inside, WorkCalendar()) == inside


def test_acknowledging_cancels_not_acknowledged_steps(runbook):
    tiers = runbook["tiers"]
    service = make_service("billing")
    make_policy(
        "sev2",
        [
            {"after": timedelta(0), "tier": tiers[1], "condition": "not_acknowledged"},
            {"after": timedelta(minutes=15), "tier": tiers[2], "condition": "not_acknowledged"},
            {"after": timedelta(minutes=30), "tier": tiers[3], "condition": "not_resolved"},
        ],
        service=service,
    )
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(service=service, title="slow", severity="sev2")
    sweep(T0)
    with time_machine.travel(T0 + 10 * MIN, tick=False):
        services.acknowledge(incident=incident, by=None)
    for minutes in (15, 30, 60):
        sweep(T0 + minutes * MIN)
    # Tier 3 is emergency-only, so the not_resolved step finds nobody: recorded, not skipped.
    assert paged(incident) == [(0, 0, "ops")]
    failed = TimelineEvent.objects.get(incident=incident, kind=EventKind.ESCALATION_FAILED)
    assert failed.data["step"] == 2


def test_the_last_step_repeats_every_n_minutes_and_stops_after_k_times(runbook):
    service = make_service("db")
    make_policy(
        "sev1",
        [{"after": timedelta(0), "tier": runbook["tiers"][1]}],
        service=service,
        repeat_every=timedelta(minutes=10),
        repeat_limit=2,
    )
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(service=service, title="db down", severity="sev1")
    for minute in range(0, 90):
        sweep(T0 + minute * MIN)
    assert paged(incident) == [(0, 0, "ops"), (0, 1, "ops"), (0, 2, "ops")]
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION).count() == 3
    incident.refresh_from_db()
    assert incident.next_escalation_at is None


def test_repeats_stop_when_the_condition_clears(runbook):
    service = make_service("db")
    make_policy(
        "sev1",
        [{"after": timedelta(0), "tier": runbook["tiers"][1], "condition": "not_acknowledged"}],
        service=service,
        repeat_every=timedelta(minutes=10),
        repeat_limit=5,
    )
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(service=service, title="db down", severity="sev1")
    sweep(T0)
    sweep(T0 + 10 * MIN)
    with time_machine.travel(T0 + 11 * MIN, tick=False):
        services.acknowledge(incident=incident, by=None)
    sweep(T0 + 60 * MIN)
    assert paged(incident) == [(0, 0, "ops"), (0, 1, "ops")]


def test_editing_the_policy_does_not_change_a_running_incident(runbook):
    incident = open_at(T0, runbook)
    sweep(T0)
    policy = EscalationPolicy.objects.get(service=None, severity="sev1")
    policy.steps.filter(position=1).update(after=timedelta(minutes=5), tier=runbook["tiers"][3])
    policy.steps.filter(position=2).delete()

    sweep(T0 + 5 * MIN)
    assert paged(incident) == [(0, 0, "ops")]
    sweep(T0 + 30 * MIN)
    assert paged(incident) == [(0, 0, "ops"), (1, 0, "dev")]

    later = open_at(T0 + 40 * MIN, runbook)
    assert [s["after"] for s in later.escalation_snapshot["steps"]] == [0, 300]


def test_a_contact_outside_working_hours_is_skipped(runbook, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    make_contact(
        "day-shift",
        tier=runbook["tiers"][1],
        availability="business_hours",
        work_start=time(9),
        work_end=time(18),
        work_days=[0, 1, 2, 3, 4],
    )
    saturday_3am = datetime(2026, 3, 7, 3, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    night = open_at(saturday_3am, runbook)
    sweep(saturday_3am)
    assert paged(night) == [(0, 0, "ops")]

    tuesday_10am = datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    day = open_at(tuesday_10am, runbook, dedup_key="other")
    sweep(tuesday_10am)
    assert paged(day) == [(0, 0, "day-shift"), (0, 0, "ops")]


def test_emergency_only_contacts_are_paged_for_sev1_only(runbook):
    service = make_service("web")
    for severity in ("sev1", "sev2"):
        make_policy(
            severity, [{"after": timedelta(0), "tier": runbook["tiers"][3]}], service=service
        )
    with time_machine.travel(T0, tick=False):
        sev1, _ = services.open_incident(service=service, title="down", severity="sev1")
        sev2, _ = services.open_incident(service=service, title="slow", severity="sev2")
    sweep(T0)
    assert paged(sev1) == [(0, 0, "boss")]
    assert paged(sev2) == []


def test_a_step_with_nobody_available_is_recorded_as_failed_and_the_chain_goes_on(runbook):
    service = make_service("queue")
    inactive = make_contact("gone", active=False)
    make_policy(
        "sev2",
        [
            # emergency only: nobody for a SEV2
            {
                "after": timedelta(0),
                "tier": runbook["tiers"][3],
            },
            {"after": timedelta(minutes=5), "contacts": [inactive]},
            {"after": timedelta(minutes=10), "tier": runbook["tiers"][1]},
        ],
        service=service,
    )
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(service=service, title="stuck", severity="sev2")
    for minutes in (0, 5, 10):
        sweep(T0 + minutes * MIN)
    failed = TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.ESCALATION_FAILED
    ).order_by("id")
    assert [e.data["step"] for e in failed] == [0, 1]
    assert "nobody available" in failed[0].text
    assert paged(incident) == [(2, 0, "ops")]


def test_a_contact_without_an_enabled_channel_counts_as_nobody(runbook):
    service = make_service("cron")
    tier = make_tier(9, "Silent")
    make_contact("mute", tier=tier, channel=False)
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}], service=service)
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(service=service, title="x", severity="sev1")
    sweep(T0)
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION_FAILED).count()
        == 1
    )


def test_named_contacts_and_a_tier_on_one_step_are_paged_once_each(runbook):
    service = make_service("search")
    make_policy(
        "sev1",
        [
            {
                "after": timedelta(0),
                "tier": runbook["tiers"][1],
                "contacts": [runbook["people"]["ops"], runbook["people"]["dev"]],
            }
        ],
        service=service,
    )
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(service=service, title="x", severity="sev1")
    sweep(T0)
    assert paged(incident) == [(0, 0, "dev"), (0, 0, "ops")]


def test_two_sweeps_in_a_row_send_one_notification_per_step_and_channel(runbook, mailoutbox):
    incident = open_at(T0, runbook)
    sweep(T0)
    sweep(T0)
    sweep(T0 + 30 * MIN)
    sweep(T0 + 30 * MIN)
    assert paged(incident) == [(0, 0, "ops"), (1, 0, "dev")]
    assert len(mailoutbox) == 2
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION).count() == 2
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTIFICATION_SENT).count()
        == 2
    )


def test_a_late_sweep_fires_every_overdue_step_once(runbook):
    incident = open_at(T0, runbook)
    sweep(T0 + 3 * 60 * MIN)
    assert paged(incident) == [(0, 0, "ops"), (1, 0, "dev"), (2, 0, "boss")]


def test_the_task_fires_the_first_step_of_a_new_incident_at_once(
    runbook, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args: enqueued.append((func, *args))
    )
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        incident, _ = services.open_incident(service=runbook["service"], title="x", severity="sev1")
    assert enqueued == [("incidents.tasks.escalate_incident", incident.pk)]
    with time_machine.travel(T0, tick=False):
        assert tasks.escalate_incident(incident.pk) is True
        assert tasks.escalate_incident(incident.pk) is False
    assert paged(incident) == [(0, 0, "ops")]


def test_a_sev2_whose_first_step_waits_enqueues_nothing(
    runbook, django_capture_on_commit_callbacks
):
    service = make_service("later")
    make_policy(
        "sev2", [{"after": timedelta(hours=1), "tier": runbook["tiers"][1]}], service=service
    )
    with django_capture_on_commit_callbacks() as callbacks:
        incident, _ = services.open_incident(service=service, title="x", severity="sev2")
    # Only the reports' cache hears of it (incidents.reportcache).
    assert {callback.__module__ for callback in callbacks} == {"incidents.reportcache"}
    assert incident.next_escalation_at == incident.created_at + timedelta(hours=1)


def test_reopening_starts_the_policy_again(runbook):
    incident = open_at(T0, runbook)
    sweep(T0)
    with time_machine.travel(T0 + 10 * MIN, tick=False):
        services.resolve(incident=incident, by=None)
    reopened_at = T0 + 60 * MIN
    with time_machine.travel(reopened_at, tick=False):
        services.reopen(incident=incident, by=None, reason="came back")
    sweep(reopened_at)
    sweep(reopened_at + 30 * MIN)
    rounds = list(
        Notification.objects.filter(incident=incident, notice__isnull=True)
        .order_by("escalation_round", "step")
        .values_list("escalation_round", "step")
    )
    assert rounds == [(0, 0), (1, 0), (1, 1)]


def test_the_sweep_runs_the_same_number_of_queries_for_10_and_200_due_incidents(runbook):
    service = make_service("fleet")
    make_policy("sev1", [{"after": timedelta(0), "tier": runbook["tiers"][1]}], service=service)
    for extra in range(3):  # three channels each: the rows per incident do not add queries either
        make_contact(f"ops-{extra}", tier=runbook["tiers"][1])

    def queries(count, at):
        with time_machine.travel(at, tick=False):
            for n in range(count):
                services.open_incident(service=service, title=f"x{n}", severity="sev1")
            with CaptureQueriesContext(connection) as captured, capture_tasks() as enqueued:
                assert escalate_due(now=at, batch_size=500) == count
            run(enqueued)
        return len(captured)

    assert queries(10, T0) == queries(200, T0 + timedelta(days=1))
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 210 * 4


def test_the_sweep_writes_and_queues_delivery_without_sending(runbook, mailoutbox):
    incident = open_at(T0, runbook)
    with time_machine.travel(T0, tick=False), capture_tasks() as enqueued:
        assert escalate_due(now=T0) == 1
    assert mailoutbox == []
    assert Notification.objects.get(incident=incident).status == NotificationStatus.PENDING
    assert enqueued == [("incidents.tasks.send_notifications", ([incident.pk],))]
    with time_machine.travel(T0, tick=False):
        assert run(enqueued) == [1]
    assert [m.to for m in mailoutbox] == [[runbook["people"]["ops"].email]]
    assert Notification.objects.get(incident=incident).status == NotificationStatus.SENT


def test_a_sweep_in_batches_queues_its_delivery_once_in_chunks_after_the_batches_commit(
    runbook, monkeypatch
):
    monkeypatch.setattr(escalation, "DELIVERY_CHUNK", 3)
    incidents = [open_at(T0, runbook, dedup_key=f"k{n}") for n in range(5)]
    with time_machine.travel(T0, tick=False), capture_tasks() as enqueued:
        assert escalate_due(now=T0, batch_size=2) == 5
    assert [func for func, _args in enqueued] == ["incidents.tasks.send_notifications"] * 2
    assert sorted(pk for _func, (ids,) in enqueued for pk in ids) == sorted(i.pk for i in incidents)
    assert [len(ids) for _func, (ids,) in enqueued] == [3, 2]


def test_the_delivery_task_sends_each_notification_once(runbook, mailoutbox):
    incident = open_at(T0, runbook)
    with time_machine.travel(T0, tick=False), capture_tasks() as enqueued:
        escalate_due(now=T0)
    with time_machine.travel(T0, tick=False):
        # a task delivered twice (a broker retry) sends nothing twice
        assert run(enqueued + enqueued) == [
            1,
            0,
        ]
        assert tasks.retry_notifications() == 0
    assert len(mailoutbox) == 1
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTIFICATION_SENT).count()
        == 1
    )


def test_a_delivery_task_that_never_runs_leaves_the_rows_to_the_retry_job(runbook, mailoutbox):
    incident = open_at(T0, runbook)
    with time_machine.travel(T0, tick=False), capture_tasks():
        escalate_due(now=T0)  # the broker lost the task, or its worker died before claiming
    with time_machine.travel(T0 + MIN, tick=False):
        assert tasks.retry_notifications() == 1
    assert [m.to for m in mailoutbox] == [[runbook["people"]["ops"].email]]
    assert Notification.objects.get(incident=incident).status == NotificationStatus.SENT


def test_a_failed_send_in_the_delivery_task_is_recorded_and_retried(
    runbook, mailoutbox, monkeypatch
):
    incident = open_at(T0, runbook)
    with time_machine.travel(T0, tick=False), capture_tasks() as enqueued:
        escalate_due(now=T0)

    def down(target, message):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setitem(notify.SENDERS, "email", down)
    with time_machine.travel(T0, tick=False):
        run(enqueued)
    row = Notification.objects.get(incident=incident)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        NotificationStatus.PENDING,
        1,
        T0 + MIN,
    )
    assert "smtp down" in row.last_error
    monkeypatch.undo()
    with time_machine.travel(T0 + MIN, tick=False):
        assert tasks.retry_notifications() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)
    assert len(mailoutbox) == 1


def test_a_sweep_with_nothing_due_is_one_query(runbook, django_assert_num_queries):
    open_at(T0, runbook)
    sweep(T0)
    with django_assert_num_queries(1):
        assert sweep(T0 + MIN) == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_in_parallel_send_one_notification_per_step_and_channel(mailoutbox):
    tier = make_tier(1, "Ops")
    for name in ("a", "b", "c"):
        make_contact(name, tier=tier)
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}])
    service = make_service()
    with capture_tasks(), time_machine.travel(T0, tick=False):
        incidents = [
            services.open_incident(service=service, title=f"x{n}", severity="sev1")[0]
            for n in range(20)
        ]

    def in_parallel(jobs):
        start, errors = threading.Barrier(len(jobs)), []

        def work(job):
            try:
                start.wait()
                job()
            except Exception as exc:  # surfaced below; a thread cannot fail the test itself
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []

    with time_machine.travel(T0, tick=False), capture_tasks() as enqueued:
        in_parallel([lambda: escalate_due(now=T0, batch_size=7)] * 4)
        assert Notification.objects.count() == 20 * 3
        # Two workers run every delivery task (as after a broker redelivery), all at once.
        in_parallel([lambda: run(enqueued)] * 2)
    assert sorted(pk for _, (ids,) in enqueued for pk in ids) == sorted(i.pk for i in incidents)
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 60
    assert TimelineEvent.objects.filter(kind=EventKind.ESCALATION).count() == 20
    assert TimelineEvent.objects.filter(kind=EventKind.NOTIFICATION_SENT).count() == 60
    assert len(mailoutbox) == 60
    assert all(paged(i) == [(0, 0, "a"), (0, 0, "b"), (0, 0, "c")] for i in incidents)


def test_the_sweeps_bulk_insert_stores_notification_targets_encrypted(runbook):
    first, second = open_at(T0, runbook), open_at(T0, runbook, dedup_key="db-down")
    sweep(T0)
    email = runbook["people"]["ops"].email
    rows = Notification.objects.filter(incident__in=[first, second])
    assert [n.target for n in rows] == [email, email]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT target FROM {Notification._meta.db_table} WHERE incident_id IN (%s, %s)",  # noqa: S608
            [first.pk, second.pk],
        )
        stored = [row[0] for row in cursor.fetchall()]
    assert len(stored) == 2 and all(email not in value for value in stored)
