"""CPU and memory are judged on a sustained value kept between ticks (Probe.sample), never on one
instantaneous reading; and the demo never pages anybody on a busy but healthy machine."""

from datetime import UTC, datetime

import pytest
import time_machine

from incidents import demo as incidents_demo
from incidents.models import Incident, Notification
from probes import demo, kinds, services
from probes.kinds import Result, check_cpu, check_memory, limits_for
from probes.models import Kind, Probe, ProbeResult, Status
from tests.probes.factories import make_probe

START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
CPU = limits_for(Kind.CPU, None, None, 1)  # 70 / 85 %
MEMORY = limits_for(Kind.MEMORY, None, None, 1)  # 80 / 90 %


class Machine:
    """Two cores whose busy share per elapsed second is `busy` (0..1); a glance says `glance` %."""

    def __init__(self, busy=0.5, glance=100.0, memory=50.0):
        self.busy, self.glance, self.memory = busy, glance, memory
        self.busy_seconds, self.total_seconds, self.last = 1000.0, 4000.0, None

    def counters(self):
        import time

        now = time.time()
        if self.last is not None:
            elapsed = (now - self.last) * 2
            self.busy_seconds += elapsed * self.busy
            self.total_seconds += elapsed
        self.last = now
        return self.busy_seconds, self.total_seconds

    def install(self, monkeypatch):
        monkeypatch.setattr(kinds, "cpu_counters", self.counters)
        monkeypatch.setattr(kinds, "cpu_percent", lambda timeout: self.glance)
        monkeypatch.setattr(kinds, "memory_percent", lambda: self.memory)


def test_a_first_cpu_reading_has_no_baseline_so_it_is_a_glance_that_never_goes_past_warning():
    result = check_cpu({}, CPU, counters=lambda: (10.0, 40.0), measure=lambda timeout: 99.0)
    assert (result.status, result.value) == (Status.WARNING, 99.0)
    assert "right now" in result.message
    assert result.sample["busy"] == 10.0 and result.sample["total"] == 40.0


def test_the_cpu_value_is_the_average_since_the_previous_run_not_a_spike():
    machine = Machine(busy=0.4)
    with time_machine.travel(START, tick=False) as traveller:
        first = check_cpu({}, CPU, counters=machine.counters, measure=lambda timeout: 100.0)
        traveller.shift(60)
        second = check_cpu(
            {}, CPU, previous=first.sample, counters=machine.counters, measure=lambda timeout: 100.0
        )
    assert (second.status, second.value) == (Status.OK, 40.0)
    assert "over the last 60 s" in second.message


@pytest.mark.parametrize(
    ("busy", "expected"), [(0.699, Status.OK), (0.70, Status.WARNING), (0.85, Status.CRITICAL)]
)
def test_the_cpu_average_uses_the_70_and_85_percent_boundaries(busy, expected):
    machine = Machine(busy=busy)
    with time_machine.travel(START, tick=False) as traveller:
        first = check_cpu({}, CPU, counters=machine.counters)
        traveller.shift(60)
        assert (
            check_cpu({}, CPU, previous=first.sample, counters=machine.counters).status == expected
        )


def test_a_stale_or_rebooted_baseline_is_no_baseline():
    with time_machine.travel(START, tick=False) as traveller:
        first = check_cpu({}, CPU, counters=lambda: (500.0, 1000.0), measure=lambda timeout: 20.0)
        traveller.shift(kinds.CPU_BASELINE_MAX_AGE + 1)
        stale = check_cpu(
            {},
            CPU,
            previous=first.sample,
            counters=lambda: (900.0, 1100.0),
            measure=lambda timeout: 20.0,
        )
        traveller.shift(60)
        rebooted = check_cpu(
            {},
            CPU,
            previous=stale.sample,
            counters=lambda: (5.0, 30.0),
            measure=lambda timeout: 20.0,
        )
    assert "right now" in stale.message and stale.value == 20.0
    assert "right now" in rebooted.message and rebooted.value == 20.0


