"""Hardening (issue 8): login throttling, passwords, cookies and headers, the
Content-Security-Policy, API tokens, secrets never shown back, heartbeat
tokens, request size limits and the file roots."""

import logging
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backups.kinds import pg_source
from backups.models import BackupTarget
from incidents import notify
from incidents import services as incident_services
from incidents.escalation import escalate_due
from incidents.models import Notification, NotificationChannel, TimelineEvent
from probes import kinds
from probes.models import Probe
from tests.incidents.factories import (
    make_channel,
    make_contact,
    make_policy,
    make_service,
    make_tier,
)
from tests.portal.test_login_required import PATHS
from tests.probes.factories import make_probe

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-123456!"  # tests/conftest.py make_user
T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


# Login throttling ------------------------------------------------------------------


def log_in(client, username="alice", password=PASSWORD, path="/account/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def fail(client, times, username="alice", path="/account/login/"):
    for _ in range(times):
        response = log_in(client, username, "wrong", path)
        assert response.status_code == 200, response.status_code


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_n_minus_one_failures_still_let_the_right_password_in(client, make_user, settings):
    make_user("viewer", username="alice")
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client).status_code == 302
    assert logged_in(client)


def test_the_nth_failure_locks_out_even_the_right_password_until_the_cool_off_ends(
    client, make_user, settings
):
    make_user("viewer", username="alice")
    with time_machine.travel(T0, tick=False):
        fail(client, settings.AXES_FAILURE_LIMIT - 1)
        locked = log_in(client, password="wrong")
        assert locked.status_code == 429
        page = locked.content.decode()
        assert "Too many failed logins" in page
        assert f"for {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in page
        assert 'name="username"' in page  # the login page itself, not a bare text

        refused = log_in(client)
        assert refused.status_code == 429 and "Too many failed logins" in refused.content.decode()
        assert not logged_in(client)
    with time_machine.travel(T0 + settings.AXES_COOLOFF_TIME - timedelta(seconds=5), tick=False):
        # trying while locked does not extend the lock either
        assert log_in(client).status_code == 429
    with time_machine.travel(T0 + settings.AXES_COOLOFF_TIME + timedelta(seconds=1), tick=False):
        assert log_in(client).status_code == 302
        assert logged_in(client)


def test_the_lock_out_is_per_username_and_address(client, make_user, settings):
    make_user("viewer", username="alice")
    make_user("viewer", username="bob")
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, password="wrong").status_code == 429
    assert log_in(client, "bob").status_code == 302  # another account from the same address
    client.logout()
    assert log_in(client, REMOTE_ADDR="192.0.2.7").status_code == 302  # alice from elsewhere


def spray(client, times, **extra):
    for n in range(times):
        response = log_in(client, f"user-{n}", "wrong", **extra)
        assert response.status_code == 200, (n, response.status_code)


def test_spraying_one_password_over_many_usernames_locks_the_address_out(
    client, make_user, settings
):
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT == 30
    make_user("viewer", username="alice")
    with time_machine.travel(T0, tick=False):
        spray(client, settings.LOGIN_ADDRESS_FAILURE_LIMIT - 1)
        assert log_in(client, "user-last", "wrong").status_code == 429
        assert log_in(client).status_code == 429  # even a right password, for anyone, from there
        assert not logged_in(client)
        # another address is not locked
        assert log_in(client, REMOTE_ADDR="192.0.2.7").status_code == 302
    client.logout()
    with time_machine.travel(T0 + settings.AXES_COOLOFF_TIME + timedelta(seconds=1), tick=False):
        assert log_in(client).status_code == 302


def test_a_sprayer_cannot_reset_the_address_count_by_logging_in_to_an_account_of_their_own(
    client, make_user, settings
):
    make_user("viewer", username="mallory")
    spray(client, settings.LOGIN_ADDRESS_FAILURE_LIMIT - 1)
    assert log_in(client, "mallory").status_code == 302
    client.logout()
    assert log_in(client, "user-last", "wrong").status_code == 429


