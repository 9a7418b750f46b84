"""The real agent script, as a subprocess, against a live portal: results arrive, a corrupted SQLite
file and a deleted log turn their checks critical, an outage loses nothing and duplicates
nothing."""

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import psutil
import pytest

from incidents.models import Incident
from probes.models import AgentBatch, Host, Probe, ProbeResult
from tests.probes.agent_helpers import (
    AGENT,
    corrupt_sqlite,
    make_host,
    make_sqlite,
    portal_server,
    run_agent,
    wait_until,
)
from tests.probes.factories import make_probe

__all__ = ["portal_server"]


@pytest.fixture
def host_dir(tmp_path):
    root = tmp_path / "host"
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "app.log").write_text("started\nINFO ready\nERROR upstream timeout\n")
    (root / "logs" / "old.log").write_bytes(b"x" * 10_000)
    make_sqlite(root / "production_analysis.db")
    return root


@pytest.fixture
def agent(portal_server, host_dir, tmp_path):
    host, token = make_host(interval=60, allow_commands=True)
    token_file = tmp_path / "agent.token"
    token_file.write_text(token + "\n")
    spool = tmp_path / "spool"
    common = {
        "service": host.service,
        "host": host,
        "failures_before_alert": 1,
        "next_run_at": None,
    }
    probes = {
        "log": make_probe(
            kind="host_file",
            name="app log",
            config={"path": str(host_dir / "logs" / "app.log")},
            **common,
        ),
        "db": make_probe(
            kind="host_sqlite",
            name="analysis db",
            config={"path": str(host_dir / "production_analysis.db"), "check": "integrity_check"},
            **common,
        ),
        "errors": make_probe(
            kind="host_log_errors",
            name="log errors",
            warning=5,
            critical=50,
            config={"path": str(host_dir / "logs" / "app.log"), "pattern": "ERROR", "tail_kib": 64},
            **common,
        ),
        "disk": make_probe(
            kind="host_disk",
            name="free disk",
            warning=0.002,
            critical=0.001,
            config={"path": str(host_dir), "measure": "free_gb"},
            **common,
        ),
        "dir": make_probe(
            kind="host_directory",
            name="log folder",
            warning=5,
            critical=10,
            config={"path": str(host_dir / "logs")},
            **common,
        ),
        "process": make_probe(
            kind="host_process",
            name="portal running",
            config={"name": psutil.Process().name()},
            **common,
        ),
        "command": make_probe(
            kind="host_command",
            name="backup age",
            timeout=5,
            config={
                "argv": [
                    sys.executable,
                    "-c",
                    f"import os, sys; sys.exit(0 if os.path.exists({str(host_dir / 'ok')!r}) else "
                    "3)",
                ]
            },
            **common,
        ),
    }
    (host_dir / "ok").touch()

    class Agent:
        def run(self, *extra):
            return run_agent(portal_server.url, token_file, spool, *extra)

    runner = Agent()
    runner.host, runner.probes, runner.spool, runner.server = host, probes, spool, portal_server
    runner.token_file = token_file
    return runner


def statuses(probes):
    return {key: Probe.objects.get(pk=probe.pk).status for key, probe in probes.items()}


def test_results_arrive_then_a_corrupted_database_and_a_deleted_log_turn_critical(agent, host_dir):
    done = agent.run("--once")
    assert done.returncode == 0, done.stderr
    assert set(statuses(agent.probes).values()) == {"ok"}
    host = Host.objects.get(pk=agent.host.pk)
    assert host.last_seen_at is not None and host.agent_version == "1.0.0"
    errors = Probe.objects.get(pk=agent.probes["errors"].pk)
    assert errors.last_value == 1 and "upstream timeout" in errors.last_message
    assert Probe.objects.get(pk=agent.probes["dir"].pk).last_value == pytest.approx(
        10_045 / 2**30, abs=1e-3
    )
    assert not list(agent.spool.glob("*.batch.json"))

    assert Probe.objects.get(pk=agent.probes["process"].pk).last_value >= 1
    assert Probe.objects.get(pk=agent.probes["command"].pk).last_value == 0

    corrupt_sqlite(host_dir / "production_analysis.db")
    (host_dir / "ok").unlink()
    assert agent.run("--once").returncode == 0
    assert agent.run("--once").returncode == 0  # still failing: the same incident, not a second
    db = Probe.objects.get(pk=agent.probes["db"].pk)
    assert db.status == "critical" and db.alerting
    assert Incident.objects.filter(dedup_key=f"probe:{db.pk}").count() == 1
    command = Probe.objects.get(pk=agent.probes["command"].pk)
    assert (command.status, command.last_value, command.last_message) == ("critical", 3, "exit 3")
    assert Incident.objects.count() == 2  # the database's and the command's, one each

    (host_dir / "logs" / "app.log").unlink()
    assert agent.run("--once").returncode == 0
    log = Probe.objects.get(pk=agent.probes["log"].pk)
    assert log.status == "critical" and log.last_message == "the file does not exist"
    assert Probe.objects.get(pk=agent.probes["errors"].pk).status == "critical"
    assert ProbeResult.objects.filter(probe=db).count() == 4


