import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import Availability, EventKind, Incident, Status
from incidents.views import PAGE_SIZE
from tests.incidents.factories import make_contact, make_incident, make_service, make_tier

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def service():
    return make_service("Data hub")


def open_one(service, **extra):
    incident, _created = services.open_incident(
        service=service, title="Disk almost full", severity="sev3", **extra
    )
    return incident


def detail_url(incident):
    return reverse("incidents:detail", args=[incident.pk])


# Declare -------------------------------------------------------------------


def test_an_operator_declares_an_incident_through_the_real_form_with_csrf(make_user, service):
    user = make_user("operator")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get(reverse("incidents:declare"))
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    form = {
        "service": service.pk,
        "title": "Prediction API answers 502",
        "severity": "sev1",
        "scope": "full",
        "category": "API down",
        "description": "Every request fails.",
        "impact_started_at": "",
    }

    # no token, no incident
    assert browser.post(reverse("incidents:declare"), form).status_code == 403
    assert not Incident.objects.exists()

    response = browser.post(reverse("incidents:declare"), {**form, "csrfmiddlewaretoken": token})
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(incident)
    assert (incident.severity, incident.source, incident.scope) == ("sev1", "manual", "full")
    assert incident.events.filter(kind=EventKind.CREATED, actor_user=user).exists()
    assert "Prediction API answers 502" in browser.get(response["Location"]).content.decode()