def test_the_address_limit_is_a_setting(client, make_user, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    spray(client, 7)
    assert log_in(client, "user-last", "wrong").status_code == 429


def test_the_lock_out_message_is_translated(client, make_user, settings):
    make_user("viewer", username="alice")
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    locked = log_in(client, password="wrong", HTTP_ACCEPT_LANGUAGE="ko")
    assert locked.status_code == 429
    assert '<html lang="ko">' in locked.content.decode()


def test_the_admin_login_is_throttled_too(client, make_user, settings):
    make_user("admin", username="root")
    fail(client, settings.AXES_FAILURE_LIMIT - 1, username="root", path="/admin/login/")
    assert log_in(client, "root", "wrong", "/admin/login/").status_code == 429
    assert log_in(client, "root", PASSWORD, "/admin/login/").status_code == 429
    assert log_in(client, "root", PASSWORD, "/account/login/").status_code == 429
    assert not logged_in(client)


def test_api_tokens_keep_working_while_the_password_login_is_locked(client, make_user, settings):
    user = make_user("viewer", username="alice")
    key = Token.objects.create(user=user).key
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, password="wrong").status_code == 429
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/incidents").status_code == 200


def test_behind_the_proxy_failures_count_against_the_address_the_proxy_saw(
    client, make_user, settings
):
    settings.HTTPS = True
    make_user("viewer", username="alice")
    # The proxy appends the real address; whatever the client wrote before it is ignored.
    for n in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(
            "/account/login/",
            {"username": "alice", "password": "wrong"},
            secure=True,
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.9",
        )
    assert response.status_code == 429
    other = client.post(
        "/account/login/",
        {"username": "alice", "password": PASSWORD},
        secure=True,
        HTTP_X_FORWARDED_FOR="203.0.113.10",
    )
    assert other.status_code == 302


# Passwords, cookies, headers -------------------------------------------------------


def test_password_validators_refuse_a_weak_new_password(client_as):
    client = client_as("viewer")
    for weak in ("password", "12345678", "short"):
        response = client.post(
            "/account/password/",
            {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["new_password2"]
    client.user.refresh_from_db()
    assert client.user.check_password(PASSWORD)
    names = {v["NAME"].rsplit(".", 1)[1] for v in django_settings.AUTH_PASSWORD_VALIDATORS}
    assert {
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
        "UserAttributeSimilarityValidator",
    } <= names


def test_pages_carry_the_security_headers(client_as):
    response = client_as("viewer").get("/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"


def test_the_session_and_csrf_cookies_are_http_only_where_they_can_be_and_same_site(
    client, make_user
):
    make_user("viewer", username="alice")
    page = client.get("/account/login/")
    assert page.cookies["csrftoken"]["samesite"] == "Lax"
    response = log_in(client)
    session = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session["httponly"] and session["samesite"] == "Lax"


def production_env(tmp_path, **extra):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))}
    environ.update(
        {
            "PORTAL_HTTPS": "true",
            "PORTAL_SECRET_KEY": "k" * 20 + uuid.uuid4().hex + uuid.uuid4().hex,
            "PORTAL_ALLOWED_HOSTS": "ops.example.com",
            "PORTAL_DATA_DIR": str(tmp_path),
            **extra,
        }
    )
    return environ


def test_check_deploy_is_clean_in_production_mode_with_secure_cookies(tmp_path):
    environ = production_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shown = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
            "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, "
            "s.SECURE_HSTS_SECONDS > 0)",
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.stdout.split()[-5:] == ["True"] * 5, shown.stdout + shown.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORTAL_LOGIN_FAILURE_LIMIT", "0"),
        ("PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT", "many"),
        ("PORTAL_LOGIN_COOLOFF_MINUTES", "soon"),
        ("PORTAL_MAX_UPLOAD_MB", "0"),
    ],
)
def test_a_bad_throttling_or_size_variable_stops_start_up_naming_it(tmp_path, variable, value):
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**production_env(tmp_path), variable: value},
        timeout=120,
    )
    assert done.returncode == 2 and variable in done.stderr


# Content-Security-Policy -----------------------------------------------------------

OURS = [
    Path(c.path)
    for c in apps.get_app_configs()
    if Path(c.path).is_relative_to(ROOT) and not Path(c.path).is_relative_to(ROOT / ".venv")
]
TEMPLATE_DIRS = [ROOT / "templates"] + [
    path / "templates" for path in OURS if (path / "templates").is_dir()
]
INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>", re.I
)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S)
INLINE_STYLE = re.compile(r"<style\b|<[a-z][^>]*\sstyle\s*=", re.I | re.S)


def test_no_template_has_inline_script_handlers_or_styles():
    found = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            text = path.read_text()
            for name, pattern in (
                ("script", INLINE_SCRIPT),
                ("handler", INLINE_HANDLER),
                ("style", INLINE_STYLE),
            ):
                found += [
                    f"{path.relative_to(ROOT)}: inline {name}" for _ in pattern.finditer(text)
                ]
            if "javascript:" in text:
                found.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert found == []
    assert ROOT / "templates" in TEMPLATE_DIRS


