"""The pager (issue 26): a step due at T is paged at T, not at the next minute sweep; it sends in
its own process, never waiting on a queued task; a second pager, the sweep or the first-step task
never page twice."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.urls import clear_url_caches, get_resolver
from django.utils import timezone

from incidents import escalation, services
from incidents.escalation import PAGER_POLL, escalate_due, page_due, run_pager, seconds_to_next_step
from incidents.models import Notification, NotificationStatus
from incidents.waker import Alarm, socket_path, wake_pager
from tests.incidents.factories import make_contact, make_policy, make_service, make_tier
from tests.incidents.worker import capture_tasks, worker

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)


@pytest.fixture
def service():
    """SEV1: tier 1 at once, tier 2 after 20 s, tier 3 after 37 s (due times 17 s apart)."""
    tiers = [make_tier(n, f"Tier {n}") for n in (1, 2, 3)]
    for n, tier in enumerate(tiers, start=1):
        make_contact(f"t{n}", tier=tier)
    make_policy(
        "sev1",
        [
            {"after": timedelta(0), "tier": tiers[0]},
            {"after": 20 * SEC, "tier": tiers[1]},
            {"after": 37 * SEC, "tier": tiers[2]},
        ],
    )
    return make_service("api")


def open_at(service, at):
    with (
        time_machine.travel(at, tick=False),
        capture_tasks(),
    ):
        # the first-step task is not run: the pager pages
        return services.open_incident(service=service, title="API down", severity="sev1")[0]


def sent_to(incident):
    return sorted(
        Notification.objects.filter(incident=incident, status=NotificationStatus.SENT).values_list(
            "contact__name", flat=True
        )
    )


def page_at(at):
    with time_machine.travel(at, tick=False):
        return page_due()


def test_each_step_is_paged_at_its_due_second_and_sent_in_the_same_round(service, mailoutbox):
    incident = open_at(service, T0)
    assert page_at(T0) == 1
    assert sent_to(incident) == ["t1"]
    assert page_at(T0 + 19 * SEC) == 0
    page_at(T0 + 20 * SEC)
    assert sent_to(incident) == ["t1", "t2"]
    page_at(T0 + 36.9 * SEC)
    page_at(T0 + 37 * SEC)
    assert sent_to(incident) == ["t1", "t2", "t3"]
    assert len(mailoutbox) == 3


def test_the_pager_the_sweep_and_a_second_pager_never_page_a_step_twice(service, mailoutbox):
    incident = open_at(service, T0)
    page_at(T0)
    page_at(T0)
    with time_machine.travel(T0 + 20 * SEC, tick=False), worker():
        escalate_due(now=timezone.now())
    page_at(T0 + 20 * SEC)
    page_at(T0 + 21 * SEC)
    assert Notification.objects.filter(incident=incident).count() == 2
    assert len(mailoutbox) == 1 + 1


def test_the_pager_sleeps_until_the_next_step_but_never_longer_than_its_poll(service):
    assert seconds_to_next_step(now=T0) == PAGER_POLL  # nothing open
    open_at(service, T0)
    page_at(T0)
    assert seconds_to_next_step(now=T0 + 19.6 * SEC) == pytest.approx(0.4)
    assert seconds_to_next_step(now=T0 + 10 * SEC) == PAGER_POLL
    assert seconds_to_next_step(now=T0 + 25 * SEC) == 0  # overdue: at once


def test_run_pager_rounds_page_and_sleep_until_stopped(service, mailoutbox):
    incident = open_at(service, T0)
    naps = []
    with time_machine.travel(T0, tick=False) as clock:

        def sleep(seconds):
            naps.append(seconds)
            clock.shift(timedelta(seconds=seconds or 0.5))

        run_pager(
            stopping=lambda: timezone.now() > T0 + 40 * SEC, sleep=sleep, poll=5, tidy=lambda: None
        )
    assert sent_to(incident) == ["t1", "t2", "t3"]
    assert max(naps) == 5 and len(naps) < 30
    # Each step was sent within its due round: the pages' times are their due times.
    sent = dict(
        Notification.objects.filter(incident=incident).values_list("contact__name", "sent_at")
    )
    assert sent["t2"] - T0 == 20 * SEC and sent["t3"] - T0 == 37 * SEC


def test_a_failing_round_is_logged_and_the_pager_goes_on(service, monkeypatch, caplog):
    calls = []

    def broken(**kwargs):
        calls.append(1)
        raise RuntimeError("database restarting")

    monkeypatch.setattr(escalation, "page_due", broken)
    run_pager(stopping=lambda: len(calls) >= 2, sleep=lambda s: None, tidy=lambda: None)
    assert len(calls) == 2
    assert "paging round failed" in caplog.text


def test_the_page_command_stops_on_request(monkeypatch):
    rounds = []

    def fake_run_pager(*, stopping, sleep, poll):
        rounds.append(poll)

    monkeypatch.setattr("incidents.management.commands.page.run_pager", fake_run_pager)
    call_command("page", "--poll", "0.5", stdout=__import__("io").StringIO())
    assert rounds == [0.5]
    assert mail.outbox == []


def test_a_nudge_wakes_the_pager_out_of_its_sleep_and_none_is_lost(tmp_path):
    alarm = Alarm(tmp_path / "pager.sock")
    try:
        assert alarm.sleep(0) is False  # nothing sent: the poll's timeout
        # Sent while the pager was busy with a round; True: a pager is listening.
        assert wake_pager(tmp_path / "pager.sock") is True
        assert wake_pager(tmp_path / "pager.sock") is True
        assert alarm.sleep(60) is True  # a minute's sleep ends at once
        assert alarm.sleep(0) is False  # both nudges were one wake-up
    finally:
        alarm.close()
    assert not (tmp_path / "pager.sock").exists()
    assert wake_pager(tmp_path / "pager.sock") is False  # nobody listening: dropped, no error


def test_a_killed_pagers_socket_file_is_nobody_listening(tmp_path):
    alarm = Alarm(tmp_path / "pager.sock")
    alarm.sock.close()  # what SIGKILL leaves: the file, bound to nobody
    assert (tmp_path / "pager.sock").exists()
    assert wake_pager(tmp_path / "pager.sock") is False
    Alarm(tmp_path / "pager.sock").close()  # the restarted pager binds over it


def test_a_new_incident_whose_first_step_is_due_wakes_the_pager_instead_of_queueing_a_task(
    service,
):
    with capture_tasks() as enqueued:  # no pager listening: the first step's task, as before
        services.open_incident(service=service, title="DB down", severity="sev1")
    assert [func for func, _args in enqueued] == ["incidents.tasks.escalate_incident"]
    alarm = Alarm()  # the data directory's socket, as `manage.py page` binds it
    try:
        with capture_tasks() as enqueued:  # its commit callbacks run
            services.open_incident(service=service, title="API down", severity="sev1")
        assert alarm.sleep(60) is True
        assert "incidents.tasks.escalate_incident" not in [func for func, _args in enqueued]
        with capture_tasks():
            services.open_incident(service=service, title="Slow page", severity="sev3")
        assert alarm.sleep(0) is False  # no policy for SEV3 here: nothing due, no nudge
    finally:
        alarm.close()


def test_the_page_command_sleeps_on_its_socket_and_a_signal_wakes_it(monkeypatch):
    woken = []

    def fake_run_pager(*, stopping, sleep, poll):
        wake_pager(socket_path())  # what a new incident's commit sends
        woken.append(sleep(60))

    monkeypatch.setattr("incidents.management.commands.page.run_pager", fake_run_pager)
    call_command("page", stdout=__import__("io").StringIO())
    assert woken == [True]
    assert not socket_path().exists()


def test_opening_an_incident_loads_the_urls_before_it_takes_the_write_lock(service, monkeypatch):
    # The first reverse() of a process imports every view: not while SQLite's write lock is held.
    services.load_urls.cache_clear()
    clear_url_caches()
    loaded_at_begin = []
    real_atomic = services.transaction.atomic

    def atomic(*args, **kwargs):
        loaded_at_begin.append(get_resolver()._populated)
        return real_atomic(*args, **kwargs)

    monkeypatch.setattr(services.transaction, "atomic", atomic)
    with capture_tasks():
        services.open_incident(service=service, title="API down", severity="sev1")
    assert loaded_at_begin and loaded_at_begin[0] is True


def test_the_page_command_loads_the_urls_before_its_first_round(monkeypatch):
    services.load_urls.cache_clear()
    clear_url_caches()
    loaded = []

    def fake_run_pager(*, stopping, sleep, poll):
        loaded.append(get_resolver()._populated)

    monkeypatch.setattr("incidents.management.commands.page.run_pager", fake_run_pager)
    call_command("page", stdout=__import__("io").StringIO())
    assert loaded == [True]
