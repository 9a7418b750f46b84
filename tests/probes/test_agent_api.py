"""The agent's API: bearer tokens (401 alike for unknown and disabled hosts), the checks it gets,
pushes (413 past the limits, rejections recorded, a batch sent twice recorded once), and the
dead-man's switch when a host falls silent."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from incidents.models import Incident
from probes import services
from probes.models import Host, Probe, ProbeResult, hash_token
from tests.probes.agent_helpers import make_host
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def portal_up_for_a_day(monkeypatch):
    # The switch waits for the portal's own uptime to pass a host's interval + grace.
    monkeypatch.setattr(services, "STARTED", time.monotonic() - 86400)


@pytest.fixture
def host(clock):
    host, token = make_host(interval=60, grace=120)
    host.token = token
    return host


def agent(token):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_AGENT_VERSION="1.0.0")
    return api


def host_probe(host, kind="host_file", **fields):
    config = fields.pop("config", {"path": "/var/log/app.log"})
    return make_probe(host.service, kind=kind, host=host, config=config, next_run_at=None, **fields)


def push(host, results, *, batch=None, token=None):
    body = {"batch": str(batch or uuid.uuid4()), "agent_version": "1.0.0", "results": results}
    return agent(token or host.token).post("/api/v1/agent/results", body, format="json")


def item(probe, status="ok", value=3.0, at=None, message="fine"):
    return {
        "probe": probe.pk,
        "at": (at or START).isoformat(),
        "status": status,
        "value": value,
        "message": message,
    }


# Tokens ---------------------------------------------------------------------------


def test_the_token_is_kept_hashed_and_rotating_it_retires_the_old_one(host):
    stored = Host.objects.get(pk=host.pk)
    assert host.token.startswith("opa_") and len(host.token) > 40
    assert stored.token_hash == hash_token(host.token) and host.token not in stored.token_hash
    assert agent(host.token).get("/api/v1/agent/checks").status_code == 200
    new = stored.new_token()
    stored.save()
    assert agent(host.token).get("/api/v1/agent/checks").status_code == 401
    assert agent(new).get("/api/v1/agent/checks").status_code == 200


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer opa_nope", "Token x", "Basic Zm9vOmJhcg=="]
)
def test_a_bad_token_is_a_401_that_names_no_host(host, header):
    api = APIClient()
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    for response in (
        api.get("/api/v1/agent/checks"),
        api.post(
            "/api/v1/agent/results", {"batch": str(uuid.uuid4()), "results": []}, format="json"
        ),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "datahub" not in response.content.decode()
    assert not ProbeResult.objects.exists()


def test_a_persons_api_token_may_not_push(host, api_as):
    probe = host_probe(host)
    api = api_as("admin")
    assert api.get("/api/v1/agent/checks").status_code == 403
    response = api.post(
        "/api/v1/agent/results",
        {"batch": str(uuid.uuid4()), "results": [item(probe)]},
        format="json",
    )
    assert response.status_code == 403
    assert not ProbeResult.objects.exists()


def test_a_disabled_hosts_token_answers_exactly_like_an_unknown_one(host):
    Host.objects.filter(pk=host.pk).update(enabled=False)
    disabled = agent(host.token).get("/api/v1/agent/checks")
    unknown = agent("opa_" + "x" * 43).get("/api/v1/agent/checks")
    assert disabled.status_code == unknown.status_code == 401
    assert disabled.json() == unknown.json()
    assert disabled.json()["detail"] == "Invalid agent token."


# Checks ---------------------------------------------------------------------------


def test_the_agent_gets_its_hosts_enabled_checks_only_and_is_seen(host):
    mine = host_probe(host, name="app log")
    host_probe(host, name="off", enabled=False)
    other, _token = make_host(name="other")
    host_probe(other, name="not mine")
    make_probe(host.service, kind="memory", name="portal memory")
    command = host_probe(host, kind="host_command", name="job", config={"argv": ["/bin/true"]})
    answer = agent(host.token).get("/api/v1/agent/checks")
    assert answer.status_code == 200
    body = answer.json()
    assert body["host"] == "datahub" and body["interval"] == 60 and body["max_batch"] == 500
    # no command: the host does not allow them
    assert [check["id"] for check in body["checks"]] == [mine.pk]
    assert body["checks"][0] == {
        "id": mine.pk,
        "kind": "host_file",
        "name": "app log",
        "config": {"path": "/var/log/app.log"},
        "timeout": 10.0,
    }
    stored = Host.objects.get(pk=host.pk)
    assert (stored.last_seen_at, stored.agent_version) == (START, "1.0.0")
    Host.objects.filter(pk=host.pk).update(allow_commands=True)
    ids = [check["id"] for check in agent(host.token).get("/api/v1/agent/checks").json()["checks"]]
    assert ids == [mine.pk, command.pk]


# Pushes ---------------------------------------------------------------------------


def test_pushed_results_are_graded_by_the_probes_thresholds_and_alert_once(host):
    probe = host_probe(
        host,
        kind="host_log_errors",
        warning=5,
        critical=10,
        failures_before_alert=2,
        config={"path": "/var/log/app.log", "pattern": "ERROR", "tail_kib": 64},
    )
    answer = push(
        host, [item(probe, value=1), item(probe, value=6, at=START + timedelta(seconds=1))]
    )
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 2, "duplicate": False, "rejected": []}
    assert list(ProbeResult.objects.order_by("at").values_list("status", flat=True)) == [
        "ok",
        "warning",
    ]
    push(
        host,
        [
            item(probe, value=12, at=START + timedelta(seconds=2)),
            item(
                probe,
                status="critical",
                value=None,
                at=START + timedelta(seconds=3),
                message="gone",
            ),
        ],
    )
    probe.refresh_from_db()
    assert probe.status == "critical" and probe.alerting and probe.consecutive_failures == 2
    assert Incident.objects.filter(dedup_key=f"probe:{probe.pk}").count() == 1


def test_a_batch_sent_twice_is_recorded_once(host):
    probe = host_probe(host)
    batch = uuid.uuid4()
    first = push(host, [item(probe)], batch=batch)
    again = push(host, [item(probe)], batch=batch)
    assert first.json()["accepted"] == 1
    assert again.status_code == 200 and again.json() == {
        "accepted": 0,
        "duplicate": True,
        "rejected": [],
    }
    assert ProbeResult.objects.count() == 1


def test_results_for_checks_not_assigned_to_the_host_are_rejected_and_recorded(host):
    mine = host_probe(host)
    other, _token = make_host(name="other")
    theirs = host_probe(other)
    portal_side = make_probe(host.service, kind="memory")
    disabled = host_probe(host, enabled=False)
    answer = push(
        host,
        [
            item(mine),
            item(theirs),
            item(portal_side),
            item(disabled),
            {**item(mine), "probe": 999_999},
        ],
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 1
    assert [r["probe"] for r in body["rejected"]] == [
        theirs.pk,
        portal_side.pk,
        disabled.pk,
        999_999,
    ]
    assert {r["reason"] for r in body["rejected"]} == {"not a check assigned to this host"}
    assert list(ProbeResult.objects.values_list("probe_id", flat=True)) == [mine.pk]
    stored = Host.objects.get(pk=host.pk)
    assert stored.rejected_results == 4 and stored.last_rejected_at == START
    assert stored.last_rejection.startswith("probe 999999")


def test_a_command_result_is_rejected_while_the_host_does_not_allow_commands(host):
    Host.objects.filter(pk=host.pk).update(allow_commands=True)
    host.allow_commands = True
    command = host_probe(host, kind="host_command", config={"argv": ["/bin/true"]})
    Host.objects.filter(pk=host.pk).update(allow_commands=False)
    body = push(host, [item(command, value=0)]).json()
    assert body["accepted"] == 0 and body["rejected"][0]["probe"] == command.pk


def test_results_dated_far_from_the_portals_clock_are_rejected(host):
    probe = host_probe(host)
    body = push(
        host,
        [
            item(probe, at=START + timedelta(hours=1)),
            item(probe, at=START - timedelta(days=8)),
            item(probe, at=START - timedelta(days=6)),
        ],
    ).json()
    assert body["accepted"] == 1 and len(body["rejected"]) == 2


def test_an_oversized_batch_is_a_413_and_records_nothing(host):
    probe = host_probe(host)
    too_many = push(host, [item(probe)] * (services.PUSH_RESULTS_LIMIT + 1))
    assert too_many.status_code == 413
    too_big = push(host, [item(probe, message="x" * 2000)] * 300)  # ~700 KB, under the count limit
    assert too_big.status_code == 413
    assert not ProbeResult.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"results": []},
        {"batch": "not-a-uuid", "results": []},
        {"batch": str(uuid.uuid4()), "results": [{"probe": 1, "at": "yesterday", "status": "ok"}]},
        {
            "batch": str(uuid.uuid4()),
            "results": [{"probe": 1, "at": START.isoformat(), "status": "fine"}],
        },
        {"batch": str(uuid.uuid4()), "results": "all good"},
    ],
)
def test_a_malformed_push_is_a_400_with_field_errors(host, body):
    response = agent(host.token).post("/api/v1/agent/results", body, format="json")
    assert response.status_code == 400
    assert response.json()
    assert not ProbeResult.objects.exists()


# The dead-man's switch -------------------------------------------------------------


def test_a_silent_agent_turns_its_probes_to_error_with_one_incident_and_recovers(host, clock):
    probes = [host_probe(host, name=f"check {n}", failures_before_alert=1) for n in range(3)]
    push(host, [item(probe) for probe in probes])
    # Interval 60 s + grace 120 s: not silent yet at 179 s.
    clock.move_to(START + timedelta(seconds=179))
    assert services.check_silent_hosts(now=datetime.now(UTC)) == 0
    clock.move_to(START + timedelta(seconds=181))
    assert services.check_silent_hosts(now=datetime.now(UTC)) == 1
    assert set(Probe.objects.filter(host=host).values_list("status", flat=True)) == {"error"}
    [incident] = Incident.objects.all()
    assert incident.dedup_key == f"host:{host.pk}:silent" and "datahub" in incident.title
    assert not Incident.objects.filter(
        dedup_key__startswith="probe:"
    ).exists()  # one incident, not one per probe
    clock.move_to(START + timedelta(minutes=30))
    # still silent: no second incident
    assert services.check_silent_hosts(now=datetime.now(UTC)) == 0
    assert Incident.objects.count() == 1
    assert ProbeResult.objects.filter(status="error").count() == 3

    assert push(host, [item(probe, at=datetime.now(UTC)) for probe in probes]).status_code == 200
    incident.refresh_from_db()
    assert incident.status == "resolved"
    stored = Host.objects.get(pk=host.pk)
    assert not stored.silent
    assert set(Probe.objects.filter(host=host).values_list("status", flat=True)) == {"ok"}


def test_the_probes_tick_runs_the_dead_mans_switch(host, clock):
    host_probe(host)
    Host.objects.filter(pk=host.pk).update(last_seen_at=START)
    clock.move_to(START + timedelta(minutes=5))
    services.run_scheduler(seconds=0)
    assert Host.objects.get(pk=host.pk).silent
    assert Incident.objects.get().dedup_key == f"host:{host.pk}:silent"


def test_after_the_portal_itself_was_down_agents_get_their_interval_and_grace_first(
    host, clock, monkeypatch
):
    host_probe(host)
    Host.objects.filter(pk=host.pk).update(last_seen_at=START)
    clock.move_to(START + timedelta(hours=1))  # the portal was down for an hour and just started
    monkeypatch.setattr(services, "STARTED", time.monotonic() - 179)
    assert services.check_silent_hosts(now=datetime.now(UTC)) == 0
    monkeypatch.setattr(services, "STARTED", time.monotonic() - 181)
    assert services.check_silent_hosts(now=datetime.now(UTC)) == 1


def test_a_host_never_heard_from_is_not_silent(host, clock):
    host_probe(host)
    clock.move_to(START + timedelta(days=1))
    assert services.check_silent_hosts(now=datetime.now(UTC)) == 0
    assert not Incident.objects.exists()


def test_a_host_probe_is_never_due_on_the_portal_nor_run_now(host):
    probe = host_probe(host)
    probe.next_run_at = START
    probe.reschedule(START)
    assert probe.next_run_at is None
    probe.save()
    assert services.run_due(now=START + timedelta(days=1)) == 0
    with pytest.raises(services.DomainError):
        services.run_probe(probe=probe)


# Host checks through the probes API --------------------------------------------------


def test_the_probes_api_makes_a_host_check_only_with_its_host(host, api_as):
    api = api_as("manager")
    body = {
        "service": host.service_id,
        "name": "free disk",
        "kind": "host_disk",
        "warning": 10,
        "critical": 5,
        "config": {"path": "C:\\", "measure": "free_gb"},
    }
    missing = api.post("/api/v1/probes", body, format="json")
    assert missing.status_code == 400 and "host" in missing.json()
    created = api.post("/api/v1/probes", {**body, "host": host.pk}, format="json")
    assert created.status_code == 201, created.json()
    probe = Probe.objects.get(pk=created.json()["id"])
    assert probe.host == host and probe.next_run_at is None
    other, _token = make_host(name="other")
    moved = api.patch(f"/api/v1/probes/{probe.pk}", {"host": other.pk}, format="json")
    assert moved.status_code == 400 and "host" in moved.json()
    on_portal = api.post(
        "/api/v1/probes",
        {
            **body,
            "kind": "memory",
            "config": {},
            "host": host.pk,
            "name": "mem",
            "warning": None,
            "critical": None,
        },
        format="json",
    )
    assert on_portal.status_code == 400 and "host" in on_portal.json()


def test_a_push_costs_the_same_queries_for_one_result_or_twenty(host):
    # Twenty, not fifty: the probes' state is one bulk UPDATE, which Django splits into batches by
    # SQLite's limit on query parameters (about 30 probes a statement with today's state fields).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n in (1, 20):
        probes = [host_probe(host, name=f"check {n}-{i}") for i in range(n)]
        with CaptureQueriesContext(connection) as queries:
            report = services.record_push(
                host=host,
                batch=uuid.uuid4(),
                results=[
                    {"probe": probe.pk, "at": START, "status": "ok", "value": 1.0, "message": ""}
                    for probe in probes
                ],
            )
        assert report.accepted == n
        Probe.objects.filter(pk__in=[p.pk for p in probes]).update(enabled=False)
        counts.append(len(queries))
    assert counts[0] == counts[1]