def test_the_declare_form_shows_field_errors_for_bad_input(client_as, service):
    client = client_as("operator")
    response = client.post(
        reverse("incidents:declare"),
        {
            "service": service.pk,
            "title": "",
            "severity": "sev9",
            "scope": "full",
            "impact_started_at": "yesterday",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"title", "severity", "impact_started_at"} <= set(errors)
    assert not Incident.objects.exists()


def test_a_viewer_cannot_declare_or_change_incidents(client_as, service):
    client = client_as("viewer")
    incident = open_one(service)
    assert client.get(reverse("incidents:declare")).status_code == 403
    assert (
        client.post(
            reverse("incidents:declare"),
            {"service": service.pk, "title": "x", "severity": "sev1", "scope": "full"},
        ).status_code
        == 403
    )
    for name in ("acknowledge", "mitigate", "resolve", "close", "reopen"):
        assert client.post(reverse(f"incidents:{name}", args=[incident.pk])).status_code == 403, (
            name
        )
    assert (
        client.post(reverse("incidents:add-note", args=[incident.pk]), {"text": "hi"}).status_code
        == 403
    )
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    page = client.get(detail_url(incident)).content.decode()
    assert "Acknowledge" not in page and "Add note" not in page
    assert (
        reverse("incidents:declare") not in client.get(reverse("incidents:list")).content.decode()
    )


# Detail and transitions ------------------------------------------------------


def test_the_detail_page_offers_the_transitions_allowed_now(client_as, service):
    client = client_as("operator")
    incident = open_one(service)
    page = client.get(detail_url(incident)).content.decode()
    for name in ("acknowledge", "mitigate", "resolve"):
        assert reverse(f"incidents:{name}", args=[incident.pk]) in page
    assert reverse("incidents:close", args=[incident.pk]) not in page
    assert "Opened: Disk almost full" in page  # the timeline

    services.resolve(incident=incident, by=None)
    page = client.get(detail_url(incident)).content.decode()
    assert reverse("incidents:close", args=[incident.pk]) in page
    assert reverse("incidents:reopen", args=[incident.pk]) in page
    assert reverse("incidents:resolve", args=[incident.pk]) not in page


def test_an_operator_moves_an_incident_through_its_statuses(client_as, service):
    client = client_as("operator")
    incident = open_one(service)
    for name, status in [
        ("acknowledge", "acknowledged"),
        ("mitigate", "mitigated"),
        ("resolve", "resolved"),
        ("close", "closed"),
    ]:
        data = {"summary": "Rolled back the deploy."} if name == "resolve" else {}
        response = client.post(reverse(f"incidents:{name}", args=[incident.pk]), data)
        assert response.status_code == 302
        incident.refresh_from_db()
        assert incident.status == status
    client.post(
        reverse("incidents:reopen", args=[incident.pk]), {"reason": "Came back after the deploy"}
    )
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert incident.events.filter(
        kind=EventKind.STATUS, message="Came back after the deploy"
    ).exists()


def test_a_transition_not_allowed_now_shows_a_message_not_an_error_page(client_as, service):
    client = client_as("operator")
    incident = open_one(service)
    response = client.post(reverse("incidents:close", args=[incident.pk]), follow=True)
    assert response.status_code == 200
    assert "Cannot close" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_transitions_need_post(client_as, service):
    client = client_as("operator")
    incident = open_one(service)
    assert client.get(reverse("incidents:resolve", args=[incident.pk])).status_code == 405
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_the_one_click_acknowledge_link_asks_first_and_acknowledges_on_post(client_as, service):
    client = client_as("operator")
    incident = open_one(service)
    url = reverse("incidents:acknowledge", args=[incident.pk])
    page = client.get(url)
    assert page.status_code == 200 and "I am on it" in page.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED  # a mail scanner following the link changes nothing

    assert client.post(url).status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED and incident.acknowledged_by == client.user
    assert "already" in client.get(url).content.decode()


def test_a_viewer_following_the_acknowledge_link_cannot_acknowledge(client_as, service):
    client = client_as("viewer")
    incident = open_one(service)
    url = reverse("incidents:acknowledge", args=[incident.pk])
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 403


def test_notes_are_added_and_an_empty_note_is_a_form_error(client_as, service):
    client = client_as("operator")
    incident = open_one(service)
    url = reverse("incidents:add-note", args=[incident.pk])
    response = client.post(url, {"text": "Cleared old logs, 40 % free now."})
    assert response.status_code == 302
    assert incident.events.filter(kind=EventKind.NOTE, actor_user=client.user).count() == 1
    assert "Cleared old logs" in client.get(detail_url(incident)).content.decode()

    response = client.post(url, {"text": "   "})
    assert response.status_code == 400
    assert response.context["note_form"].errors
    assert incident.events.filter(kind=EventKind.NOTE).count() == 1


def test_a_user_without_a_role_sees_no_incident_pages(client, make_user, service):
    client.force_login(make_user(None))
    incident = open_one(service)
    for url in (
        reverse("incidents:list"),
        detail_url(incident),
        reverse("incidents:who-to-call"),
        reverse("incidents:acknowledge", args=[incident.pk]),
    ):
        assert client.get(url).status_code == 403, url


def test_pages_of_a_missing_incident_are_404(client_as):
    client = client_as("operator")
    assert client.get(reverse("incidents:detail", args=[424242])).status_code == 404
    assert client.post(reverse("incidents:resolve", args=[424242])).status_code == 404


# List -----------------------------------------------------------------------


def test_the_list_shows_open_incidents_first_and_filters(client_as, service):
    client = client_as("viewer")
    now = timezone.now()
    other = make_service("Internal API")
    closed = make_incident(service, title="Closed yesterday", status=Status.CLOSED, created_at=now)
    old_open = make_incident(
        service, title="Old open", severity="sev3", created_at=now - timedelta(days=5)
    )
    api_down = make_incident(
        other, title="API down", severity="sev1", created_at=now - timedelta(days=1)
    )

    def listed(**params):
        return list(client.get(reverse("incidents:list"), params).context["page"].object_list)

    assert listed() == [api_down, old_open, closed]
    assert listed(status="open") == [api_down, old_open]
    assert listed(status="closed") == [closed]
    assert listed(severity="sev1") == [api_down]
    assert listed(service=other.pk) == [api_down]
    assert listed(q="old") == [old_open]
    day = (now - timedelta(days=5)).date().isoformat()
    assert listed(date_from=day, date_to=day) == [old_open]


def test_bad_list_filters_show_errors_instead_of_failing(client_as, service):
    client = client_as("viewer")
    make_incident(service)
    response = client.get(
        reverse("incidents:list"), {"severity": "sev9", "date_from": "soon", "page": "x"}
    )
    assert response.status_code == 200
    assert {"severity", "date_from"} <= set(response.context["form"].errors)


def test_the_list_runs_a_constant_number_of_queries(
    client_as, service, django_assert_max_num_queries
):
    client = client_as("viewer")
    counts = []
    for total in (3, 60):
        for _ in range(total - Incident.objects.count()):
            make_incident(make_service())
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("incidents:list")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(counts[1]):
        client.get(reverse("incidents:list"), {"status": "open", "page": 2})


def test_a_page_of_the_list_skips_to_its_rows_by_id_alone(client_as, service):
    # OFFSET over the list's order with every column and the service joined made SQLite read and
    # join each skipped row: a deep page of 100 000 incidents took 120 ms in that query alone.
    client = client_as("viewer")
    now = timezone.now()
    made = [
        make_incident(service, title=f"i{n}", created_at=now - timedelta(minutes=n))
        for n in range(PAGE_SIZE + 3)
    ]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("incidents:list"), {"page": 2})
    assert list(response.context["page"].object_list) == made[PAGE_SIZE:]
    (skipping,) = [q["sql"] for q in queries.captured_queries if "OFFSET" in q["sql"]]
    assert skipping.startswith(
        'SELECT "incidents_incident"."id" AS "pk" FROM "incidents_incident" '
    )
    assert "JOIN" not in skipping