def test_an_outage_loses_no_result_and_the_replay_duplicates_none(agent):
    assert agent.run("--once").returncode == 0
    agent.server.stop()
    for _ in range(3):
        done = agent.run("--once")
        assert done.returncode == 2, done.stderr  # results kept for later
        assert "portal unreachable" in done.stderr
    waiting = sorted(agent.spool.glob("*.batch.json"))
    assert len(waiting) == 3
    spooled = [
        result["at"] for path in waiting for result in json.loads(path.read_text())["results"]
    ]
    assert len(spooled) == 3 * len(agent.probes)

    agent.server.start()
    done = agent.run("--once")
    assert done.returncode == 0, done.stderr
    assert not list(agent.spool.glob("*.batch.json"))
    # 1 before, 3 spooled during the outage, 1 after: every result once.
    per_probe = Counter(ProbeResult.objects.values_list("probe_id", flat=True))
    assert per_probe == {probe.pk: 5 for probe in agent.probes.values()}
    stored = {at.isoformat() for at in ProbeResult.objects.values_list("at", flat=True)}
    assert {at.replace("+00:00", "") for at in spooled} <= {
        at.replace("+00:00", "") for at in stored
    }


def test_the_agent_keeps_running_the_cached_checks_while_the_portal_is_away(agent, host_dir):
    assert agent.run("--once").returncode == 0
    agent.server.stop()
    (host_dir / "logs" / "app.log").unlink()
    assert agent.run("--once").returncode == 2
    [batch] = agent.spool.glob("*.batch.json")
    by_probe = {result["probe"]: result for result in json.loads(batch.read_text())["results"]}
    assert by_probe[agent.probes["log"].pk]["status"] == "critical"
    agent.server.start()
    assert agent.run("--once").returncode == 0
    assert Probe.objects.get(pk=agent.probes["log"].pk).status == "critical"


def test_the_spool_is_bounded_the_oldest_batches_go_first(agent):
    assert agent.run("--once").returncode == 0
    agent.server.stop()
    kept = []
    for _ in range(4):
        done = agent.run("--once", "--spool-max", "2")
        kept.append(sorted(path.name for path in agent.spool.glob("*.batch.json")))
    assert [len(names) for names in kept] == [1, 2, 2, 2]
    assert "spool full (2 batches): dropping the oldest" in done.stderr
    assert kept[-1][0] == kept[-2][1]  # the newer of the two before stays, the older went
    agent.server.start()
    assert agent.run("--once").returncode == 0
    per_probe = Counter(ProbeResult.objects.values_list("probe_id", flat=True))
    assert set(per_probe.values()) == {1 + 2 + 1}


def test_a_batch_the_portal_refuses_is_set_aside_and_the_rest_still_arrives(agent):
    agent.spool.mkdir()
    bad = agent.spool / "00000000000000000001-bad.batch.json"
    bad.write_text(json.dumps({"batch": "not-a-uuid", "results": "garbage"}))
    done = agent.run("--once")
    assert done.returncode == 0, done.stderr
    assert "refused (HTTP 400" in done.stderr
    assert not bad.exists() and (agent.spool / (bad.name + ".refused")).exists()
    assert ProbeResult.objects.count() == len(agent.probes)


def test_dry_run_prints_the_checks_and_pushes_nothing(agent):
    done = agent.run("--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would run" in done.stdout and "host_sqlite" in done.stdout
    assert not ProbeResult.objects.exists()
    assert not list(agent.spool.glob("*.batch.json"))


def test_a_rotated_token_stops_the_agent(agent):
    Host.objects.filter(pk=agent.host.pk).update(token_hash="0" * 64)
    done = agent.run("--once")
    assert done.returncode == 3
    assert "refused the token" in done.stderr
    assert not ProbeResult.objects.exists()


@pytest.mark.slow
def test_the_agent_loop_rides_out_a_minute_long_outage(agent):
    """The agent as a service runs it (a foreground loop, every 10 s); the portal goes away for a
    minute and comes back: every run's results arrive, each once."""
    Host.objects.filter(pk=agent.host.pk).update(interval=10)
    loop = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "dev",
            str(AGENT),
            "--url",
            agent.server.url,
            "--token-file",
            str(agent.token_file),
            "--spool-dir",
            str(agent.spool),
            "--retries",
            "1",
            "--backoff",
            "0.1",
            "--timeout",
            "5",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: ProbeResult.objects.count() >= 2 * len(agent.probes), 60)
        agent.server.stop()
        time.sleep(60)
        waiting = len(list(agent.spool.glob("*.batch.json")))
        assert waiting >= 5  # a run every 10 s while the portal was away
        agent.server.start()
        wait_until(lambda: not list(agent.spool.glob("*.batch.json")), 60)
    finally:
        loop.send_signal(signal.SIGTERM)  # what a service manager's stop sends
        _out, err = loop.communicate(timeout=30)
    assert loop.returncode == 0, err
    assert "portal unreachable" in err
    time.sleep(0.5)
    runs = AgentBatch.objects.filter(host=agent.host).count()
    per_probe = Counter(ProbeResult.objects.values_list("probe_id", flat=True))
    assert runs >= 2 + waiting
    assert per_probe == {probe.pk: runs for probe in agent.probes.values()}