def test_the_template_check_would_catch_inline_script():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert INLINE_SCRIPT.search("<script defer>x()</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert not INLINE_SCRIPT.search('<script type="application/json" id="d">{}</script>')
    assert INLINE_HANDLER.search('<button class="x" onclick="go()">')
    assert INLINE_STYLE.search('<p style="color: red">')


# The portal's own pages (admin and API pages are Django's and DRF's: a sample of them).
PAGES = [p for p in PATHS if not p.startswith(("/api/", "/admin/"))] + [
    "/admin/",
    "/admin/incidents/incident/",
    "/admin/probes/probe/add/",
    "/admin/axes/accessattempt/",
    "/api/docs/",
    "/api/redoc/",
]


def test_every_page_carries_the_policy_and_no_inline_script(make_user):
    from django.test import Client

    # Sample ids ("x") may well be refused; whatever page answers must carry the policy.
    client = Client(raise_request_exception=False)
    client.force_login(make_user("admin"))
    checked = 0
    for path in PAGES:
        response = client.get(path)
        assert "script-src 'self'" in response.get("Content-Security-Policy", ""), path
        if response.get("Content-Type", "").startswith("text/html"):
            assert not INLINE_SCRIPT.search(response.content.decode(errors="replace")), path
            checked += 1
    assert checked > 40


def test_the_api_docs_run_their_scripts_from_files_and_only_relax_styles(client_as):
    client = client_as("viewer")
    for path in ("/api/docs/", "/api/redoc/"):
        response = client.get(path)
        assert response.status_code == 200
        assert not INLINE_SCRIPT.search(response.content.decode()), path
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy + ";"
        assert "style-src 'self' 'unsafe-inline'" in policy
        assert "worker-src blob:" in policy  # Redoc's search worker
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_moved_scripts_are_served_as_static_files(client_as):
    from django.contrib.staticfiles import finders

    assert finders.find("incidents/postmortem.js")
    assert finders.find("checklists/run.js")


# API tokens ------------------------------------------------------------------------


def test_a_token_is_shown_once_and_a_revoked_token_gets_401(client_as):
    client = client_as("viewer")
    created = client.post("/account/token/create/")
    key = Token.objects.get(user=client.user).key
    assert key in created.content.decode()
    assert "no-store" in created["Cache-Control"]
    page = client.get("/account/token/").content.decode()
    assert key not in page and key[:4] in page
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/incidents").status_code == 200
    client.post("/account/token/revoke/")
    assert api.get("/api/v1/incidents").status_code == 401


# Secrets are never shown back ---------------------------------------------------------

HOOK = "https://hooks.slack.com/services/T0/B0/SECRETHOOK"
DSN = "postgres://app:SECRETPW@db.example:5432/prod"


def test_webhook_channels_are_written_in_full_and_read_back_masked(api_as, make_user):
    api = api_as("manager")
    contact = make_contact(tier=make_tier(1))
    response = api.post(
        "/api/v1/channels", {"contact": contact.pk, "kind": "slack", "target": HOOK}, format="json"
    )
    assert response.status_code == 201, response.content
    shown = response.json()
    assert shown["target"] == "https://hooks.slack.com/•••"
    channel = NotificationChannel.objects.get(pk=shown["id"])
    assert channel.target == HOOK
    assert "SECRETHOOK" not in api.get("/api/v1/channels").content.decode()
    assert "SECRETHOOK" not in api.get(f"/api/v1/contacts/{contact.pk}").content.decode()
    # Sending back what was shown keeps the URL; a new URL replaces it.
    assert (
        api.put(
            f"/api/v1/channels/{channel.pk}", {**shown, "enabled": False}, format="json"
        ).status_code
        == 200
    )
    channel.refresh_from_db()
    assert (channel.target, channel.enabled) == (HOOK, False)
    assert (
        api.patch(
            f"/api/v1/channels/{channel.pk}", {"target": HOOK + "2"}, format="json"
        ).status_code
        == 200
    )
    channel.refresh_from_db()
    assert channel.target == HOOK + "2"


def test_a_contact_round_trip_keeps_its_webhook_urls(api_as):
    api = api_as("manager")
    response = api.post(
        "/api/v1/contacts",
        {
            "name": "Mina",
            "tier": make_tier(1).pk,
            "channels": [
                {"kind": "webhook", "target": HOOK},
                {"kind": "email", "target": "mina@example.com"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        "SECRETHOOK" not in response.content.decode()
        and "mina@example.com" in response.content.decode()
    )
    assert api.put(f"/api/v1/contacts/{body['id']}", body, format="json").status_code == 200
    assert set(NotificationChannel.objects.values_list("target", flat=True)) == {
        HOOK,
        "mina@example.com",
    }


def test_the_admin_masks_webhook_urls_and_keeps_them_on_save(client, make_user):
    client.force_login(make_user("admin"))
    channel = make_channel(make_contact(tier=make_tier(1)), kind="teams", target=HOOK)
    assert "SECRETHOOK" not in client.get("/admin/incidents/notificationchannel/").content.decode()
    page = client.get(f"/admin/incidents/notificationchannel/{channel.pk}/change/")
    assert "SECRETHOOK" not in page.content.decode()
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in ("contact", "kind", "target")}
    response = client.post(
        f"/admin/incidents/notificationchannel/{channel.pk}/change/", {**data, "enabled": ""}
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.target, channel.enabled) == (HOOK, False)


def test_a_failing_webhook_leaves_no_url_in_errors_timeline_api_admin_or_logs(
    db, make_user, caplog
):
    caplog.set_level(logging.DEBUG)  # every record, whatever PORTAL_LOG_LEVEL keeps
    secret = "http://127.0.0.1:9/services/T0/B0/SECRETHOOK?sig=SECRETSIG"
    tier = make_tier(1, "Operations")
    contact = make_contact("ops", tier=tier)
    make_channel(contact, kind="webhook", target=secret)
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}])
    caplog.set_level(logging.INFO)
    with time_machine.travel(T0, tick=False):
        incident, _ = incident_services.open_incident(
            service=make_service("api"), title="API down", severity="sev1"
        )
        escalate_due(now=T0)
        notify.send_pending(now=T0)
    hook = Notification.objects.get(kind="webhook")
    assert hook.last_error  # it did fail
    texts = [hook.last_error, caplog.text, str(hook)]
    texts += [f"{e.message} {e.data}" for e in TimelineEvent.objects.filter(incident=incident)]
    admin = logged_in_client(make_user("admin"))
    texts.append(admin.get("/admin/incidents/notification/").content.decode())
    texts.append(admin.get(f"/admin/incidents/notification/{hook.pk}/change/").content.decode())
    texts.append(api_client(make_user("manager")).get("/api/v1/notifications").content.decode())
    for text in texts:
        assert "SECRETHOOK" not in text and "SECRETSIG" not in text


