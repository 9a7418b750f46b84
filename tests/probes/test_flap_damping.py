"""Flap damping (issue 26): a probe that fails again within its re-open window re-opens its last
incident ("re-triggered") and pages at most once per window instead of opening and paging anew;
a probe that keeps flipping is shown as flapping."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError
from incidents import services as incident_services
from incidents.escalation import escalate_due
from incidents.models import EventKind, Incident, Notification, Status
from probes import services
from probes.kinds import HttpSettings
from probes.models import Probe
from tests.incidents.factories import make_contact, make_policy, make_tier
from tests.probes.factories import critical, make_probe, ok

validate_http = HttpSettings.clean_config

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)
API = "/api/v1"


@pytest.fixture
def tiers(clock):
    """SEV1: tier 1 at once, tier 2 after 10 minutes unresolved."""
    tiers = [make_tier(1, "Operations"), make_tier(2, "Developers")]
    make_contact("ops", tier=tiers[0])
    make_contact("dev", tier=tiers[1])
    make_policy(
        "sev1",
        [
            {"after": timedelta(0), "tier": tiers[0]},
            {"after": timedelta(minutes=10), "tier": tiers[1]},
        ],
    )
    return tiers


@pytest.fixture
def probe(tiers):
    return make_probe(
        name="Route API health",
        severity="sev1",
        failures_before_alert=1,
        successes_to_recover=1,
        config=validate_http({"url": "http://127.0.0.1:9/health"}),
    )


def feed(probe, result, clock, then: timedelta):
    """One result now (the probe reloaded as the scheduler would), the sweep the cluster runs,
    then time passes."""
    fresh = Probe.objects.select_related("service").get(pk=probe.pk)
    services.record_results(outcomes=[(fresh, result, timezone.now())])
    escalate_due(now=timezone.now())
    clock.shift(then)
    return Probe.objects.get(pk=probe.pk)


def flap(probe, clock, times: int, down=40 * SEC, up=30 * SEC):
    for _ in range(times):
        feed(probe, critical("connection failed: refused"), clock, down)
        feed(probe, ok(), clock, up)


def pages(incident, name):
    return Notification.objects.filter(incident=incident, contact__name=name).count()


def test_down_40s_up_30s_four_times_is_one_incident_paged_once(probe, clock):
    flap(probe, clock, 4)
    feed(probe, critical("connection failed: refused"), clock, SEC)
    incident = Incident.objects.get()
    assert incident.status == Status.TRIGGERED
    assert pages(incident, "ops") == 1
    retriggered = incident.events.filter(kind=EventKind.RETRIGGERED)
    assert retriggered.count() == 4
    assert "connection failed: refused" in retriggered.last().text
    assert not any(event.data["paged"] for event in retriggered)
    assert [
        e.text.startswith("re-triggered") for e in incident.events.filter(kind=EventKind.STATUS)
    ].count(True) == 4


def test_a_retriggered_incident_keeps_its_escalation_going_from_where_it_stopped(probe, clock):
    feed(probe, critical(), clock, timedelta(minutes=1))
    feed(probe, ok(), clock, timedelta(minutes=1))  # resolved at +1 min
    feed(probe, critical(), clock, timedelta(minutes=2))  # re-triggered at +2 min
    incident = Incident.objects.get()
    assert (pages(incident, "ops"), pages(incident, "dev")) == (1, 0)
    clock.move_to(START + timedelta(minutes=10))
    escalate_due(now=timezone.now())
    assert (pages(incident, "ops"), pages(incident, "dev")) == (1, 1)


def test_after_the_window_since_its_last_page_a_retrigger_pages_per_policy_again(probe, clock):
    feed(probe, critical(), clock, timedelta(minutes=40))  # down 40 min
    feed(probe, ok(), clock, timedelta(minutes=5))
    feed(probe, critical(), clock, SEC)
    incident = Incident.objects.get()
    assert incident.status == Status.TRIGGERED and incident.escalation_round == 1
    assert pages(incident, "ops") == 2
    assert incident.events.filter(kind=EventKind.RETRIGGERED, data__paged=True).count() == 1


def test_a_failure_after_the_reopen_window_opens_a_new_incident(probe, clock):
    feed(probe, critical(), clock, timedelta(minutes=1))
    feed(probe, ok(), clock, timedelta(minutes=31))
    feed(probe, critical(), clock, SEC)
    assert list(Incident.objects.order_by("pk").values_list("status", flat=True)) == [
        "resolved",
        "triggered",
    ]
    assert not Incident.objects.filter(events__kind=EventKind.RETRIGGERED).exists()


def test_the_window_is_per_probe(probe, clock):
    Probe.objects.filter(pk=probe.pk).update(reopen_minutes=60)
    feed(probe, critical(), clock, timedelta(minutes=1))
    feed(probe, ok(), clock, timedelta(minutes=45))
    feed(probe, critical(), clock, SEC)
    assert Incident.objects.get().status == Status.TRIGGERED


def test_a_window_of_zero_opens_a_new_incident_every_time(probe, clock):
    Probe.objects.filter(pk=probe.pk).update(reopen_minutes=0)
    flap(probe, clock, 3)
    assert Incident.objects.count() == 3


def test_a_closed_incident_is_not_retriggered(probe, clock):
    feed(probe, critical(), clock, timedelta(minutes=1))
    feed(probe, ok(), clock, timedelta(minutes=1))
    incident_services.close(incident=Incident.objects.get(), by=None)
    feed(probe, critical(), clock, SEC)
    assert list(Incident.objects.order_by("pk").values_list("status", flat=True)) == [
        "closed",
        "triggered",
    ]


def test_only_a_resolved_incident_can_be_retriggered(probe, clock):
    feed(probe, critical(), clock, SEC)
    with pytest.raises(DomainError):
        incident_services.retrigger(
            incident=Incident.objects.get(), reason="again", page_window=timedelta(hours=1)
        )


def test_a_probe_flipping_four_times_in_a_row_is_flapping_until_it_stays_put(
    probe, clock, client_as
):
    state = feed(probe, critical(), clock, 40 * SEC)
    state = feed(probe, ok(), clock, 30 * SEC)
    state = feed(probe, critical(), clock, 40 * SEC)
    assert (state.flips, state.flapping) == (3, False)
    state = feed(probe, ok(), clock, SEC)
    assert (state.flips, state.flapping) == (4, True)
    assert "flapping" in client_as("viewer").get("/probes/").content.decode()
    assert "flapping" in client_as("viewer").get(state.get_absolute_url()).content.decode()
    clock.shift(timedelta(minutes=31))
    assert not Probe.objects.get(pk=probe.pk).flapping
    assert "flapping" not in client_as("viewer").get("/probes/").content.decode()


def test_flips_far_apart_are_not_flapping(probe, clock):
    for result in (critical(), ok(), critical(), ok(), critical()):
        state = feed(probe, result, clock, timedelta(minutes=40))
    assert state.flips == 1 and not state.is_flapping(timezone.now())


def test_the_api_shows_flapping_and_takes_the_window(api_as, probe, clock):
    flap(probe, clock, 2)
    body = api_as("viewer").get(f"{API}/probes/{probe.pk}").json()
    assert (body["flapping"], body["flips"], body["reopen_minutes"]) == (True, 4, 30)
    client = api_as("manager")
    assert (
        client.patch(f"{API}/probes/{probe.pk}", {"reopen_minutes": 90}, format="json").status_code
        == 200
    )
    assert Probe.objects.get(pk=probe.pk).reopen_minutes == 90
    response = client.patch(
        f"{API}/probes/{probe.pk}", {"reopen_minutes": -1, "flips": 0}, format="json"
    )
    assert response.status_code == 400 and "reopen_minutes" in response.json()
    assert Probe.objects.get(pk=probe.pk).flips == 4


def test_the_form_takes_the_window_and_refuses_a_bad_one(client_as, probe):
    data = {
        "service": probe.service.pk,
        "name": probe.name,
        "interval": 60,
        "timeout": 5,
        "failures_before_alert": 1,
        "successes_to_recover": 1,
        "reminder_minutes": 60,
        "severity": "sev1",
        "enabled": "on",
        "config_url": "http://127.0.0.1:9/health",
        "config_method": "GET",
        "config_expected_status": "200",
        "reopen_minutes": "abc",
    }
    client = client_as("manager")
    response = client.post(f"/probes/{probe.pk}/edit/", data)
    assert response.status_code == 400 and "reopen_minutes" in response.context["form"].errors
    data["reopen_minutes"] = "45"
    assert client.post(f"/probes/{probe.pk}/edit/", data).status_code == 302
    assert Probe.objects.get(pk=probe.pk).reopen_minutes == 45
    data["reopen_minutes"] = ""
    assert client.post(f"/probes/{probe.pk}/edit/", data).status_code == 302
    assert Probe.objects.get(pk=probe.pk).reopen_minutes == 45
