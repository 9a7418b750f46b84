import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.models import (
    Contact,
    EscalationPolicy,
    EventKind,
    Incident,
    MaintenanceWindow,
    Notification,
    NotificationChannel,
    Status,
    TimelineEvent,
)
from tests.incidents.factories import (
    make_contact,
    make_incident,
    make_policy,
    make_service,
    make_tier,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def service():
    return make_service("Route prediction API")


@pytest.fixture
def tier():
    return make_tier(1, "Operations")


def declare(api, service, **extra):
    return api.post(
        f"{API}/incidents",
        {"service": service.pk, "title": "API answers 502", "severity": "sev1", **extra},
        format="json",
    )


def open_one(service, user=None, **extra):
    incident, _created = services.open_incident(
        service=service, title="Disk almost full", severity="sev3", by=user, **extra
    )
    return incident


def item_errors(errors, index):
    """Errors of one item of a nested list (DRF keys them by index)."""
    return errors[str(index)] if isinstance(errors, dict) else errors[index]


def valid_policy(tier, **extra):
    return {
        "name": "API SEV1",
        "severity": "sev1",
        "steps": [{"after": 0, "tier": tier.pk}, {"after": "00:30:00", "tier": tier.pk}],
        **extra,
    }


# Reading -----------------------------------------------------------------


def test_a_viewer_can_read_every_incidents_resource(api_as, service, tier):
    api = api_as("viewer")
    make_incident(service)
    for resource in (
        "services",
        "tiers",
        "contacts",
        "channels",
        "escalation-policies",
        "maintenance-windows",
        "incidents",
        "notifications",
    ):
        response = api.get(f"{API}/{resource}")
        assert response.status_code == 200, resource
    assert api.get(f"{API}/incidents").json()["count"] == 1


def test_anonymous_api_calls_are_refused(client, service):
    assert client.get(f"{API}/incidents").status_code in (401, 403)


def test_a_resolve_through_the_api_keeps_its_summary_on_the_incident_and_the_timeline(
    api_as, service
):
    api = api_as("operator")
    incident = open_one(service)
    response = api.post(
        f"{API}/incidents/{incident.pk}/resolve",
        {"summary": "  Rolled back the model file.  "},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["resolution_summary"] == "Rolled back the model file."
    event = incident.events.get(kind=EventKind.STATUS, data__to="resolved")
    assert event.data["summary"] == "Rolled back the model file."
    listed = api.get(f"{API}/incidents").json()["results"][0]
    assert "resolution_summary" not in listed  # long texts are for the detail answer


def test_a_resolve_summary_over_4000_characters_is_a_400_naming_the_field(api_as, service):
    api = api_as("operator")
    incident = open_one(service)
    response = api.post(
        f"{API}/incidents/{incident.pk}/resolve", {"summary": "x" * 4001}, format="json"
    )
    assert response.status_code == 400
    assert "4000" in response.json()["summary"][0]
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


# Roles -------------------------------------------------------------------


def test_a_viewer_cannot_change_anything(api_as, service, tier):
    api = api_as("viewer")
    incident = open_one(service)
    contact = make_contact(tier=tier)
    assert declare(api, service).status_code == 403
    for action in ("acknowledge", "mitigate", "resolve", "close", "reopen"):
        assert api.post(f"{API}/incidents/{incident.pk}/{action}").status_code == 403, action
    assert api.post(f"{API}/incidents/{incident.pk}/notes", {"text": "hi"}).status_code == 403
    assert api.patch(f"{API}/contacts/{contact.pk}", {"name": "X"}).status_code == 403
    assert api.post(f"{API}/services", {"name": "New"}).status_code == 403
    assert (
        api.post(f"{API}/escalation-policies", valid_policy(tier), format="json").status_code == 403
    )
    now = timezone.now()
    assert (
        api.post(
            f"{API}/maintenance-windows",
            {
                "service": service.pk,
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(hours=1)).isoformat(),
            },
            format="json",
        ).status_code
        == 403
    )
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert Contact.objects.get(pk=contact.pk).name == contact.name


def test_an_operator_declares_acknowledges_notes_and_resolves(api_as, service):
    api = api_as("operator")
    response = declare(api, service, category="API down", scope="full")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "triggered" and body["source"] == "api"
    pk = body["id"]
    assert TimelineEvent.objects.filter(incident_id=pk, kind=EventKind.CREATED).exists()

    response = api.post(f"{API}/incidents/{pk}/acknowledge")
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"

    response = api.post(
        f"{API}/incidents/{pk}/notes", {"text": "Restarted the workers."}, format="json"
    )
    assert response.status_code == 201
    assert (
        response.json()["kind"] == "note" and response.json()["message"] == "Restarted the workers."
    )

    assert api.post(f"{API}/incidents/{pk}/mitigate").json()["status"] == "mitigated"
    assert api.post(f"{API}/incidents/{pk}/resolve").json()["status"] == "resolved"
    assert api.post(f"{API}/incidents/{pk}/close").json()["status"] == "closed"
    response = api.post(f"{API}/incidents/{pk}/reopen", {"reason": "It is back."}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "triggered"

    incident = Incident.objects.get(pk=pk)
    assert incident.acknowledged_by == api.user
    assert incident.resolution_summary == ""
    assert incident.events.filter(kind=EventKind.NOTE).count() == 1


def test_declaring_twice_with_the_same_dedup_key_adds_to_the_open_incident(api_as, service):
    api = api_as("operator")
    first = declare(api, service, dedup_key="deploy-7")
    second = declare(api, service, dedup_key="deploy-7")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Incident.objects.count() == 1


def test_an_operator_adds_maintenance_windows_but_cannot_edit_configuration(api_as, service, tier):
    api = api_as("operator")
    now = timezone.now()
    response = api.post(
        f"{API}/maintenance-windows",
        {
            "service": service.pk,
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "reason": "database upgrade",
        },
        format="json",
    )
    assert response.status_code == 201
    assert MaintenanceWindow.objects.get().created_by == api.user

    contact = make_contact(tier=tier)
    policy = make_policy("sev1", [{"tier": tier}])
    assert api.post(f"{API}/contacts", {"name": "Someone"}, format="json").status_code == 403
    assert (
        api.patch(f"{API}/contacts/{contact.pk}", {"name": "X"}, format="json").status_code == 403
    )
    assert (
        api.patch(
            f"{API}/escalation-policies/{policy.pk}", {"name": "X"}, format="json"
        ).status_code
        == 403
    )
    assert api.delete(f"{API}/escalation-policies/{policy.pk}").status_code == 403
    assert api.patch(f"{API}/services/{service.pk}", {"rto": 60}, format="json").status_code == 403
    assert api.post(f"{API}/tiers", {"level": 5, "name": "X"}, format="json").status_code == 403


def test_a_manager_edits_services_tiers_contacts_channels_and_policies(api_as, service, tier):
    api = api_as("manager")
    response = api.patch(
        f"{API}/services/{service.pk}", {"rto": "01:00:00", "rpo": 3600}, format="json"
    )
    assert response.status_code == 200
    service.refresh_from_db()
    assert service.rto == service.rpo == timedelta(hours=1)

    assert (
        api.post(f"{API}/tiers", {"level": 2, "name": "Developers"}, format="json").status_code
        == 201
    )

    response = api.post(
        f"{API}/contacts",
        {
            "name": "Mina Seo",
            "tier": tier.pk,
            "availability": "business_hours",
            "work_days": [0, 1, 2, 3, 4],
            "phone": "010-0000-0101",
            "email": "mina@example.com",
            "channels": [
                {"kind": "email", "target": "mina@example.com"},
                {"kind": "slack", "target": "https://hooks.example.com/T000/B000"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(name="Mina Seo")
    assert contact.channels.count() == 2

    email_channel = contact.channels.get(kind="email")
    response = api.patch(
        f"{API}/contacts/{contact.pk}",
        {"channels": [{"id": email_channel.pk, "kind": "email", "target": "mina.seo@example.com"}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert list(contact.channels.values_list("pk", "target")) == [
        (email_channel.pk, "mina.seo@example.com")
    ]

    response = api.post(
        f"{API}/channels",
        {"contact": contact.pk, "kind": "teams", "target": "https://teams.example.com/hook"},
        format="json",
    )
    assert response.status_code == 201

    response = api.post(
        f"{API}/escalation-policies", valid_policy(tier, service=service.pk), format="json"
    )
    assert response.status_code == 201, response.json()
    policy = EscalationPolicy.objects.get(service=service, severity="sev1")
    assert [(s.position, s.after) for s in policy.steps.order_by("position")] == [
        (0, timedelta(0)),
        (1, timedelta(minutes=30)),
    ]

    response = api.put(
        f"{API}/escalation-policies/{policy.pk}",
        {
            "name": "API SEV1",
            "service": service.pk,
            "severity": "sev1",
            "repeat_every": "00:10:00",
            "repeat_limit": 3,
            "steps": [{"after": 0, "contacts": [contact.pk], "condition": "not_acknowledged"}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    policy.refresh_from_db()
    assert policy.repeat_limit == 3
    assert [list(s.contacts.all()) for s in policy.steps.all()] == [[contact]]
    assert policy.history.count() == 2  # who changed what, when


# Bad input ---------------------------------------------------------------


def test_an_unknown_severity_is_a_400_with_a_field_error(api_as, service, tier):
    api = api_as("manager")
    response = declare(api, service, severity="sev9")
    assert response.status_code == 400 and "severity" in response.json()
    response = api.post(
        f"{API}/escalation-policies", valid_policy(tier, severity="urgent"), format="json"
    )
    assert response.status_code == 400 and "severity" in response.json()
    assert api.get(f"{API}/incidents", {"severity": "sev9"}).status_code == 400


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"after": -60}, "after"),
        ({"after": "-00:01:00"}, "after"),
        ({}, "after"),
        ({"after": "soon"}, "after"),
    ],
)
def test_a_negative_missing_or_garbled_delay_is_a_400(api_as, tier, step, field):
    api = api_as("manager")
    payload = valid_policy(tier)
    payload["steps"] = [{"tier": tier.pk, **step}]
    response = api.post(f"{API}/escalation-policies", payload, format="json")
    assert response.status_code == 400
    assert field in item_errors(response.json()["steps"], 0)
    assert not EscalationPolicy.objects.exists()


def test_a_step_without_a_target_is_a_400(api_as, tier):
    api = api_as("manager")
    payload = valid_policy(tier)
    payload["steps"].append({"after": 3600})
    response = api.post(f"{API}/escalation-policies", payload, format="json")
    assert response.status_code == 400
    errors = response.json()["steps"]
    assert "tier" in item_errors(errors, 2)
    assert not any(
        item_errors(errors, i) for i in (0, 1) if str(i) in errors or isinstance(errors, list)
    )


def test_duplicate_positions_and_repeats_without_interval_are_400(api_as, tier):
    api = api_as("manager")
    payload = valid_policy(tier)
    payload["steps"] = [
        {"position": 1, "after": 0, "tier": tier.pk},
        {"position": 1, "after": 60, "tier": tier.pk},
    ]
    response = api.post(f"{API}/escalation-policies", payload, format="json")
    assert response.status_code == 400 and "steps" in response.json()

    response = api.post(
        f"{API}/escalation-policies", valid_policy(tier, repeat_limit=3), format="json"
    )
    assert response.status_code == 400 and "repeat_every" in response.json()


def test_a_second_policy_for_the_same_service_and_severity_is_a_409(api_as, tier):
    api = api_as("manager")
    make_policy("sev1", [{"tier": tier}])
    response = api.post(f"{API}/escalation-policies", valid_policy(tier), format="json")
    assert response.status_code == 409 and "severity" in response.json()


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("slack", "ftp://hooks.example.com/x"),
        ("webhook", "javascript:alert(1)"),
        ("teams", "not a url"),
        ("email", "not-an-address"),
        ("email", ""),
    ],
)
def test_a_channel_with_a_bad_address_is_a_400(api_as, tier, kind, target):
    api = api_as("manager")
    response = api.post(
        f"{API}/contacts",
        {"name": "Jun", "channels": [{"kind": kind, "target": target}]},
        format="json",
    )
    assert response.status_code == 400
    assert "target" in item_errors(response.json()["channels"], 0)
    contact = make_contact(tier=tier)
    response = api.post(
        f"{API}/channels", {"contact": contact.pk, "kind": kind, "target": target}, format="json"
    )
    assert response.status_code == 400 and "target" in response.json()
    assert not Contact.objects.filter(name="Jun").exists()


def test_a_contact_with_an_invalid_email_or_weekday_is_a_400(api_as):
    api = api_as("manager")
    response = api.post(
        f"{API}/contacts", {"name": "Jun", "email": "jun@", "work_days": [0, 7]}, format="json"
    )
    assert response.status_code == 400
    assert {"email", "work_days"} <= set(response.json())


def test_deleting_a_service_or_tier_still_in_use_is_a_409_not_a_500(api_as, service, tier):
    api = api_as("manager")
    make_incident(service)
    make_policy("sev1", [{"tier": tier}])
    assert api.delete(f"{API}/services/{service.pk}").status_code == 409
    assert api.delete(f"{API}/tiers/{tier.pk}").status_code == 409
    unused = make_tier()
    assert api.delete(f"{API}/tiers/{unused.pk}").status_code == 204


def test_a_maintenance_window_must_end_after_it_starts(api_as, service):
    api = api_as("operator")
    now = timezone.now()
    response = api.post(
        f"{API}/maintenance-windows",
        {
            "service": service.pk,
            "starts_at": now.isoformat(),
            "ends_at": (now - timedelta(hours=1)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400 and "ends_at" in response.json()


def test_a_transition_not_allowed_from_the_current_status_is_refused_with_a_message(
    api_as, service
):
    api = api_as("operator")
    incident = open_one(service)
    response = api.post(f"{API}/incidents/{incident.pk}/close")
    assert response.status_code in (400, 409)
    assert response.json()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    services.resolve(incident=incident, by=None)
    response = api.post(f"{API}/incidents/{incident.pk}/acknowledge")
    assert response.status_code in (400, 409)


def test_garbage_bodies_get_400_not_500(api_as, service):
    api = api_as("manager")
    incident = open_one(service)
    assert (
        api.post(f"{API}/incidents", "{not json", content_type="application/json").status_code
        == 400
    )
    assert (
        api.post(f"{API}/incidents", {"service": "abc", "title": ""}, format="json").status_code
        == 400
    )
    assert (
        api.post(f"{API}/incidents/{incident.pk}/notes", {"text": ""}, format="json").status_code
        == 400
    )
    assert (
        api.post(f"{API}/incidents/{incident.pk}/notes", {"text": ["a"]}, format="json").status_code
        == 400
    )
    assert (
        api.post(f"{API}/contacts", {"name": "X", "work_days": "mon"}, format="json").status_code
        == 400
    )
    assert api.get(f"{API}/incidents", {"created_after": "yesterday"}).status_code == 400
    assert api.post(f"{API}/incidents/999999/acknowledge").status_code == 404


# Filters, timeline, notifications ------------------------------------------


def test_incidents_are_listed_open_first_then_newest_and_filter_by_status_severity_and_search(
    api_as, service
):
    api = api_as("viewer")
    now = timezone.now()
    old_open = make_incident(
        service, title="Old open", severity="sev3", created_at=now - timedelta(days=3)
    )
    new_closed = make_incident(service, title="New closed", status=Status.CLOSED, created_at=now)
    newer_open = make_incident(
        service, title="Newer open disk", severity="sev1", created_at=now - timedelta(days=1)
    )
    rows = api.get(f"{API}/incidents").json()["results"]
    assert [row["id"] for row in rows] == [newer_open.pk, old_open.pk, new_closed.pk]
    assert [row["url"] for row in rows] == [
        i.get_absolute_url() for i in (newer_open, old_open, new_closed)
    ]

    def found(**params):
        return [row["id"] for row in api.get(f"{API}/incidents", params).json()["results"]]

    assert found(status="closed") == [new_closed.pk]
    assert found(severity="sev1") == [newer_open.pk]
    assert found(search="disk") == [newer_open.pk]
    assert found(open="true") == [newer_open.pk, old_open.pk]
    assert found(open="false") == [new_closed.pk]
    assert found(created_before=(now - timedelta(days=2)).isoformat()) == [old_open.pk]
    assert found(service=service.pk, source="manual") == [newer_open.pk, old_open.pk, new_closed.pk]


def test_the_timeline_is_paged_by_cursor_oldest_first(api_as, service):
    api = api_as("viewer")
    incident = make_incident(service)
    start = timezone.now() - timedelta(hours=1)
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident, at=start + timedelta(minutes=i), kind=EventKind.NOTE, message=f"n{i}"
        )
        for i in range(7)
    )
    response = api.get(f"{API}/incidents/{incident.pk}/timeline", {"page_size": 5})
    assert response.status_code == 200
    body = response.json()
    assert [e["message"] for e in body["results"]] == ["n0", "n1", "n2", "n3", "n4"]
    assert "count" not in body
    rest = api.get(body["next"]).json()
    assert [e["message"] for e in rest["results"]] == ["n5", "n6"]
    assert api.post(f"{API}/incidents/{incident.pk}/timeline").status_code in (403, 405)


def test_notifications_are_read_only_and_filter_by_incident_and_status(api_as, service):
    api = api_as("manager")
    incident, other = make_incident(service), make_incident(service)
    Notification.objects.create(
        incident=incident,
        step=0,
        condition="not_resolved",
        kind="email",
        target="a@example.com",
        status="sent",
    )
    Notification.objects.create(
        incident=other,
        step=0,
        condition="not_resolved",
        kind="email",
        target="b@example.com",
        status="failed",
        last_error="550",
    )
    assert api.get(f"{API}/notifications", {"incident": incident.pk}).json()["count"] == 1
    assert (
        api.get(f"{API}/notifications", {"status": "failed"}).json()["results"][0]["last_error"]
        == "550"
    )
    assert api.post(f"{API}/notifications", {}).status_code == 405
    assert api.delete(f"{API}/notifications/{Notification.objects.first().pk}").status_code == 405


# Query counts --------------------------------------------------------------


def _populate(n):
    tier = make_tier()
    contacts = [make_contact(tier=tier, work_days=[0, 1]) for _ in range(n)]
    for contact in contacts:
        NotificationChannel.objects.create(
            contact=contact, kind="slack", target="https://hooks.example.com/x"
        )
    servs = [make_service() for _ in range(n)]
    for i, serv in enumerate(servs):
        make_policy(
            ["sev1", "sev2", "sev3", "sev4"][i % 4],
            [{"tier": tier}, {"contacts": contacts[:2]}],
            service=serv,
        )
        incident = make_incident(serv)
        TimelineEvent.objects.create(incident=incident, kind=EventKind.NOTE, message="x")
        Notification.objects.create(
            incident=incident,
            step=0,
            condition="not_resolved",
            kind="email",
            target="a@example.com",
        )
        MaintenanceWindow.objects.create(
            service=serv, starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1)
        )


@pytest.mark.parametrize(
    "resource",
    [
        "services",
        "tiers",
        "contacts",
        "channels",
        "escalation-policies",
        "maintenance-windows",
        "incidents",
        "notifications",
    ],
)
def test_list_endpoints_run_a_constant_number_of_queries_whatever_the_page_size(
    api_as, resource, django_assert_max_num_queries
):
    api = api_as("viewer")
    _populate(12)
    counts = []
    for size in (2, 12):
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"{API}/{resource}", {"page_size": size})
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(8):
        api.get(f"{API}/{resource}", {"page_size": 12})


def test_the_timeline_runs_a_constant_number_of_queries(
    api_as, service, django_assert_max_num_queries
):
    api = api_as("viewer")
    incident = make_incident(service)
    user = api.user
    TimelineEvent.objects.bulk_create(
        TimelineEvent(incident=incident, kind=EventKind.NOTE, actor_user=user) for _ in range(30)
    )
    with django_assert_max_num_queries(6):
        assert (
            len(
                api.get(f"{API}/incidents/{incident.pk}/timeline", {"page_size": 30}).json()[
                    "results"
                ]
            )
            == 30
        )


def test_working_hours_are_documented_as_the_api_writes_them(api_as):
    # Found by the schema fuzz test: format "time" (RFC 3339) needs a UTC offset; "09:00:00" has
    # none.
    api = api_as("viewer")
    contact = make_contact()
    body = api.get(f"{API}/contacts/{contact.pk}").json()
    start = api.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]["Contact"][
        "properties"
    ]["work_start"]
    assert "format" not in start
    assert re.fullmatch(start["pattern"], body["work_start"]) and not re.fullmatch(
        start["pattern"], "24:00"
    )


@pytest.mark.parametrize("path", ["contacts", "escalation-policies"])
def test_nested_resources_take_json_only_so_a_form_cannot_drop_their_parts(api_as, path):
    # Found by the schema fuzz test: a multipart contact was created without the channels it sent.
    api = api_as("manager")
    response = api.post(
        f"{API}/{path}",
        {
            "name": "Mina",
            "severity": "sev2",
            "channels": '[{"kind": "email", "target": "mina@example.com"}]',
        },
        format="multipart",
    )
    assert response.status_code == 415
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert list(schema["paths"][f"{API}/{path}"]["post"]["requestBody"]["content"]) == [
        "application/json"
    ]


def test_report_months_are_documented_as_yyyy_mm_not_as_dates(api_as):
    # Found by the schema fuzz test: the schema said format "date", but 2026-03-01 is refused.
    api = api_as("manager")
    params = api.get("/api/schema/", {"format": "json"}).json()["paths"][
        f"{API}/reports/incidents"
    ]["get"]["parameters"]
    first = next(p for p in params if p["name"] == "first")["schema"]
    assert "format" not in first
    assert re.fullmatch(first["pattern"], "2026-03") and not re.fullmatch(
        first["pattern"], "2026-03-01"
    )
    assert api.get(f"{API}/reports/incidents", {"first": "2026-03"}).status_code == 200
    assert api.get(f"{API}/reports/incidents", {"first": "2026-03-01"}).status_code == 400


def test_a_time_filter_with_a_far_utc_offset_is_compared_in_utc_not_a_500(api_as, service):
    # Found by the schema fuzz test on PostgreSQL, which refuses offsets past ±15:59 that Python
    # accepts.
    api = api_as("viewer")
    make_incident(service)
    response = api.get(f"{API}/incidents", {"created_after": "2000-01-01T00:00:00+18:59"})
    assert response.status_code == 200 and response.json()["count"] == 1
    assert (
        api.get(
            f"{API}/maintenance-windows", {"active_at": "2026-01-01T00:00:00-16:24"}
        ).status_code
        == 200
    )
    response = api.get(f"{API}/incidents", {"created_before": "0001-01-01T00:00:00+18:00"})
    assert response.status_code == 400 and "created_before" in response.json()
