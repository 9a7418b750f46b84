"""The portal's own alerts keep their namespaces: a person cannot declare an incident as a
probe, heartbeat, backup or checklist, nor hold a `probe:`, `alert:` or `backup:` dedup key,
so a real alert is never swallowed as a "repeated alert" of a person's incident."""

import pytest
from django.core.exceptions import ValidationError

from incidents import services
from incidents.models import Incident, Severity, Source
from probes import services as probe_services
from probes.models import Probe
from tests.incidents.factories import make_service
from tests.probes.factories import critical, make_probe

API = "/api/v1/incidents"


@pytest.fixture
def probe(db):
    return make_probe(
        make_service(name="checkout"),
        name="checkout health",
        severity=Severity.SEV1,
        failures_before_alert=1,
    )


def declare(api, service, **fields):
    return api.post(
        API,
        {"service": service.pk, "title": "Checkout slow", "severity": "sev4", **fields},
        format="json",
    )


@pytest.mark.parametrize("source", ["probe", "heartbeat", "backup", "checklist"])
def test_an_operator_cannot_declare_an_incident_with_the_portals_own_source(api_as, probe, source):
    response = declare(api_as("operator"), probe.service, source=source)
    assert response.status_code == 400
    assert "source" in response.json()
    assert not Incident.objects.exists()


@pytest.mark.parametrize("key", ["probe:10", "alert:disk", "backup:3"])
def test_an_operator_cannot_hold_a_reserved_dedup_key(api_as, probe, key):
    response = declare(api_as("operator"), probe.service, dedup_key=key)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "reserved"
    assert "dedup_key" in body
    assert not Incident.objects.exists()


def test_a_manager_and_an_admin_are_refused_reserved_keys_too(api_as, probe):
    for role in ("manager", "admin"):
        assert (
            declare(api_as(role), probe.service, dedup_key=f"probe:{probe.pk}").status_code == 400
        ), role


def test_an_operator_declares_with_manual_or_api_source_and_an_own_key(api_as, probe):
    api = api_as("operator")
    assert declare(api, probe.service, source="manual", dedup_key="deploy-42").status_code == 201
    assert declare(api, probe.service, source="api", dedup_key="my-probe:10").status_code == 201


def test_an_operator_incident_with_key_probe_10_is_refused_so_the_real_probe_opens_its_own_sev1(
    api_as, probe
):
    response = declare(
        api_as("operator"), probe.service, source="probe", dedup_key=f"probe:{probe.pk}"
    )
    assert response.status_code == 400
    response = declare(api_as("operator"), probe.service, dedup_key=f"probe:{probe.pk}")
    assert response.status_code == 400

    probe_services.record_results(
        outcomes=[(Probe.objects.get(pk=probe.pk), critical(), probe.next_run_at)]
    )
    incident = Incident.objects.get()
    assert (incident.source, incident.severity, incident.dedup_key) == (
        Source.PROBE,
        "sev1",
        f"probe:{probe.pk}",
    )


def test_declare_incident_refuses_both_fields_at_once(make_user, probe):
    with pytest.raises(ValidationError) as refused:
        services.declare_incident(
            by=make_user("operator"),
            service=probe.service,
            title="x",
            severity="sev4",
            source=Source.PROBE,
            dedup_key="alert:cpu",
        )
    assert set(refused.value.error_dict) == {"source", "dedup_key"}
    assert {e.code for errors in refused.value.error_dict.values() for e in errors} == {"reserved"}


def test_the_schema_offers_only_the_declarable_sources(api_as):
    schema = api_as("viewer").get("/api/schema/", {"format": "json"}).json()
    assert schema["components"]["schemas"]["DeclaredSourceEnum"]["enum"] == ["manual", "api"]
