"""No planted secret comes back out (issue 25, acceptance 2).

One distinct secret sits in every credential field: a backup target's DSN password, a probe URL's
password and `?token=`, its Authorization header, a webhook URL in a channel and in the notification
and reminder rows copied from it, a route's team channel URL, and a heartbeat's ping token. Then
every admin view (list, search by the secret, change, history list and history detail, delete, CSV
export), every API list and detail and every page is read as each role with staff on; no response
holds a secret, and searching by a secret finds nothing.

The ping URL is the one place a heartbeat's token is meant to be read: by those
who may change the probe (managers, admins) on its page and in the API.
"""

import datetime

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alerts.models import Integration
from backups.models import BackupTarget
from core.fields import EncryptedJSONField, EncryptedTextField
from incidents.models import Notification, NotificationChannel, Route, Service
from probes.models import Host, Probe, hash_token
from tests.hardening.test_permission_matrix import World, is_api, kwargs_for, url_patterns
from tests.incidents.factories import (
    make_channel,
    make_contact,
    make_incident,
    make_service,
    make_tier,
)
from tests.probes.factories import make_probe

ROLES = ("viewer", "operator", "manager", "admin")

DSN_PASSWORD = "PWbackupdsn7Q1x"
URL_PASSWORD = "PWprobeurl3K9x"
URL_TOKEN = "TOKprobequery5Z2x"
HEADER_TOKEN = "HDRprobeauth8M4x"
CHANNEL_HOOK = "HOOKslackchan6P3x"
NOTIFICATION_HOOK = "HOOKnotifcopy2W8x"
REMINDER_HOOK = "HOOKremindcopy4T6x"
ROUTE_HOOK = "HOOKteamroute7J2x"
SQL_PASSWORD = "PWsqlprobe9R2x"
REDIS_PASSWORD = "PWredisprobe4N7x"
AGENT_TOKEN = "opa_AGENThosttoken1V5x"  # an agent's token: only its hash is stored
# The messengers' hook URLs (issue 15): the token is the last piece of the path.
MESSENGER_HOOKS = {
    "jandi": ("https://wh.jandi.com/connect-api/webhook/11320800/", "HOOKjandi5c0de7x"),
    "dooray": (
        "https://hook.dooray.com/services/3204376758577275363/3514081992077299709/",
        "HOOKdooray8R1x",
    ),
    "kakaowork": ("https://kakaowork.com/bots/hook/", "HOOKkakaowork3J6x"),
}
SECRETS = [
    DSN_PASSWORD,
    URL_PASSWORD,
    URL_TOKEN,
    HEADER_TOKEN,
    CHANNEL_HOOK,
    NOTIFICATION_HOOK,
    REMINDER_HOOK,
    ROUTE_HOOK,
    SQL_PASSWORD,
    REDIS_PASSWORD,
    AGENT_TOKEN,
    *(secret for _url, secret in MESSENGER_HOOKS.values()),
]
# Pings, alert intake and POST-only verbs.
SKIPPED_PAGES = {
    "heartbeat",
    "heartbeat-fail",
    "integration-alerts",
    "logout",
    "set_language",
    "agent-checks",
}