# Who to call ----------------------------------------------------------------


@pytest.fixture
def on_call():
    ops, devs, management = (
        make_tier(1, "Operations"),
        make_tier(2, "Developers"),
        make_tier(3, "Management"),
    )
    lead = make_contact(
        "Mina Lead",
        tier=ops,
        availability=Availability.ALWAYS,
        phone="010-0000-0101",
        chat_handle="@mina",
    )
    devops = make_contact(
        "Jun Devops",
        tier=ops,
        availability=Availability.BUSINESS_HOURS,
        work_start=time(9),
        work_end=time(18),
        work_days=[0, 1, 2, 3, 4],
        phone="010-0000-0102",
    )
    dev = make_contact(
        "Hana Dev", tier=devs, availability=Availability.BUSINESS_HOURS, work_days=[0, 1, 2, 3, 4]
    )
    cto = make_contact("Yuna Cto", tier=management, availability=Availability.EMERGENCY_ONLY)
    make_contact("Retired Person", tier=ops, active=False)
    return {"lead": lead, "devops": devops, "dev": dev, "cto": cto}


def test_who_to_call_shows_business_hours_contacts_on_tuesday_at_ten(client_as, on_call, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    client = client_as("viewer")
    with time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=SEOUL), tick=False):  # a Tuesday
        page = client.get(reverse("incidents:who-to-call")).content.decode()
    assert "Jun Devops" in page and "Hana Dev" in page and "Mina Lead" in page
    assert 'href="tel:010-0000-0102"' in page
    assert f'href="mailto:{on_call["lead"].email}"' in page
    assert "@mina" in page
    assert "Retired Person" not in page


def test_who_to_call_hides_business_hours_contacts_at_22_and_flags_emergency_only(
    client_as, on_call, settings
):
    settings.TIME_ZONE = "Asia/Seoul"
    client = client_as("viewer")
    with time_machine.travel(datetime(2026, 3, 3, 22, 0, tzinfo=SEOUL), tick=False):
        response = client.get(reverse("incidents:who-to-call"))
    page = response.content.decode()
    assert "Jun Devops" not in page and "Hana Dev" not in page
    assert "Mina Lead" in page
    assert "Yuna Cto" in page and "SEV1 only" in page
    tier_2 = next(row for row in response.context["rows"] if row["tier"].level == 2)
    assert tier_2["contacts"] == [] and tier_2["off_duty"] == 1


def test_who_to_call_uses_the_portal_time_zone(client_as, on_call, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    client = client_as("viewer")
    # 02:00 UTC on Tuesday is 11:00 in Seoul: working hours there.
    with time_machine.travel(datetime(2026, 3, 3, 2, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        page = client.get(reverse("incidents:who-to-call")).content.decode()
    assert "Jun Devops" in page


# Navigation and dashboard -----------------------------------------------------


def test_the_navigation_links_to_incidents_and_who_to_call(client_as):
    page = client_as("viewer").get(reverse("dashboard")).content.decode()
    assert reverse("incidents:list") in page and reverse("incidents:who-to-call") in page


def test_the_dashboard_shows_open_incidents_by_severity_with_their_age(client_as, service):
    client = client_as("viewer")
    now = timezone.now()
    make_incident(
        service, title="Everything is down", severity="sev1", created_at=now - timedelta(hours=3)
    )
    make_incident(
        service, title="Slow reports", severity="sev3", created_at=now - timedelta(minutes=20)
    )
    make_incident(service, title="Fixed already", severity="sev1", status=Status.RESOLVED)
    response = client.get(reverse("dashboard"))
    panel = next(
        p["context"]
        for p in response.context["panels"]
        if p["template"] == "incidents/_dashboard_panel.html"
    )
    counts = {row["severity"]: row["count"] for row in panel["open_by_severity"]}
    assert counts == {"sev1": 1, "sev2": 0, "sev3": 1, "sev4": 0}
    page = response.content.decode()
    assert "Everything is down" in page and "Slow reports" in page and "Fixed already" not in page
    assert "3\xa0hours" in page
