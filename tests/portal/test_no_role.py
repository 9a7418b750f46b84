"""No role, no data: a logged-in user without a role sees a page saying to ask a
manager for one, and the API, its schema, docs and metrics refuse them."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.incidents.factories import make_incident, make_service
from tests.portal.test_login_required import PATHS, PUBLIC_BY_TOKEN

# Pages any logged-in user may open: their own account, and the login pages (which send them on).
ROLE_FREE = {
    "/account/logout/",
    "/account/password/",
    "/account/password/done/",
    "/i18n/setlang/",
    "/account/login/",
    "/admin/login/",
}
# Public API paths (health, heartbeat pings) are covered by test_login_required.
PUBLIC_API = {"/api/health", *PUBLIC_BY_TOKEN}
# Pages whose credential is a token in the URL (on-call calendar feeds) answer by the token, not the
# role.
PAGES = [
    p for p in PATHS if not p.startswith("/api/") and p not in ROLE_FREE | PUBLIC_BY_TOKEN.keys()
]
# The push agent's API takes a host's token, never a person (tests/probes/test_agent_api.py: a
# person's token is refused, whatever the role).
AGENT_API = {"/api/v1/agent/checks", "/api/v1/agent/results"}
API = [p for p in PATHS if p.startswith("/api/") and p not in PUBLIC_API | AGENT_API]


@pytest.fixture
def nobody(client, make_user):
    client.force_login(make_user(None))
    return client


@pytest.fixture
def nobody_api(make_user):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user(None)).key}")
    return api


def test_the_walk_covers_the_dashboard_the_schema_the_docs_and_the_metrics():
    assert "/" in PAGES
    assert {"/api/metrics", "/api/schema/", "/api/docs/", "/api/redoc/", "/api/v1/"} <= set(API)


def test_every_page_answers_a_user_without_a_role_with_the_ask_for_a_role_page(nobody):
    wrong = {}
    for path in PAGES:
        response = nobody.get(path)
        if (
            response.status_code != 403
            or b"Ask a manager to give you a role" not in response.content
        ):
            wrong[path] = response.status_code
    assert wrong == {}


def test_every_api_path_refuses_a_user_without_a_role(nobody_api):
    answers = {path: nobody_api.get(path).status_code for path in API}
    assert {path: status for path, status in answers.items() if status != 403} == {}


def test_every_api_path_refuses_a_session_without_a_role(nobody):
    answers = {path: nobody.get(path).status_code for path in API}
    assert {path: status for path, status in answers.items() if status != 403} == {}


@pytest.mark.parametrize("path", sorted(ROLE_FREE - {"/account/logout/", "/i18n/setlang/"}))
def test_a_user_without_a_role_may_still_reach_their_account(nobody, path):
    assert nobody.get(path).status_code in (200, 302), path


def test_a_user_without_a_role_may_log_out(nobody):
    response = nobody.post("/account/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in nobody.session


def test_the_dashboard_shows_no_open_incident_to_a_user_without_a_role(nobody):
    make_incident(make_service(name="billing"), title="Payments double-charged")
    response = nobody.get("/")
    assert response.status_code == 403
    assert b"Payments double-charged" not in response.content
    assert b"billing" not in response.content


def test_the_ask_for_a_role_page_is_translated(nobody):
    nobody.cookies["django_language"] = "ko"
    response = nobody.get("/", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 403
    assert b"Ask a manager to give you a role" not in response.content


@pytest.mark.parametrize(
    "path", ["/api/schema/", "/api/docs/", "/api/redoc/", "/api/v1/", "/api/metrics"]
)
def test_a_viewer_still_reads_the_schema_the_docs_the_api_root_and_the_metrics(api_as, path):
    assert api_as("viewer").get(path).status_code == 200


def test_metrics_answer_the_scrape_token_without_a_user(client, db, settings):
    settings.PORTAL_METRICS_TOKEN = "s3cret-scrape-token"
    response = client.get("/api/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert response.status_code == 200
    assert b"portal_uptime_seconds" in response.content


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong-token",
        "Bearer s3cret-scrape-tokenX",
        "Bearer ",
        "Basic s3cret-scrape-token",
        "s3cret-scrape-token",
    ],
)
def test_metrics_refuse_a_wrong_scrape_token(client, db, settings, header):
    settings.PORTAL_METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/api/metrics", HTTP_AUTHORIZATION=header).status_code in (401, 403)


def test_metrics_refuse_any_bearer_token_when_no_scrape_token_is_set(client, db, settings):
    settings.PORTAL_METRICS_TOKEN = ""
    assert client.get("/api/metrics", HTTP_AUTHORIZATION="Bearer ").status_code in (401, 403)
