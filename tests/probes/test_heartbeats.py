"""Heartbeats: pushed pings at /api/v1/heartbeats/<uuid> (no login), /fail, lateness."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from incidents.models import Incident
from probes import services
from probes.models import Probe, ProbeResult
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
def beat(clock):
    probe = make_probe(
        kind="heartbeat",
        name="Nightly backup",
        config={"grace_seconds": 600},
        interval=3600,
        failures_before_alert=1,
    )
    probe.next_run_at = None
    probe.reschedule(START)
    probe.save()
    return probe


def url(probe, suffix=""):
    return f"/api/v1/heartbeats/{probe.token}{suffix}"


def test_a_get_ping_without_login_records_an_ok_result(beat):
    response = APIClient().get(url(beat))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    beat.refresh_from_db()
    assert beat.status == "ok" and beat.last_ping_at == START
    assert beat.next_run_at == START + timedelta(hours=1, minutes=10)


def test_a_post_ping_keeps_a_short_body_as_the_message(beat):
    response = APIClient().post(
        url(beat), data="backup 1.2 GB in 41 s" + "x" * 2000, content_type="text/plain"
    )
    assert response.status_code == 200
    result = ProbeResult.objects.get(probe=beat)
    assert result.message.startswith("backup 1.2 GB in 41 s")
    assert len(result.message) == 500


def test_fail_turns_the_heartbeat_critical_at_once(beat):
    response = APIClient().post(url(beat, "/fail"), data="disk full", content_type="text/plain")
    assert response.status_code == 200
    assert response.json() == {"status": "critical"}
    beat.refresh_from_db()
    assert beat.status == "critical"
    assert Incident.objects.get(dedup_key=f"probe:{beat.pk}").source == "heartbeat"


def test_an_unknown_uuid_is_a_404(beat):
    assert APIClient().get(f"/api/v1/heartbeats/{uuid.uuid4()}").status_code == 404
    assert APIClient().post(f"/api/v1/heartbeats/{uuid.uuid4()}/fail").status_code == 404
    assert not ProbeResult.objects.exists()


def test_a_pull_probes_token_is_not_a_heartbeat(beat):
    other = make_probe(kind="memory")
    assert APIClient().get(url(other)).status_code == 404


def test_a_disabled_heartbeat_is_a_404(beat):
    Probe.objects.filter(pk=beat.pk).update(enabled=False)
    assert APIClient().get(url(beat)).status_code == 404


def test_no_ping_within_period_plus_grace_turns_it_critical(beat, clock):
    APIClient().get(url(beat))
    clock.shift(timedelta(hours=1, minutes=9))
    assert services.run_due() == 0
    clock.shift(timedelta(minutes=1))
    assert services.run_due() == 1
    beat.refresh_from_db()
    assert beat.status == "critical"
    assert "no ping" in beat.last_message
    assert Incident.objects.filter(dedup_key=f"probe:{beat.pk}").count() == 1


def test_regular_pings_keep_it_ok_through_a_day(beat, clock):
    for _ in range(24):
        APIClient().get(url(beat))
        clock.shift(timedelta(minutes=65))
        assert services.run_due() == 0
    beat.refresh_from_db()
    assert beat.status == "ok"
    assert not Incident.objects.exists()


def test_a_new_heartbeat_waits_one_period_plus_grace_for_its_first_ping(beat, clock):
    clock.shift(timedelta(minutes=69))
    assert services.run_due() == 0
    clock.shift(timedelta(minutes=1))
    assert services.run_due() == 1


def test_a_ping_after_it_went_late_recovers_it(beat, clock):
    clock.shift(timedelta(minutes=71))
    services.run_due()
    incident = Incident.objects.get(dedup_key=f"probe:{beat.pk}")
    Probe.objects.filter(pk=beat.pk).update(successes_to_recover=1)
    APIClient().get(url(beat))
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_pings_are_throttled_per_client(beat, settings):
    from django.core.cache import cache

    cache.clear()
    client = APIClient()
    answers = [client.get(url(beat)).status_code for _ in range(301)]
    assert answers.count(200) == 300
    assert answers[-1] == 429
    cache.clear()


def test_a_heartbeat_cannot_be_run_from_the_portal(beat):
    from core.errors import DomainError

    with pytest.raises(DomainError):
        services.run_probe(probe=beat)


def test_shortening_the_period_moves_the_deadline_from_the_last_ping(beat, clock, api_as):
    APIClient().get(url(beat))
    clock.shift(timedelta(minutes=20))
    response = api_as("manager").patch(
        f"/api/v1/probes/{beat.pk}", {"interval": 600}, format="json"
    )
    assert response.status_code == 200
    beat.refresh_from_db()
    assert beat.next_run_at == START + timedelta(minutes=20)
    assert services.run_due() == 1
    beat.refresh_from_db()
    assert beat.status == "critical"
