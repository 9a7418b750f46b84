"""API tokens expire, say when they were last used, and managers see and revoke them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portal import services
from portal.models import TokenDetails, TokenLifetime

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def api_with(token) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.mark.parametrize(
    ("posted", "days"), [({}, 90), ({"lifetime": "30"}, 30), ({"lifetime": "365"}, 365)]
)
def test_a_token_made_on_the_token_page_expires_after_the_chosen_lifetime_90_days_by_default(
    client_as, posted, days
):
    client = client_as("viewer")
    with time_machine.travel(T0, tick=False):
        created = client.post("/account/token/create/", posted)
    details = TokenDetails.objects.get(token__user=client.user)
    assert details.token.key in created.content.decode()
    assert details.created_at == T0
    assert details.expires_at == T0 + timedelta(days=days)


def test_a_token_chosen_never_to_expire_has_no_expiry(client_as):
    client = client_as("viewer")
    client.post("/account/token/create/", {"lifetime": "never"})
    assert TokenDetails.objects.get(token__user=client.user).expires_at is None


def test_an_unknown_lifetime_is_refused_and_makes_no_token(client_as):
    client = client_as("viewer")
    assert client.post("/account/token/create/", {"lifetime": "9999"}).status_code == 400
    assert not Token.objects.filter(user=client.user).exists()


def test_an_expired_token_is_refused_with_401_token_expired(make_user):
    user = make_user("viewer")
    with time_machine.travel(T0, tick=False):
        token = services.create_api_token(user=user, lifetime=TokenLifetime.DAYS_30)
    with time_machine.travel(T0 + timedelta(days=30) - timedelta(seconds=1), tick=False):
        assert api_with(token).get("/api/v1/incidents").status_code == 200
    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        refused = api_with(token).get("/api/v1/incidents")
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_expired"
    assert refused["WWW-Authenticate"] == "Token"


def test_a_token_that_never_expires_still_works_years_later(make_user):
    with time_machine.travel(T0, tick=False):
        token = services.create_api_token(user=make_user("viewer"), lifetime=TokenLifetime.NEVER)
    with time_machine.travel(T0 + timedelta(days=5 * 365), tick=False):
        assert api_with(token).get("/api/v1/incidents").status_code == 200


def token_writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("UPDATE") and "portal_tokendetails" in q["sql"]
    ]


def test_last_used_is_written_at_most_once_a_minute(make_user):
    with time_machine.travel(T0, tick=False):
        token = services.create_api_token(user=make_user("viewer"))
        assert token.details.last_used_at is None
        api = api_with(token)
        with CaptureQueriesContext(connection) as first:
            api.get("/api/v1/incidents")
    assert len(token_writes(first)) == 1
    token.details.refresh_from_db()
    assert token.details.last_used_at == T0

    with (
        time_machine.travel(T0 + timedelta(seconds=59), tick=False),
        CaptureQueriesContext(connection) as soon,
    ):
        for _ in range(3):
            assert api.get("/api/v1/incidents").status_code == 200
    assert token_writes(soon) == []
    token.details.refresh_from_db()
    assert token.details.last_used_at == T0

    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        api.get("/api/v1/incidents")
    token.details.refresh_from_db()
    assert token.details.last_used_at == T0 + timedelta(seconds=61)


def test_a_manager_sees_every_working_token_without_its_key(client_as, make_user):
    alice, bob, carol = (
        make_user("operator", "alice"),
        make_user("viewer", "bob"),
        make_user("viewer", "carol"),
    )
    with time_machine.travel(T0, tick=False):
        alive = services.create_api_token(user=alice, lifetime=TokenLifetime.NEVER)
        services.create_api_token(user=bob, lifetime=TokenLifetime.DAYS_30)
    legacy = Token.objects.create(user=carol)  # made before tokens had details
    page = client_as("manager").get("/account/tokens/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "alice" in html and "carol" in html
    assert "bob" not in html  # expired long ago
    assert alive.key not in html and legacy.key not in html
    assert 'action="/account/tokens/revoke/"' in html and "csrfmiddlewaretoken" in html


def test_a_manager_revokes_a_token_and_it_stops_working_at_once(client_as, make_user):
    token = services.create_api_token(user=make_user("operator", "alice"))
    api = api_with(token)
    assert api.get("/api/v1/incidents").status_code == 200
    manager = client_as("manager")
    answer = manager.post("/account/tokens/revoke/", {"user": token.user_id})
    assert answer.status_code == 302 and answer["Location"] == "/account/tokens/"
    assert not Token.objects.filter(pk=token.pk).exists()
    assert not TokenDetails.objects.filter(token_id=token.pk).exists()
    assert api.get("/api/v1/incidents").status_code == 401


def test_revoking_needs_the_csrf_token(make_user):
    from django.test import Client

    token = services.create_api_token(user=make_user("operator", "alice"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("manager"))
    assert client.post("/account/tokens/revoke/", {"user": token.user_id}).status_code == 403
    assert Token.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_below_manager_the_tokens_page_and_revoking_are_refused(client_as, make_user, role):
    token = services.create_api_token(user=make_user("manager", "boss"))
    client = client_as(role)
    assert client.get("/account/tokens/").status_code == 403
    assert client.post("/account/tokens/revoke/", {"user": token.user_id}).status_code == 403
    assert Token.objects.filter(pk=token.pk).exists()
    assert 'href="/account/tokens/"' not in client.get("/").content.decode()


def test_managers_find_the_tokens_page_in_the_menu(client_as):
    assert 'href="/account/tokens/"' in client_as("manager").get("/").content.decode()


def test_the_admin_does_not_list_token_keys(client, make_user):
    token = services.create_api_token(user=make_user("viewer"))
    client.force_login(make_user("admin"))
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert token.key not in client.get("/admin/").content.decode()
