"""N failures open one incident, M successes recover it, warnings never page,
maintenance suppresses, reminders respect their interval."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, OperationalError, connection
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import EventKind, Incident, MaintenanceWindow, Status, TimelineEvent
from probes import services
from probes.models import Action, Probe, ProbeResult
from tests.probes.factories import critical, make_probe, ok, warning

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def probe(clock):
    return make_probe(
        name="Route API health",
        severity="sev1",
        failures_before_alert=3,
        successes_to_recover=2,
        reminder_minutes=5,
    )


def feed(probe, *results, clock, every=timedelta(minutes=1)):
    """Record results one minute apart, as the scheduler would (reloading the probe each time)."""
    for result in results:
        fresh = Probe.objects.select_related("service").get(pk=probe.pk)
        services.record_results(outcomes=[(fresh, result, timezone.now())])
        clock.shift(every)
    return Probe.objects.get(pk=probe.pk)


def probe_incidents(probe):
    return Incident.objects.filter(dedup_key=f"probe:{probe.pk}")


def test_two_failures_open_nothing_and_the_third_opens_one_incident(probe, clock):
    feed(probe, critical(), critical(), clock=clock)
    assert not probe_incidents(probe).exists()
    state = feed(probe, critical("HTTP 502"), clock=clock)
    incident = probe_incidents(probe).get()
    assert (incident.severity, incident.source, incident.status) == (
        "sev1",
        "probe",
        Status.TRIGGERED,
    )
    assert "Route API health" in incident.title
    assert state.alerting and state.incident_id == incident.pk
    assert any(
        "3 consecutive failures" in e.text for e in incident.events.filter(kind=EventKind.PROBE)
    )


def test_failures_after_the_third_add_to_the_same_incident_without_new_ones(probe, clock):
    feed(probe, *[critical()] * 5, clock=clock)
    assert probe_incidents(probe).count() == 1
    assert ProbeResult.objects.filter(probe=probe).count() == 5


def test_a_success_in_between_starts_the_failure_count_again(probe, clock):
    feed(probe, critical(), critical(), ok(), critical(), critical(), clock=clock)
    assert not probe_incidents(probe).exists()
    assert Probe.objects.get(pk=probe.pk).consecutive_failures == 2


def test_warnings_never_page(probe, clock):
    state = feed(probe, *[warning()] * 10, clock=clock)
    assert not Incident.objects.exists()
    assert state.status == "warning"
    assert ProbeResult.objects.filter(probe=probe, status="warning").count() == 10


def test_warnings_between_failures_keep_a_probe_from_paging(probe, clock):
    feed(probe, critical(), warning(), critical(), warning(), critical(), clock=clock)
    assert not Incident.objects.exists()


def test_an_error_result_counts_as_a_failure(probe, clock):
    from probes.kinds import Result

    feed(probe, *[Result("error", message="ValueError: boom")] * 3, clock=clock)
    assert probe_incidents(probe).count() == 1


def test_one_success_does_not_recover_and_the_second_resolves_with_an_event(probe, clock):
    feed(probe, *[critical()] * 3, clock=clock)
    incident = probe_incidents(probe).get()
    feed(probe, ok(), clock=clock)
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    state = feed(probe, ok(), clock=clock)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert not state.alerting
    assert [
        e.text.startswith("Recovered") for e in incident.events.filter(kind=EventKind.PROBE)
    ].count(True) == 1


def test_without_auto_resolve_recovery_only_adds_an_event(probe, clock):
    Probe.objects.filter(pk=probe.pk).update(auto_resolve=False)
    feed(probe, *[critical()] * 3, ok(), ok(), clock=clock)
    incident = probe_incidents(probe).get()
    assert incident.status == Status.TRIGGERED
    assert any(e.text.startswith("Recovered") for e in incident.events.filter(kind=EventKind.PROBE))


def test_a_later_outage_opens_a_new_incident_after_recovery(probe, clock):
    feed(probe, *[critical()] * 3, ok(), ok(), clock=clock)
    # past the re-open window (tests/probes/test_flap_damping.py)
    clock.shift(timedelta(minutes=probe.reopen_minutes))
    feed(probe, *[critical()] * 3, clock=clock)
    assert list(probe_incidents(probe).values_list("status", flat=True).order_by("id")) == [
        "resolved",
        "triggered",
    ]


def test_a_maintenance_window_records_results_but_opens_nothing(probe, clock):
    MaintenanceWindow.objects.create(
        service=probe.service, starts_at=START, ends_at=START + timedelta(minutes=10)
    )
    state = feed(probe, *[critical()] * 6, clock=clock)
    assert not Incident.objects.exists()
    assert ProbeResult.objects.filter(probe=probe, status="critical").count() == 6
    assert state.status == "critical" and not state.alerting


def test_after_the_window_the_next_failure_opens_the_incident(probe, clock):
    MaintenanceWindow.objects.create(
        service=probe.service, starts_at=START, ends_at=START + timedelta(minutes=5)
    )
    feed(probe, *[critical()] * 5, clock=clock)
    assert not Incident.objects.exists()
    feed(probe, critical(), clock=clock)
    assert probe_incidents(probe).count() == 1


def test_another_services_window_does_not_suppress(probe, clock):
    other = make_probe(name="other").service
    MaintenanceWindow.objects.create(
        service=other, starts_at=START, ends_at=START + timedelta(hours=1)
    )
    feed(probe, *[critical()] * 3, clock=clock)
    assert probe_incidents(probe).count() == 1


def reminders(incident):
    return incident.events.filter(kind=EventKind.DUPLICATE).count()


def test_a_reminder_repeats_every_5_minutes_while_the_probe_stays_down(probe, clock):
    feed(probe, *[critical()] * 3, clock=clock)  # opens at 09:02
    incident = probe_incidents(probe).get()
    feed(probe, *[critical()] * 4, clock=clock)  # 09:03 … 09:06: too soon
    assert reminders(incident) == 0
    feed(probe, critical(), clock=clock)  # 09:07: five minutes after the alert
    assert reminders(incident) == 1
    feed(probe, *[critical()] * 5, clock=clock)  # 09:08 … 09:12: the next one at 09:12
    assert reminders(incident) == 2


def test_a_longer_reminder_interval_is_respected(probe, clock):
    Probe.objects.filter(pk=probe.pk).update(reminder_minutes=30)
    feed(probe, *[critical()] * 3, clock=clock)
    feed(probe, *[critical()] * 20, clock=clock)
    assert reminders(probe_incidents(probe).get()) == 0


def test_reminders_never_go_below_the_5_minute_floor(probe):
    with pytest.raises(IntegrityError):
        Probe.objects.filter(pk=probe.pk).update(reminder_minutes=1)
    probe.reminder_minutes = 1
    assert probe.reminder_every == timedelta(minutes=5)


def test_no_reminder_is_sent_during_a_maintenance_window(probe, clock):
    feed(probe, *[critical()] * 3, clock=clock)
    MaintenanceWindow.objects.create(
        service=probe.service, starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1)
    )
    feed(probe, *[critical()] * 12, clock=clock)
    assert reminders(probe_incidents(probe).get()) == 0


def test_a_reminder_after_a_manual_resolve_opens_a_new_incident(probe, clock):
    feed(probe, *[critical()] * 3, clock=clock)
    first = probe_incidents(probe).get()
    incident_services.resolve(incident=first, by=None)
    feed(probe, *[critical()] * 5, clock=clock)
    assert probe_incidents(probe).filter(status=Status.TRIGGERED).exclude(pk=first.pk).count() == 1
    assert Probe.objects.get(pk=probe.pk).incident_id != first.pk


def test_a_heartbeat_probe_opens_a_heartbeat_incident(clock):
    beat = make_probe(kind="heartbeat", config={"grace_seconds": 60}, failures_before_alert=1)
    feed(beat, critical("no ping"), clock=clock)
    assert probe_incidents(beat).get().source == "heartbeat"


def test_the_timeline_gets_no_event_per_result_only_per_state_change(probe, clock):
    feed(probe, *[critical()] * 4, clock=clock)
    incident = probe_incidents(probe).get()
    assert set(TimelineEvent.objects.filter(incident=incident).values_list("kind", flat=True)) <= {
        EventKind.CREATED,
        EventKind.PROBE,
        EventKind.ESCALATION,
        EventKind.ESCALATION_FAILED,
    }


def test_an_incident_opened_before_a_failed_state_write_is_joined_not_opened_again(
    probe, clock, monkeypatch
):
    # The results and the state commit first, then each alert on its own, then the alerting
    # probes' state (SQLite's write lock is never held across all of them): if that last write
    # fails, the probe is failing and not alerting, and its next failing result joins the incident.
    feed(probe, critical(), critical(), clock=clock)
    real_update, calls = services.bulk.update, []

    def fails_after_the_alert(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OperationalError("database is locked")
        return real_update(*args, **kwargs)

    monkeypatch.setattr(services.bulk, "update", fails_after_the_alert)
    with pytest.raises(OperationalError):
        feed(probe, critical("HTTP 502"), clock=clock)
    incident = probe_incidents(probe).get()
    assert ProbeResult.objects.filter(probe=probe).count() == 3
    state = Probe.objects.get(pk=probe.pk)
    assert (state.consecutive_failures, state.alerting, state.incident_id) == (3, False, None)

    state = feed(probe, critical("HTTP 502"), clock=clock)
    assert probe_incidents(probe).get() == incident
    assert state.alerting and state.incident_id == incident.pk
    assert ProbeResult.objects.filter(probe=probe).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_alerts_pauses_on_sqlite_so_waiting_writers_get_the_lock(clock):
    # SQLite's busy handler retries every 100 ms: back-to-back alert transactions would starve the
    # pager's writes for the whole burst. Every ALERT_BURST of alerting, a pause of ALERT_PAUSE.
    probes = [make_probe(name=f"p{n}", failures_before_alert=1) for n in range(3)]
    ticks = iter(n * 0.3 for n in range(100))  # each look at the clock: 0.3 s later
    slept = []
    services._alert(
        [(probe, Action.OPEN, critical(), timezone.now()) for probe in probes],
        clock=lambda: next(ticks),
        sleep=slept.append,
    )
    assert Incident.objects.filter(source="probe").count() == 3
    assert slept == ([services.ALERT_PAUSE] if connection.vendor == "sqlite" else [])
