import pytest
from rest_framework.authtoken.models import Token


def test_the_login_page_logs_in_and_shows_the_dashboard(client, make_user):
    make_user("viewer", username="alice")
    response = client.post(
        "/account/login/", {"username": "alice", "password": "pw-123456!"}, follow=True
    )
    assert response.status_code == 200
    assert b"Portal health" in response.content
    assert response.context["user"].username == "alice"


def test_a_wrong_password_shows_the_form_again(client, make_user):
    make_user("viewer", username="alice")
    response = client.post("/account/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_the_language_switch_shows_korean(client_as):
    client = client_as("viewer")
    response = client.post("/i18n/setlang/", {"language": "ko", "next": "/"}, follow=True)
    assert response.status_code == 200
    assert "대시보드".encode() in response.content
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert b"Dashboard" in client.get("/").content


def test_logout_is_a_post_with_csrf(client_as):
    client = client_as("viewer")
    assert client.post("/account/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_user_creates_replaces_and_revokes_an_api_token(client_as):
    client = client_as("viewer")
    assert b"You have no token yet" in client.get("/account/token/").content
    created = client.post("/account/token/create/")
    first = Token.objects.get(user=client.user).key
    assert first.encode() in created.content
    assert first.encode() not in client.get("/account/token/").content  # shown once only
    client.post("/account/token/create/")
    second = Token.objects.get(user=client.user).key
    assert second != first
    client.post("/account/token/revoke/")
    assert not Token.objects.filter(user=client.user).exists()


def test_token_pages_refuse_get_for_changes(client_as):
    client = client_as("viewer")
    assert client.get("/account/token/create/").status_code == 405


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/", "/api/schema/"])
def test_api_docs_are_served_locally_to_logged_in_users(client_as, path):
    response = client_as("viewer").get(path)
    assert response.status_code == 200
    if path != "/api/schema/":
        assert b"cdn" not in response.content.lower()


def test_the_navigation_shows_only_the_pages_a_role_may_open(client_as):
    viewer = client_as("viewer").get("/").content.decode()
    assert 'href="/incidents/reports/"' not in viewer
    assert 'href="/incidents/"' in viewer


def test_managers_see_the_reports_link(client_as):
    assert 'href="/incidents/reports/"' in client_as("manager").get("/").content.decode()


def test_the_favicon_is_served_to_everyone(client):
    # Browsers ask for it on every page, the admin's and the API docs' too; a 404 logged a warning
    # each time.
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
