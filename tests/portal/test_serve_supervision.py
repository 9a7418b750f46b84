"""`serve` starts a dead child again after a backoff; the others keep running (unit level: real
processes that exit at once stand for the children; tests/faults/test_serve_restarts.py kills a real
one)."""

import io
import json
import subprocess
import sys

import psutil
import pytest

from portal.management.commands import serve


@pytest.fixture
def supervisor(tmp_path):
    command = serve.Command(stdout=io.StringIO(), stderr=io.StringIO())
    command.children, command.specs, command.started_at, command.restarts, command.down = (
        {},
        {},
        {},
        {},
        {},
    )
    command.state_file = tmp_path / "children.json"
    quick = [sys.executable, "-c", "import sys; sys.exit(3)"]
    alive = [sys.executable, "-c", "import time; time.sleep(60)"]
    command.spawn("web", alive)
    command.spawn("workers", quick)
    command.children["workers"].wait()
    yield command
    for child in command.children.values():
        child.kill()
        child.wait()


def state(command):
    return json.loads(command.state_file.read_text())


def test_a_dead_child_is_started_again_after_its_backoff_and_the_others_keep_running(supervisor):
    web = supervisor.children["web"]
    t0 = supervisor.started_at["workers"]
    supervisor.restart_dead_children(now=t0 + 0.1)
    assert state(supervisor)["workers"] == {"running": False, "restarts": 0, "exit_code": 3}
    assert "workers exited with code 3; starting it again in 1 s" in supervisor.stderr.getvalue()
    dead = supervisor.children["workers"]
    supervisor.restart_dead_children(now=t0 + 0.5)  # still within the backoff
    assert supervisor.children["workers"] is dead
    supervisor.restart_dead_children(now=t0 + 1.2)
    assert supervisor.children["workers"] is not dead
    assert state(supervisor)["workers"] == {"running": True, "restarts": 1}
    assert supervisor.children["web"] is web and web.poll() is None


def test_the_backoff_grows_while_a_child_keeps_dying_and_starts_over_once_it_ran_a_while(
    supervisor,
):
    delays = []
    for _ in range(6):
        child = supervisor.children["workers"]
        child.wait()
        started = supervisor.started_at["workers"]
        supervisor.restart_dead_children(now=started + 0.1)
        delays.append(supervisor.down["workers"][0] - (started + 0.1))
        supervisor.restart_dead_children(now=started + 0.1 + delays[-1])
    assert [round(d) for d in delays] == [1, 2, 5, 10, 30, 30]
    child = supervisor.children["workers"]
    child.wait()
    supervisor.restart_dead_children(now=supervisor.started_at["workers"] + serve.STABLE_AFTER)
    assert "starting it again in 1 s" in supervisor.stderr.getvalue().splitlines()[-1]


def test_what_is_left_of_a_dead_childs_process_group_is_killed(supervisor, tmp_path):
    # A cluster killed by SIGKILL leaves its workers behind, in its process group.
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "print(w.pid, flush=True); time.sleep(60)",
        ],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    worker = psutil.Process(int(leader.stdout.readline()))
    supervisor.children["long-workers"] = leader
    supervisor.started_at["long-workers"] = supervisor.started_at["web"]
    supervisor.specs["long-workers"] = supervisor.specs["web"]
    leader.kill()
    leader.wait()
    supervisor.restart_dead_children(now=supervisor.started_at["web"] + 0.1)
    try:  # the orphaned worker went with it
        worker.wait(timeout=10)
    except psutil.TimeoutExpired:
        pytest.fail("the dead cluster's worker still runs")
