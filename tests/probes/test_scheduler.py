"""The tick: claim due probes once, run them concurrently within their timeouts,
record in bulk, loop for sub-minute intervals; retention."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from portal.schedules import ensure_schedules
from probes import kinds, services, tasks
from probes.models import Probe, ProbeResult
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def http_probe(server, path="/health", **fields):
    # Latency thresholds far above the kind's defaults (100/500 ms): a loaded CI machine answers
    # slowly, and these tests are about scheduling, not latency.
    return make_probe(
        config={"url": server.url + path}, **{"warning": 10_000, "critical": 20_000, **fields}
    )


def test_only_enabled_due_probes_are_claimed_and_their_next_run_moves_one_interval_on():
    now = timezone.now()
    due = make_probe(next_run_at=now - timedelta(seconds=5), interval=30)
    make_probe(next_run_at=now + timedelta(seconds=5))
    make_probe(next_run_at=now - timedelta(seconds=5), enabled=False)
    claimed = services.claim_due(now=now)
    assert [p.pk for p in claimed] == [due.pk]
    due.refresh_from_db()
    assert due.next_run_at == now + timedelta(seconds=30)


def test_a_second_claim_at_the_same_moment_gets_nothing():
    now = timezone.now()
    for _ in range(5):
        make_probe(next_run_at=now)
    assert len(services.claim_due(now=now)) == 5
    assert services.claim_due(now=now) == []


@pytest.mark.django_db(transaction=True)
def test_two_clusters_claiming_at_once_never_share_a_probe():
    now = timezone.now()
    ids = {make_probe(next_run_at=now - timedelta(seconds=i % 7)).pk for i in range(60)}
    barrier, claimed, errors = threading.Barrier(2), [], []

    def cluster():
        try:
            barrier.wait(5)
            claimed.append({p.pk for p in services.claim_due(now=now)})
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=cluster) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    first, second = claimed
    assert not first & second
    assert first | second == ids


def test_one_tick_runs_every_due_probe_against_the_server_and_records_each_result(http_server):
    probes = [http_probe(http_server) for _ in range(8)]
    assert services.run_due() == 8
    assert ProbeResult.objects.filter(probe__in=probes, status="ok").count() == 8
    assert set(Probe.objects.values_list("status", flat=True)) == {"ok"}
    assert http_server.hits.count("/health") == 8


# 60: past core.bulk.FAST_FROM_ROWS, the probes' state is written by one UPDATE … FROM (VALUES …).
@pytest.mark.parametrize("count", [5, 40, 60])
def test_a_tick_writes_in_bulk_with_the_same_queries_for_5_40_or_60_probes(
    http_server, count, django_assert_max_num_queries
):
    probes = [http_probe(http_server) for _ in range(count)]
    with django_assert_max_num_queries(8):
        assert services.run_due() == count
    for probe in Probe.objects.filter(pk__in=[p.pk for p in probes]):
        assert (probe.status, probe.consecutive_successes, probe.last_code) == ("ok", 1, "")
        assert probe.last_run_at is not None and probe.last_latency_ms is not None
        assert sum(count for count, _total in probe.latency_24h.values()) == 1
    assert ProbeResult.objects.filter(probe__in=probes, status="ok").count() == count


def test_a_hanging_target_does_not_delay_the_others(http_server):
    slow = http_probe(http_server, "/slow", timeout=0.5)
    fast = [http_probe(http_server) for _ in range(10)]
    started = time.monotonic()
    outcomes = services.run_checks(list(Probe.objects.select_related("service")), pool_size=4)
    assert time.monotonic() - started < 0.5 + services.OVERRUN
    statuses = {probe.pk: result.status for probe, result, _at in outcomes}
    assert statuses[slow.pk] == "critical"
    assert all(statuses[p.pk] == "ok" for p in fast)


def test_a_check_stuck_past_its_timeout_is_given_up_on(monkeypatch):
    stuck = threading.Event()
    monkeypatch.setitem(kinds.CHECKS, "tcp", lambda config, limits: stuck.wait(10))
    monkeypatch.setattr(services, "OVERRUN", 0.2)
    probe = make_probe(kind="tcp", config={"host": "127.0.0.1", "port": 9}, timeout=0.2)
    started = time.monotonic()
    [(claimed, result, _at)] = services.run_checks([probe])
    stuck.set()
    assert claimed.pk == probe.pk
    assert result.status == "critical"
    assert (result.code, result.message) == ("timeout", "timed out after 0.2 s")
    assert time.monotonic() - started < 2


def test_a_check_that_raises_is_an_error_result_not_a_crash(monkeypatch):
    monkeypatch.setitem(kinds.CHECKS, "memory", lambda config, limits, **sampled: 1 / 0)
    make_probe(kind="memory")
    assert services.run_due() == 1
    result = ProbeResult.objects.get()
    assert result.status == "error"
    assert "ZeroDivisionError" in result.message


def test_the_tick_loops_so_a_10_second_probe_runs_six_times_a_minute():
    with time_machine.travel(START, tick=False) as traveller:
        make_probe(kind="memory", interval=10)
        make_probe(kind="memory", interval=60)
        fake = {"now": 0.0}

        def sleep(seconds):
            fake["now"] += seconds
            traveller.shift(timedelta(seconds=seconds))

        total = services.run_scheduler(seconds=55, sleep=sleep, clock=lambda: fake["now"])
    assert total == 7
    counts = sorted(ProbeResult.objects.values_list("probe__interval", flat=True))
    assert counts.count(10) == 6 and counts.count(60) == 1


def test_a_stopping_worker_ends_the_tick_after_the_round_it_is_in():
    """`serve` asks the workers to stop (core.shutdown): the tick returns instead of looping out
    its minute, which held Ctrl+C until the cluster was killed."""
    with time_machine.travel(START, tick=False) as traveller:
        make_probe(kind="memory", interval=10)
        fake = {"now": 0.0, "stop": False}

        def sleep(seconds):
            fake["now"] += seconds
            traveller.shift(timedelta(seconds=seconds))
            fake["stop"] = fake["now"] >= 20  # the request arrives during the third pause

        total = services.run_scheduler(
            seconds=55, sleep=sleep, clock=lambda: fake["now"], stopping=lambda: fake["stop"]
        )
    assert total == 2  # the rounds at 0 s and 10 s; none after the request
    assert fake["now"] == 20


def test_disabled_probes_never_run(http_server):
    http_probe(http_server, enabled=False)
    assert services.run_due() == 0
    assert http_server.hits == []


def test_run_now_runs_one_probe_at_once_and_leaves_its_schedule_alone(http_server):
    probe = http_probe(http_server, next_run_at=timezone.now() + timedelta(minutes=5))
    result = services.run_probe(probe=probe)
    assert result.status == "ok"
    probe.refresh_from_db()
    assert probe.next_run_at > timezone.now() and probe.last_run_at is not None


def test_results_older_than_30_days_are_pruned_in_batches(django_assert_max_num_queries):
    probe = make_probe()
    now = timezone.now()
    ProbeResult.objects.bulk_create(
        [
            ProbeResult(probe=probe, at=now - timedelta(days=31, minutes=i), status="ok")
            for i in range(10)
        ]
        + [ProbeResult(probe=probe, at=now - timedelta(days=29), status="ok") for _ in range(5)]
    )
    with django_assert_max_num_queries(9):
        assert services.prune_results(now=now, batch_size=3) == 10
    assert ProbeResult.objects.count() == 5


def test_the_tasks_are_thin_entry_points(http_server):
    probe = http_probe(http_server)
    assert tasks.run_probe(probe.pk) == "ok"
    ProbeResult.objects.filter(probe=probe).update(at=timezone.now() - timedelta(days=40))
    assert tasks.prune_results() == 1


def test_the_tick_and_the_daily_prune_are_scheduled_once(db):
    ensure_schedules()
    ensure_schedules()
    assert (
        Schedule.objects.filter(name="probes.tick", func="probes.tasks.tick", minutes=1).count()
        == 1
    )
    assert Schedule.objects.filter(name="probes.prune_results", schedule_type="D").count() == 1