def test_memory_is_the_mean_of_the_readings_in_the_window():
    with time_machine.travel(START, tick=False) as traveller:
        spike = check_memory({}, MEMORY, measure=lambda: 96.0)
        assert (spike.status, spike.value) == (Status.CRITICAL, 96.0)  # nothing to average yet
        traveller.shift(60)
        calm = check_memory({}, MEMORY, previous=spike.sample, measure=lambda: 50.0)
        assert (calm.status, calm.value) == (Status.OK, 73.0)
        assert "over 2 readings" in calm.message
        traveller.shift(kinds.MEMORY_WINDOW)  # the spike leaves the window, the calm reading too
        later = check_memory({}, MEMORY, previous=calm.sample, measure=lambda: 82.0)
    assert (later.status, later.value) == (Status.WARNING, 82.0)
    assert later.sample["readings"] == [[later.sample["readings"][0][0], 82.0]]


def test_memory_keeps_a_bounded_number_of_readings():
    previous = {"readings": []}
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(kinds.MEMORY_READINGS + 10):
            traveller.shift(1)
            previous = check_memory({}, MEMORY, previous=previous, measure=lambda: 40.0).sample
    assert len(previous["readings"]) == kinds.MEMORY_READINGS


@pytest.mark.django_db
def test_the_tick_keeps_the_sample_on_the_probe_and_a_busy_neighbour_never_opens_an_incident(
    monkeypatch,
):
    machine = Machine(busy=0.6, glance=100.0)  # a CPU-bound neighbour on one of two cores, and us
    machine.install(monkeypatch)
    with time_machine.travel(START, tick=False) as traveller:
        probe = make_probe(kind=Kind.CPU, interval=60, failures_before_alert=1)
        for _ in range(10):
            services.run_due()
            traveller.shift(60)
    probe.refresh_from_db()
    statuses = list(
        ProbeResult.objects.filter(probe=probe).order_by("at").values_list("status", "value")
    )
    assert statuses[0] == (Status.WARNING, 100.0)  # the first glance, capped
    assert statuses[1:] == [(Status.OK, 60.0)] * 9
    assert probe.sample["total"] == machine.total_seconds
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_a_sustained_overload_still_opens_its_incident(monkeypatch):
    Machine(busy=0.95, glance=100.0).install(monkeypatch)
    with time_machine.travel(START, tick=False) as traveller:
        probe = make_probe(kind=Kind.CPU, interval=60, failures_before_alert=3)
        for _ in range(4):
            services.run_due()
            traveller.shift(60)
    probe.refresh_from_db()
    assert probe.status == Status.CRITICAL and probe.alerting
    assert Incident.objects.filter(pk=probe.incident_id).exists()


@pytest.mark.django_db
def test_the_demo_opens_no_incident_and_pages_nobody_in_ten_minutes_on_a_busy_machine(
    roles, monkeypatch
):
    incidents_demo.seed()
    Incident.objects.all().delete()
    Notification.objects.all().delete()
    # A loaded machine: a neighbour's build keeps a core busy, the first glance says 100 %, memory
    # is well used, and the development server answers its health check in 800 ms.
    Machine(busy=0.75, glance=100.0, memory=84.0).install(monkeypatch)
    monkeypatch.setitem(
        kinds.CHECKS,
        Kind.HTTP,
        lambda config, limits: Result(kinds.grade(800.0, limits), 800.0, 800.0, "HTTP 200"),
    )
    with time_machine.travel(START, tick=False) as traveller:
        demo.seed()
        for _ in range(20):  # ten minutes of ticks, every 30 s
            services.run_due()
            traveller.shift(30)
    assert ProbeResult.objects.filter(probe__kind=Kind.CPU).count() == 10
    assert not Incident.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_the_demos_machine_probes_never_page_even_when_they_open_an_incident(roles):
    from incidents.models import EscalationPolicy

    incidents_demo.seed()
    demo.seed()
    for probe in Probe.objects.filter(kind__in=[Kind.CPU, Kind.MEMORY, Kind.DISK]):
        policy = EscalationPolicy.objects.get(service=None, severity=probe.severity)
        assert not policy.steps.exists(), probe.name
        assert probe.failures_before_alert >= 5