@pytest.fixture
def planted(db, roles, settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    service = make_service("payments")
    contact = make_contact("Ana", tier=make_tier(), channel=False)
    channel = make_channel(
        contact, kind="slack", target=f"https://hooks.slack.com/services/T0/B0/{CHANNEL_HOOK}"
    )
    for kind, (url, secret) in MESSENGER_HOOKS.items():
        make_channel(contact, kind=kind, target=url + secret)
    incident = make_incident(service)
    Notification.objects.create(
        incident=incident,
        step=1,
        condition="always",
        contact=contact,
        channel=channel,
        kind="slack",
        target=f"https://hooks.slack.com/services/T0/B1/{NOTIFICATION_HOOK}",
    )
    Notification.objects.create(
        purpose="reminder",
        notice=f"reminder:postmortem:{incident.pk}:{datetime.date.today()}",
        recipient=f"channel:{channel.pk}",
        step=0,
        condition="not_resolved",
        incident=incident,
        contact=contact,
        channel=channel,
        kind="webhook",
        target=f"https://hooks.example.com/remind/{REMINDER_HOOK}",
    )
    route = Route.objects.create(
        name="team room",
        kind="slack",
        events=["probe_warning"],
        target=f"https://hooks.slack.com/services/T0/B2/{ROUTE_HOOK}",
    )
    probe = make_probe(
        service,
        kind="http",
        name="api",
        config={
            "url": f"https://mon:{URL_PASSWORD}@api.example.com/health?token={URL_TOKEN}",
            "headers": {"Authorization": f"Bearer {HEADER_TOKEN}"},
        },
    )
    heartbeat = make_probe(service, kind="heartbeat", name="nightly job")
    make_probe(
        service,
        kind="sql",
        name="failed workflows",
        config={
            "url": f"postgresql://monitor:{SQL_PASSWORD}@db.example.com:5432/app",
            "query": "SELECT 1",
            "direction": "above",
            "empty": "error",
        },
    )
    make_probe(
        service,
        kind="redis",
        name="redis memory",
        config={
            "url": f"redis://:{REDIS_PASSWORD}@cache.example.com:6379/0",
            "field": "used_memory",
            "section": "",
            "direction": "above",
        },
    )
    host = Host(name="datahub", service=service, token_hash=hash_token(AGENT_TOKEN))
    host.save()
    integration = Integration.objects.create(
        name="prometheus", kind="alertmanager", default_service=service
    )
    target = BackupTarget.objects.create(
        name="pg",
        service=service,
        kind="postgres",
        destination=str(tmp_path / "b"),
        source=f"postgresql://backup:{DSN_PASSWORD}@db.example.com:5432/app",
    )
    # A second version of each so history has a diff to show.
    probe.timeout = 5
    probe.save()
    target.keep_last = 3
    target.save()
    return World(
        folder=tmp_path,
        service=service,
        contact=contact,
        notificationchannel=channel,
        incident=incident,
        probe=probe,
        heartbeat=heartbeat,
        backuptarget=target,
        host=host,
        integration=integration,
        route=route,
    )


def heartbeat_secrets(world) -> list[str]:
    """The URL tokens (a heartbeat's, an alert integration's): read by those who may change them
    only."""
    tokens = [world["heartbeat"].token, world["integration"].token]
    return [text for token in tokens for text in (str(token), token.hex)]


def assert_no_secret(response, secrets, where):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", "replace")
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"{where} shows {leaked}"


def staff_client(make_user, role):
    client = Client()
    client.force_login(make_user(role, is_staff=True) if role != "admin" else make_user("admin"))
    return client


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def admin_urls(world):
    """Every admin view of every registered model, for every row it holds."""
    for model, model_admin in admin.site._registry.items():
        yield f"{model.__name__} list", admin_url(model, "changelist")
        for obj in model._default_manager.all()[:5]:
            for view in ("change", "delete"):
                yield f"{model.__name__} {view}", admin_url(model, view, obj.pk)
            if hasattr(model_admin, "history_view"):
                yield f"{model.__name__} history", admin_url(model, "history", obj.pk)
            history = getattr(model, "history", None)
            if history is not None and hasattr(model_admin, "history_form_view"):
                for record in history.model.objects.filter(**{model._meta.pk.attname: obj.pk}):
                    yield (
                        f"{model.__name__} history detail",
                        admin_url(model, "simple_history", obj.pk, record.history_id),
                    )


@pytest.mark.parametrize("role", ROLES)
def test_no_admin_view_shows_a_planted_secret(planted, make_user, role):
    client = staff_client(make_user, role)
    for where, url in admin_urls(planted):
        response = client.get(url)
        assert response.status_code in (200, 302, 403), f"{where}: {response.status_code}"
        assert_no_secret(response, SECRETS + heartbeat_secrets(planted), f"{where} as {role}")


@pytest.mark.parametrize("role", ROLES)
def test_searching_the_admin_by_a_secret_finds_nothing(planted, make_user, role, rf):
    # The change list the admin's search builds, without rendering its page (rendering ~40 lists
    # per secret per role cost the suite 80 s; the pages themselves are read above).
    user = make_user(role, is_staff=True) if role != "admin" else make_user("admin")
    for model, model_admin in admin.site._registry.items():
        for secret in SECRETS + heartbeat_secrets(planted):
            request = rf.get(admin_url(model, "changelist"), {"q": secret})
            request.user = user
            if not model_admin.has_view_or_change_permission(request):
                continue
            changelist = model_admin.get_changelist_instance(request)
            assert changelist.query == secret
            assert changelist.result_count == 0, f"{model.__name__} found by {secret} as {role}"
    # The same search does find what is searchable.
    request = rf.get(admin_url(Service, "changelist"), {"q": "payments"})
    request.user = user
    assert admin.site._registry[Service].get_changelist_instance(request).result_count == 1


def secret_field_names(model) -> set[str]:
    """The credential fields of a model: every encrypted field, and the heartbeat's ping token."""
    names = {
        field.name
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField | EncryptedJSONField)
    }
    return names | ({"token"} if model in (Probe, Integration) else set())