def logged_in_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def api_client(user):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


@pytest.fixture
def roots(settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    return tmp_path


def target_body(roots, **overrides):
    body = {
        "name": "pg",
        "service": make_service().pk,
        "kind": "postgres",
        "source": DSN,
        "destination": str(roots / "backups"),
        "schedule": "0 2 * * *",
    }
    body.update(overrides)
    return body


def test_backup_connection_strings_are_read_back_without_their_password(
    api_as, roots, client, make_user
):
    api = api_as("manager")
    response = api.post("/api/v1/backup-targets", target_body(roots), format="json")
    assert response.status_code == 201, response.content
    shown = response.json()
    assert shown["source"] == "postgres://app:•••@db.example:5432/prod"
    target = BackupTarget.objects.get()
    assert target.source == DSN
    assert (
        api.put(
            f"/api/v1/backup-targets/{target.pk}", {**shown, "keep_last": 7}, format="json"
        ).status_code
        == 200
    )
    target.refresh_from_db()
    assert (target.source, target.keep_last) == (DSN, 7)
    new = DSN.replace("SECRETPW", "SECRETNEW")
    assert (
        api.patch(f"/api/v1/backup-targets/{target.pk}", {"source": new}, format="json").status_code
        == 200
    )
    target.refresh_from_db()
    assert target.source == new

    client.force_login(make_user("admin"))
    pages = [
        client.get(f"/admin/backups/backuptarget/{p}").content.decode()
        for p in ("", f"{target.pk}/change/", f"{target.pk}/history/")
    ]
    pages.append(api.get("/api/v1/backup-targets").content.decode())
    pages.append(client.get(f"/backups/targets/{target.pk}/").content.decode())
    for page in pages:
        assert "SECRETPW" not in page and "SECRETNEW" not in page
    assert "•••" in pages[2]  # the history shows that the source changed, masked


def test_keyword_connection_strings_are_masked_too(api_as, roots):
    body = target_body(roots, source="host=db.example dbname=prod user=app password=SECRETPW")
    response = api_as("manager").post("/api/v1/backup-targets", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "host=db.example dbname=prod user=app password=•••"


def test_pg_dump_gets_the_password_by_environment_not_on_its_command_line(db, roots):
    target = BackupTarget(kind="postgres", source=DSN + "?sslmode=require")
    conninfo, password = pg_source(target)
    assert password == "SECRETPW"
    assert "SECRETPW" not in conninfo
    assert (
        "host=db.example" in conninfo
        and "dbname=prod" in conninfo
        and "sslmode=require" in conninfo
    )


PROBE_URL = "http://bob:SECRETPW@127.0.0.1:9/health?token=SECRETTOKEN&verbose=1"


def test_probe_urls_and_credential_headers_are_read_back_masked(api_as, client, make_user):
    api = api_as("manager")
    body = {
        "service": make_service().pk,
        "name": "health",
        "kind": "http",
        "config": {
            "url": PROBE_URL,
            "headers": {"Authorization": "Bearer SECRETBEARER", "Accept": "text/json"},
        },
    }
    response = api.post("/api/v1/probes", body, format="json")
    assert response.status_code == 201, response.content
    shown = response.json()
    assert shown["config"]["url"] == "http://bob:•••@127.0.0.1:9/health?token=•••&verbose=1"
    assert shown["config"]["headers"] == {"Authorization": "•••", "Accept": "text/json"}
    probe = Probe.objects.get()
    assert probe.config["url"] == PROBE_URL
    response = api.patch(
        f"/api/v1/probes/{probe.pk}", {"config": shown["config"], "name": "renamed"}, format="json"
    )
    assert response.status_code == 200, response.content
    probe.refresh_from_db()
    assert probe.name == "renamed"
    assert (
        probe.config["url"] == PROBE_URL
        and probe.config["headers"]["Authorization"] == "Bearer SECRETBEARER"
    )

    client.force_login(make_user("admin"))
    pages = [
        client.get(f"/probes/{probe.pk}/edit/"),
        client.get(f"/admin/probes/probe/{probe.pk}/change/"),
        client.get(f"/probes/{probe.pk}/"),
        api.get("/api/v1/probes"),
    ]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        assert "SECRETPW" not in text and "SECRETTOKEN" not in text and "SECRETBEARER" not in text


def test_the_probe_form_keeps_secrets_sent_back_masked(client, make_user):
    probe = make_probe(
        config={
            "url": PROBE_URL,
            "method": "GET",
            "headers": {"Authorization": "Bearer SECRETBEARER"},
            "expected_status": [200],
            "expect": [],
            "verify_tls": True,
            "follow_redirects": True,
        }
    )
    client.force_login(make_user("manager"))
    page = client.get(f"/probes/{probe.pk}/edit/")
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data = {k: v for k, v in data.items() if v is not False}
    data["name"] = "renamed"
    response = client.post(f"/probes/{probe.pk}/edit/", data)
    assert response.status_code == 302, (
        response.context["form"].errors if response.context else response
    )
    probe.refresh_from_db()
    assert probe.name == "renamed"
    assert (
        probe.config["url"] == PROBE_URL
        and probe.config["headers"]["Authorization"] == "Bearer SECRETBEARER"
    )


def test_a_failing_http_probe_does_not_echo_the_secret_parts_of_its_url(db):
    limits = kinds.limits_for("http", None, None, 1.0)
    result = kinds.run_check("http", {"url": PROBE_URL}, limits)
    assert result.status == "critical"
    assert "SECRETTOKEN" not in result.message and "SECRETPW" not in result.message


# Heartbeats ------------------------------------------------------------------------


def test_heartbeat_tokens_are_random_uuid4s(db):
    probes = [make_probe(kind="heartbeat", config={"grace_seconds": 60}) for _ in range(3)]
    tokens = {p.token for p in probes}
    assert len(tokens) == 3
    assert all(t.version == 4 for t in tokens)
    assert APIClient().get(f"/api/v1/heartbeats/{uuid.uuid4()}").status_code == 404


def test_only_those_who_may_change_a_heartbeat_get_its_ping_url(api_as):
    probe = make_probe(kind="heartbeat", config={"grace_seconds": 60})
    assert api_as("viewer").get(f"/api/v1/probes/{probe.pk}").json()["ping_url"] is None
    assert (
        str(probe.token) in api_as("manager").get(f"/api/v1/probes/{probe.pk}").json()["ping_url"]
    )


# Request sizes ---------------------------------------------------------------------


def test_an_api_body_over_the_limit_gets_413_with_a_message(api_as, settings):
    settings.MAX_REQUEST_BYTES = 4096
    api = api_as("manager")
    response = api.post("/api/v1/services", {"name": "x", "description": "y" * 5000}, format="json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert (
        api.post(
            "/api/v1/services", {"name": "x", "description": "y" * 100}, format="json"
        ).status_code
        == 201
    )


def test_a_page_post_over_the_limit_gets_a_413_page(client_as, settings):
    settings.MAX_REQUEST_BYTES = 4096
    upload = SimpleUploadedFile("r.md", b"x" * 8000)
    response = client_as("manager").post("/checklists/templates/import/", {"file": upload})
    assert response.status_code == 413
    assert "too large" in response.content.decode()


def test_a_form_body_over_djangos_memory_limit_is_a_400_not_a_500(client_as, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client_as("operator").post("/incidents/declare/", {"title": "x" * 5000})
    assert response.status_code == 400


def test_a_runbook_upload_over_one_mib_is_a_form_error(client_as):
    big = SimpleUploadedFile("runbook.md", b"- [ ] check\n" * 100_000)
    response = client_as("manager").post("/checklists/templates/import/", {"file": big})
    assert response.status_code == 400
    assert "larger than 1 MiB" in response.content.decode()
    api_big = SimpleUploadedFile("runbook.md", b"- [ ] check\n" * 100_000)
    response = api_as_manager().post(
        "/api/v1/runbook-imports", {"file": api_big}, format="multipart"
    )
    assert response.status_code == 400
    assert "larger than 1 MiB" in str(response.json())


def api_as_manager():
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(f"m-{uuid.uuid4().hex[:6]}", password=PASSWORD)
    user.groups.add(Group.objects.get(name="manager"))
    return api_client(user)


# File roots, through the forms and the API -------------------------------------------


@pytest.fixture
def outside(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outside")
    (folder / "data.sqlite3").write_bytes(b"")
    return folder


def escapes(roots, outside):
    (roots / "link").symlink_to(outside)
    return {
        "dotdot": f"{roots}/../{outside.name}/data.sqlite3",
        "symlink": f"{roots}/link/data.sqlite3",
        "absolute": str(outside / "data.sqlite3"),
        "relative": "data.sqlite3",
        "prefix": f"{roots}-evil/data.sqlite3",
        "nul": f"{roots}/a\x00b",
    }


@pytest.mark.parametrize("how", ["dotdot", "symlink", "absolute", "relative", "prefix", "nul"])
@pytest.mark.parametrize("field", ["source", "destination"])
def test_backup_targets_refuse_paths_outside_the_roots(api_as, roots, outside, how, field):
    path = escapes(roots, outside)[how]
    body = target_body(roots, kind="sqlite", source=str(roots / "db.sqlite3"))
    body[field] = path
    response = api_as("manager").post("/api/v1/backup-targets", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not BackupTarget.objects.exists()


@pytest.mark.parametrize("how", ["dotdot", "symlink", "absolute", "relative", "nul"])
@pytest.mark.parametrize("kind", ["disk", "file", "sqlite", "log_errors"])
def test_probes_that_read_files_refuse_paths_outside_the_roots(api_as, roots, outside, how, kind):
    body = {
        "service": make_service().pk,
        "name": "p",
        "kind": kind,
        "config": {"path": escapes(roots, outside)[how]},
    }
    response = api_as("manager").post("/api/v1/probes", body, format="json")
    assert response.status_code == 400, response.content
    assert not Probe.objects.exists()


def test_the_probe_form_refuses_a_symlink_out_of_the_roots(client_as, roots, outside):
    path = escapes(roots, outside)["symlink"]
    response = client_as("manager").post(
        "/probes/new/file/",
        {
            "service": make_service().pk,
            "name": "db file",
            "interval": 60,
            "timeout": 5,
            "failures_before_alert": 3,
            "successes_to_recover": 2,
            "reminder_minutes": 60,
            "severity": "sev2",
            "enabled": "on",
            "config_path": path,
        },
    )
    assert response.status_code in (200, 400)
    assert "outside the folders" in response.content.decode()
    assert not Probe.objects.exists()
