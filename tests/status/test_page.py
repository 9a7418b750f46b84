"""The public status page, its JSON and its feed: what they show, to whom, and what they never
show."""

import json
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from incidents import services as incidents_services
from incidents.models import EventKind, Incident, MaintenanceWindow, Notification, TimelineEvent
from status import services
from status.models import Component, ComponentState
from tests.incidents.factories import make_channel, make_contact, make_incident, make_service
from tests.status.conftest import make_page

T0 = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)


def public_incident(
    service,
    *,
    severity="sev1",
    scope="partial",
    title_en="Website unavailable",
    title_ko="웹사이트 접속 불가",
    **fields,
):
    incident = make_incident(service, severity=severity, scope=scope, **fields)
    services.mark_public(incident=incident, by=None, title_en=title_en, title_ko=title_ko)
    return incident


def data(client, page, lang="en"):
    response = client.get(reverse("status:json", args=[page.slug]), {"lang": lang})
    assert response.status_code == 200
    return json.loads(response.content)


def test_an_anonymous_visitor_sees_the_page_json_and_feed_without_logging_in(client, page):
    for name in ("page", "json", "feed", "subscribe"):
        response = client.get(reverse(f"status:{name}", args=[page.slug]))
        assert response.status_code == 200, name
    assert "웹사이트" in client.get(reverse("status:page", args=[page.slug])).content.decode()


