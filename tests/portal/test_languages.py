"""Korean and English: the switch is remembered per user; e-mails speak the recipient's language;
API errors follow Accept-Language; dates are formatted for the language."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from checklists import services as checklist_services
from checklists.models import Run, RunStatus
from incidents import notify, services
from incidents.escalation import escalate_due
from portal.models import UserPreference
from tests.checklists.factories import make_template
from tests.incidents.factories import make_contact, make_policy, make_service, make_tier

pytestmark = pytest.mark.django_db

PASSWORD = "pw-123456!"
T0 = datetime(2026, 3, 3, 2, 5, 9, tzinfo=UTC)


def page_language(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def log_in(user) -> Client:
    browser = Client()
    response = browser.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    browser.login_response = response
    return browser


def switch(browser: Client, language: str):
    return browser.post(reverse("set_language"), {"language": language, "next": "/"})


def korean(message: str, **params) -> str:
    """The catalog's Korean for `message`; fails while the catalog lacks it."""
    with translation.override("ko"):
        text = translation.gettext(message)
    assert text != message, f"no Korean translation yet for {message!r}"
    return text % params if params else text


def test_a_user_who_switched_to_korean_gets_korean_again_on_a_fresh_browser_after_logging_out(
    make_user,
):
    alice = make_user("viewer", username="alice")
    browser = log_in(alice)
    assert page_language(browser.get("/")) == "en"

    assert switch(browser, "ko").status_code == 302
    assert page_language(browser.get("/")) == "ko"
    assert UserPreference.objects.get(user=alice).language == "ko"
    browser.post(reverse("logout"))

    fresh = log_in(alice)
    # The login answer already sets the cookie, so the login page speaks Korean next time too.
    assert fresh.login_response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ko"
    page = fresh.get("/")
    assert page_language(page) == "ko"
    assert "대시보드" in page.content.decode()


def test_another_user_is_not_affected(make_user):
    switch(log_in(make_user("viewer", username="alice")), "ko")
    bob = log_in(make_user("viewer", username="bob"))
    assert page_language(bob.get("/")) == "en"
    assert not UserPreference.objects.filter(user__username="bob").exists()


def test_the_stored_choice_beats_the_cookie_another_person_left_in_the_browser(make_user):
    switch(log_in(make_user("viewer", username="alice")), "ko")
    shared = Client()
    shared.cookies[settings.LANGUAGE_COOKIE_NAME] = "ko"
    bob = make_user("viewer", username="bob")
    UserPreference.objects.create(user=bob, language="en")
    shared.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert page_language(shared.get("/")) == "en"


def test_switching_on_the_login_page_works_signed_out_and_is_kept_after_logging_in(make_user):
    carol = make_user("viewer", username="carol")
    browser = Client()
    response = switch(browser, "ko")
    assert response.status_code == 302 and response.url == "/"
    assert page_language(browser.get(reverse("login"))) == "ko"
    browser.post(reverse("login"), {"username": "carol", "password": PASSWORD})
    assert UserPreference.objects.get(user=carol).language == "ko"


def test_without_a_choice_the_browser_language_is_used(make_user):
    browser = log_in(make_user("viewer"))
    assert page_language(browser.get("/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9")) == "ko"


def test_an_unknown_language_is_ignored(make_user):
    user = make_user("viewer")
    browser = log_in(user)
    switch(browser, "xx")
    assert page_language(browser.get("/")) == "en"
    assert not UserPreference.objects.filter(user=user).exists()


# API errors ------------------------------------------------------------------------


def test_api_field_errors_follow_accept_language(api_as):
    api = api_as("operator")
    response = api.post("/api/v1/incidents", {}, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 400
    assert response.json()["title"] == [korean("This field is required.")]


def test_api_domain_errors_follow_accept_language(api_as):
    api = api_as("operator")
    incident, _ = services.open_incident(
        service=make_service("api"), title="API down", severity="sev2"
    )
    services.resolve(incident=incident, by=api.user)
    response = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 409
    status = korean("resolved")
    expected = korean(
        "Cannot %(action)s an incident that is %(status)s.",
        action=korean("acknowledge"),
        status=status,
    )
    assert response.json()["detail"] == expected


# E-mails --------------------------------------------------------------------------


def test_the_overdue_checklist_reminder_is_written_in_each_recipients_language(
    make_user, mailoutbox
):
    tier = make_tier(1, "Shift")
    korean_user = make_user("operator", username="minji")
    UserPreference.objects.create(user=korean_user, language="ko")
    make_contact("Minji", tier=tier, email="minji@example.com", user=korean_user)
    make_contact("Sam", tier=tier, email="sam@example.com")
    template = make_template("Daily", assignee_tier=tier)
    run = checklist_services.start_run(template=template, by=None)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.OVERDUE, due_at=T0)

    assert checklist_services.remind_overdue(now=T0 + timedelta(hours=1)) == 1
    by_to = {tuple(m.to): m for m in mailoutbox}
    assert by_to[("sam@example.com",)].subject == f"Overdue checklist: {run.name}"
    assert by_to[("minji@example.com",)].subject == korean(
        "Overdue checklist: %(name)s", name=run.name
    )
    # TIME_ZONE is UTC in tests
    assert "2026년 3월 3일 02:05:09" in by_to[("minji@example.com",)].body


def test_an_incident_e_mail_is_written_in_the_contacts_language(make_user, mailoutbox):
    tier = make_tier(1, "Operations")
    korean_user = make_user("operator", username="jisoo")
    UserPreference.objects.create(user=korean_user, language="ko")
    make_contact("Jisoo", tier=tier, email="jisoo@example.com", user=korean_user)
    make_contact("Sam", tier=tier, email="sam@example.com")
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}])
    with time_machine.travel(T0, tick=False):
        services.open_incident(service=make_service("api"), title="API down", severity="sev1")
        escalate_due(now=T0)
        notify.retry_notifications(now=T0)
    bodies = {m.to[0]: m.body for m in mailoutbox}
    assert "Severity: SEV1 · critical" in bodies["sam@example.com"]
    assert (
        korean("Severity: %(severity)s", severity=korean("SEV1 · critical"))
        in bodies["jisoo@example.com"]
    )


# Dates ----------------------------------------------------------------------------


def test_a_page_shows_dates_in_the_korean_format_under_korean(client_as):
    with time_machine.travel(T0, tick=False):
        incident, _ = services.open_incident(
            service=make_service("api"), title="API down", severity="sev2"
        )
    client = client_as("viewer")
    english = client.get(incident.get_absolute_url()).content.decode()
    assert "3 Mar 2026, 02:05:09" in english
    page = client.get(incident.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "2026년 3월 3일 02:05:09" in page