def test_every_credential_field_is_encrypted():
    assert secret_field_names(BackupTarget) == {"source"}
    assert secret_field_names(Probe) == {"config", "token"}
    for model in (NotificationChannel, Notification, Route):
        assert secret_field_names(model) == {"target"}


def test_the_admin_lists_no_secret_field_as_searchable_or_sortable():
    for model, model_admin in admin.site._registry.items():
        secret = secret_field_names(model)
        searched = {name.lstrip("=^@") for name in model_admin.search_fields}
        assert not (searched & secret), f"{model.__name__} searches {searched & secret}"
        sorted_by = {name for name in model_admin.list_display if isinstance(name, str)}
        assert not (sorted_by & secret), f"{model.__name__} sorts by {sorted_by & secret}"


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_csv_exports_hold_no_secret(planted, make_user, role):
    client = staff_client(make_user, role)
    for model, model_admin in admin.site._registry.items():
        if not getattr(model_admin, "csv_fields", None):
            continue
        url = admin_url(model, "changelist")
        pks = [str(pk) for pk in model._default_manager.values_list("pk", flat=True)]
        response = client.post(url, {"action": "export_csv", "_selected_action": pks})
        assert_no_secret(
            response, SECRETS + heartbeat_secrets(planted), f"{model.__name__} CSV as {role}"
        )


def api_client(make_user, role):
    user = make_user(role, is_staff=True) if role != "admin" else make_user("admin")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def readable_routes(world, *, api: bool):
    for name, pattern in url_patterns().items():
        if name in SKIPPED_PAGES or is_api(pattern) != api:
            continue
        try:
            url = reverse(name, kwargs=kwargs_for(name, pattern, world))
        except (NoReverseMatch, AssertionError):
            continue
        yield name, url


@pytest.mark.parametrize("role", ROLES)
def test_no_api_response_shows_a_planted_secret(planted, make_user, role):
    client = api_client(make_user, role)
    secrets = SECRETS + (heartbeat_secrets(planted) if role in ("viewer", "operator") else [])
    for name, url in readable_routes(planted, api=True):
        response = client.get(url)
        assert_no_secret(response, secrets, f"GET {name} as {role}")


@pytest.mark.parametrize("role", ROLES)
def test_no_page_shows_a_planted_secret(planted, make_user, role):
    client = staff_client(make_user, role)
    secrets = SECRETS + (heartbeat_secrets(planted) if role in ("viewer", "operator") else [])
    for name, url in readable_routes(planted, api=False):
        response = client.get(url)
        assert_no_secret(response, secrets, f"page {name} as {role}")


def test_a_channels_test_message_answers_without_its_secret(planted, api_as):
    # Nothing listens on port 9: the refusal quotes the hook's path, which must come back masked.
    api = api_as("manager")
    for kind, (_url, secret) in MESSENGER_HOOKS.items():
        channel = make_channel(
            planted["contact"], kind=kind, target=f"http://127.0.0.1:9/hook/{secret}"
        )
        response = api.post(reverse("notificationchannel-test", args=[channel.pk]))
        assert response.json()["sent"] is False
        assert_no_secret(response, [secret], f"test message to a {kind} channel")


def test_ordering_the_channels_api_by_target_does_not_follow_the_secret(planted, api_as):
    contact = planted["contact"]
    make_channel(contact, kind="webhook", target="https://a.example.com/zzz-last")
    make_channel(contact, kind="webhook", target="https://z.example.com/aaa-first")
    api = api_as("manager")
    url = reverse("notificationchannel-list")
    ascending = [row["id"] for row in api.get(url, {"ordering": "target"}).json()["results"]]
    descending = [row["id"] for row in api.get(url, {"ordering": "-target"}).json()["results"]]
    assert ascending == descending, "ordering by the webhook URL is an oracle for its secret path"


def test_filtering_the_channels_api_by_a_secret_finds_nothing(planted, api_as):
    api = api_as("manager")
    url = reverse("notificationchannel-list")
    everything = [row["id"] for row in api.get(url).json()["results"]]
    for params in ({"search": CHANNEL_HOOK}, {"target": planted["notificationchannel"].target}):
        response = api.get(url, params)
        # Refused, or ignored (every row): never a list narrowed by a guess of the secret.
        if response.status_code == 200:
            assert [row["id"] for row in response.json()["results"]] == everything, (
                f"{params} narrows the list"
            )
        else:
            assert response.status_code == 400