def test_the_teams_status_pages_still_need_a_login(client, page):
    incident = make_incident(page.components.get().service)
    for url in (reverse("status:pages"), reverse("status:notice", args=[incident.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/account/login/" in response["Location"]
    response = client.post(
        reverse("status:post-update", args=[incident.pk]),
        {"status": "investigating", "text_en": "x"},
    )
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_an_unknown_page_is_404(client, db):
    assert client.get("/status/nope/").status_code == 404


def test_a_public_sev1_turns_its_component_to_major_outage_and_resolution_back_to_operational(
    client, page
):
    service = page.components.get().service
    assert data(client, page)["components"][0]["state"] == "operational"
    incident = public_incident(service)
    services.forget()
    assert data(client, page)["components"][0]["state"] == "major_outage"
    assert data(client, page)["state"] == "major_outage"
    incidents_services.resolve(incident=incident, by=None)
    services.forget()
    assert data(client, page)["components"][0]["state"] == "operational"


def test_an_incident_not_marked_public_does_not_change_the_page(client, page):
    make_incident(page.components.get().service, severity="sev1")
    assert data(client, page)["components"][0]["state"] == "operational"
    assert data(client, page)["incidents"] == []


@pytest.mark.parametrize(
    ("severity", "scope", "status", "state"),
    [
        ("sev1", "feature", "triggered", "partial_outage"),
        ("sev2", "full", "acknowledged", "major_outage"),
        ("sev2", "partial", "triggered", "partial_outage"),
        ("sev3", "partial", "triggered", "degraded"),
        ("sev4", "full", "triggered", "degraded"),
        ("sev1", "full", "mitigated", "degraded"),
    ],
)
def test_severity_scope_and_status_map_to_the_component_state(
    client, page, severity, scope, status, state
):
    public_incident(page.components.get().service, severity=severity, scope=scope, status=status)
    assert data(client, page)["components"][0]["state"] == state


def test_an_operator_override_wins_over_the_derived_state_and_clears_the_cache(
    client, page, client_as
):
    public_incident(page.components.get().service)
    assert data(client, page)["components"][0]["state"] == "major_outage"
    component = page.components.get()
    operator = client_as("operator")
    response = operator.post(
        reverse("status:component-override", args=[component.pk]),
        {"override": ComponentState.DEGRADED},
    )
    assert response.status_code == 302
    component.refresh_from_db()
    assert component.override == "degraded"
    operator.logout()
    assert data(client, page)["components"][0]["state"] == "degraded"


def test_a_viewer_cannot_override_and_a_bad_state_is_refused(client_as, page):
    component = page.components.get()
    assert (
        client_as("viewer")
        .post(
            reverse("status:component-override", args=[component.pk]), {"override": "major_outage"}
        )
        .status_code
        == 403
    )
    client_as("operator").post(
        reverse("status:component-override", args=[component.pk]), {"override": "boom"}
    )
    component.refresh_from_db()
    assert component.override == ""


def test_the_page_is_cached_briefly(client, page):
    with time_machine.travel(datetime(2026, 5, 4, 3, 0, 1, tzinfo=UTC), tick=False) as traveller:
        assert data(client, page)["components"][0]["state"] == "operational"
        incident = make_incident(page.components.get().service, severity="sev1")
        # Marked public straight in the database: no cache invalidation.
        from status.models import PublicIncident

        PublicIncident.objects.create(incident=incident, title_en="x")
        assert data(client, page)["components"][0]["state"] == "operational"
        response = client.get(reverse("status:page", args=[page.slug]))
        assert response["Cache-Control"] == f"public, max-age={services.CACHE_SECONDS}"
        traveller.shift(timedelta(seconds=services.CACHE_SECONDS + 1))
        assert data(client, page)["components"][0]["state"] == "major_outage"


def test_the_page_speaks_korean_by_default_and_english_on_request(
    client, page, django_capture_on_commit_callbacks
):
    incident = public_incident(page.components.get().service)
    services.post_update(
        incident=incident,
        by=None,
        status="investigating",
        text_ko="원인을 조사하고 있습니다.",
        text_en="We are investigating.",
    )
    korean = client.get(reverse("status:page", args=[page.slug])).content.decode()
    assert (
        "원인을 조사하고 있습니다." in korean
        and "웹사이트 접속 불가" in korean
        and "major outage" not in korean
    )
    assert '<html lang="ko">' in korean
    english = client.get(reverse("status:page", args=[page.slug]), {"lang": "en"}).content.decode()
    assert (
        "We are investigating." in english
        and "Website unavailable" in english
        and "Major outage" in english
    )
    # An update written in one language only is shown in the other too, at once (the cache is
    # dropped).
    with django_capture_on_commit_callbacks(execute=True):
        services.post_update(
            incident=incident, by=None, status="identified", text_ko="원인을 찾았습니다."
        )
    assert (
        "원인을 찾았습니다."
        in client.get(reverse("status:page", args=[page.slug]), {"lang": "en"}).content.decode()
    )


def test_the_uptime_bar_has_90_days_and_counts_outage_time(client, page):
    service = page.components.get().service
    with time_machine.travel(T0, tick=False):
        # one hour of major outage
        public_incident(
            service,
            created_at=T0 - timedelta(days=10, hours=1),
            status="resolved",
            resolved_at=T0 - timedelta(days=10),
        )
        # degraded: not an outage
        public_incident(
            service,
            severity="sev3",
            created_at=T0 - timedelta(days=5),
            status="resolved",
            resolved_at=T0 - timedelta(days=4),
        )
        # before the window
        public_incident(
            service,
            created_at=T0 - timedelta(days=200),
            status="resolved",
            resolved_at=T0 - timedelta(days=199),
        )
        component = data(client, page)["components"][0]
    days = component["uptime"]["days"]
    assert len(days) == 90
    states = {d["date"]: d["state"] for d in days}
    assert states[str((T0 - timedelta(days=10)).date())] == "major_outage"
    assert states[str((T0 - timedelta(days=5)).date())] == "degraded"
    assert sum(1 for d in days if d["state"] != "operational") == 3
    assert component["uptime"]["percent"] == pytest.approx(100 * (1 - 1 / (89 * 24 + 3)), abs=0.01)


def test_upcoming_maintenance_is_shown_without_its_internal_reason(client, page):
    service = page.components.get().service
    now = datetime.now(UTC)
    MaintenanceWindow.objects.create(
        service=service,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=2),
        reason="swap db-primary-07",
    )
    MaintenanceWindow.objects.create(
        service=service,
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(days=2),
        reason="past",
    )
    shown = data(client, page)["maintenance"]
    assert len(shown) == 1 and shown[0]["component"] == "Website"
    assert (
        "db-primary-07" not in client.get(reverse("status:page", args=[page.slug])).content.decode()
    )


def test_the_feed_is_atom_with_one_entry_per_public_update(client, page):
    incident = public_incident(page.components.get().service)
    services.post_update(incident=incident, by=None, status="investigating", text_en="Looking.")
    services.post_update(incident=incident, by=None, status="identified", text_en="Found it.")
    response = client.get(reverse("status:feed", args=[page.slug]), {"lang": "en"})
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(response.content)  # noqa: S314 (the portal's own output)
    entries = root.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 2
    assert {e.findtext("{http://www.w3.org/2005/Atom}summary") for e in entries} == {
        "Looking.",
        "Found it.",
    }


def test_a_public_update_goes_on_the_incident_timeline(page, make_user):
    user = make_user("operator")
    incident = public_incident(page.components.get().service)
    update = services.post_update(
        incident=incident, by=user, status="monitoring", text_en="Fix deployed."
    )
    event = TimelineEvent.objects.get(incident=incident, data__public_update=update.pk)
    assert event.actor_user == user and "Fix deployed." in event.message


def test_a_public_update_needs_a_public_incident_a_known_status_and_a_text(page):
    from core.errors import DomainError

    incident = make_incident(page.components.get().service)
    with pytest.raises(DomainError):
        services.post_update(incident=incident, by=None, status="investigating", text_en="x")
    services.mark_public(incident=incident, by=None, title_en="Down")
    with pytest.raises(DomainError):
        services.post_update(incident=incident, by=None, status="panicking", text_en="x")
    with pytest.raises(DomainError):
        services.post_update(
            incident=incident, by=None, status="investigating", text_en="  ", text_ko=""
        )


def test_an_operator_marks_public_and_posts_from_the_incident_page(client_as, page, client):
    incident = make_incident(page.components.get().service, severity="sev1")
    operator = client_as("operator")
    detail = operator.get(incident.get_absolute_url()).content.decode()
    assert reverse("status:mark-public", args=[incident.pk]) in detail
    response = operator.post(
        reverse("status:mark-public", args=[incident.pk]), {"title_en": "Site down"}
    )
    assert response.status_code == 302
    response = operator.post(
        reverse("status:post-update", args=[incident.pk]),
        {"status": "investigating", "text_en": "On it."},
    )
    assert response.status_code == 302
    assert "On it." in operator.get(incident.get_absolute_url()).content.decode()
    operator.logout()
    assert (
        "On it."
        in client.get(reverse("status:page", args=[page.slug]), {"lang": "en"}).content.decode()
    )


def test_a_viewer_cannot_mark_public_or_post(client_as, page):
    incident = make_incident(page.components.get().service)
    viewer = client_as("viewer")
    assert (
        viewer.post(
            reverse("status:mark-public", args=[incident.pk]), {"title_en": "x"}
        ).status_code
        == 403
    )
    assert (
        viewer.post(
            reverse("status:post-update", args=[incident.pk]),
            {"status": "investigating", "text_en": "x"},
        ).status_code
        == 403
    )
    assert not hasattr(Incident.objects.get(pk=incident.pk), "public")


def test_internal_fields_never_reach_the_page_json_or_feed(client, page, settings):
    """Acceptance 2: internal notes, responder names, webhook targets, a private service."""
    settings.BASE_URL = "https://status.example.com"
    component_service = page.components.get().service
    private = make_service("payroll-ledger-private")
    responder = get_user_model().objects.create_user(
        "kim-jiho-responder", first_name="Jiho", last_name="Kimura"
    )
    contact = make_contact("Park Minseo Oncall", user=responder, email="minseo.park@corp.example")
    hook = "https://hooks.slack.example/services/T0SECRET/B0SECRET/xoxsecretpath"
    channel = make_channel(contact, kind="slack", target=hook)
    page.channels.add(channel)

    incident = make_incident(
        component_service,
        severity="sev1",
        title="db-primary-07 OOM killed by cron",
        description="root password rotated; see vault path secret/ops/db",
        category="database unreachable",
        dedup_key="probe-internal-key",
        commander=responder,
        acknowledged_by=responder,
    )
    incident.responders.add(responder)
    incidents_services.add_note(
        incident=incident, by=responder, text="Internal note: blame the 02:00 deploy"
    )
    Notification.objects.create(
        incident=incident,
        step=0,
        condition="not_resolved",
        contact=contact,
        channel=channel,
        kind="slack",
        target=hook,
        last_error=f"HTTP 500 from {hook}",
    )
    services.mark_public(
        incident=incident, by=responder, title_en="Website unavailable", title_ko="웹사이트 장애"
    )
    services.post_update(
        incident=incident,
        by=responder,
        status="investigating",
        text_en="We are investigating.",
        text_ko="조사 중입니다.",
    )
    hidden = make_incident(private, severity="sev1", title="ledger drift")
    services.mark_public(
        incident=hidden,
        by=responder,
        title_en="Payroll ledger out of sync",
        title_ko="급여 원장 불일치",
    )
    # A second page showing the private service must not leak it onto this one.
    make_page("internal", services=[(private, "Payroll", "급여")])

    forbidden = [
        "db-primary-07",
        "root password",
        "vault",
        "database unreachable",
        "probe-internal-key",
        "Internal note",
        "blame the 02:00 deploy",
        "kim-jiho-responder",
        "Jiho",
        "Kimura",
        "Park Minseo",
        "minseo.park",
        "hooks.slack.example",
        "T0SECRET",
        "xoxsecretpath",
        "payroll",
        "Payroll",
        "급여",
        "ledger",
        "api-gw-prod",
        "sev1",
        "SEV1",
        "/incidents/",
        "acknowledge",
    ]
    bodies = {}
    for lang in ("ko", "en"):
        for name in ("page", "json", "feed"):
            response = client.get(reverse(f"status:{name}", args=[page.slug]), {"lang": lang})
            assert response.status_code == 200
            bodies[f"{name}-{lang}"] = response.content.decode()
    assert "We are investigating." in bodies["page-en"] and "조사 중입니다." in bodies["feed-ko"]
    assert "Website unavailable" in bodies["json-en"]
    for where, body in bodies.items():
        for word in forbidden:
            assert word not in body, f"{word!r} leaked into {where}"
    assert Component.objects.filter(service=private, page=page).count() == 0
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTE).count() >= 3


def test_overlapping_outages_count_once_in_the_uptime(client, page):
    service = page.components.get().service
    with time_machine.travel(T0, tick=False):
        for minutes in (0, 30):  # 10:00–11:00 and 10:30–11:30: 90 minutes down, not 120
            public_incident(
                service,
                created_at=T0 - timedelta(days=2, minutes=-minutes),
                status="resolved",
                resolved_at=T0 - timedelta(days=2, minutes=-minutes - 60),
            )
        percent = data(client, page)["components"][0]["uptime"]["percent"]
    assert percent == pytest.approx(100 * (1 - 1.5 / (89 * 24 + 3)), abs=0.01)


def test_the_page_shows_the_newest_incidents_open_ones_first_and_at_most_twenty(client, page):
    service = page.components.get().service
    now = datetime.now(UTC)
    for n in range(services.SHOWN_INCIDENTS + 5):
        public_incident(
            service,
            severity="sev4",
            title_en=f"resolved {n}",
            status="resolved",
            created_at=now - timedelta(hours=n + 2),
            resolved_at=now - timedelta(hours=n + 1),
        )
    public_incident(
        service, severity="sev4", title_en="still open", created_at=now - timedelta(days=3)
    )
    shown = data(client, page)["incidents"]
    assert len(shown) == services.SHOWN_INCIDENTS
    assert [i["title"] for i in shown[:3]] == ["still open", "resolved 0", "resolved 1"]
