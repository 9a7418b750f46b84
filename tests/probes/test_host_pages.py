"""Host pages: the list with last seen and agent version, a host's page with its checks, the token
shown once, the agent download, and the probe form's host kinds (only for a host)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from probes.models import Host, Probe, hash_token
from tests.incidents.factories import make_service
from tests.probes.agent_helpers import make_host
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db


def host_data(service, **extra):
    return {
        "name": "datahub",
        "service": service.pk,
        "interval": 60,
        "grace": 120,
        "severity": "sev2",
        "enabled": "on",
        **extra,
    }


def probe_data(target, **extra):
    return {
        "service": target.service_id,
        "host": target.pk,
        "name": "analysis db",
        "interval": 60,
        "timeout": 10,
        "failures_before_alert": 3,
        "successes_to_recover": 2,
        "reminder_minutes": 60,
        "severity": "sev2",
        "enabled": "on",
        **extra,
    }


def shown_token(page: str) -> str:
    return re.search(r'data-testid="agent-token">(opa_[\w-]+)<', page)[1]


def test_a_manager_adds_a_host_and_sees_its_token_once(client_as):
    service = make_service("Data hub")
    client = client_as("manager")
    response = client.post("/probes/hosts/new/", host_data(service))
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    token = shown_token(response.content.decode())
    host = Host.objects.get()
    assert host.token_hash == hash_token(token)
    assert (
        "portal-agent.service" in response.content.decode()
        and "schtasks" in response.content.decode()
    )
    # Never again: not on the host's page, not in the list, not in the downloaded agent.
    for url in (
        host.get_absolute_url(),
        "/probes/hosts/",
        f"/probes/hosts/{host.pk}/portal_agent.py",
    ):
        assert token not in client.get(url).content.decode()


def test_a_new_token_replaces_the_old_one(client_as):
    host, old = make_host()
    client = client_as("manager")
    assert client.get(f"/probes/hosts/{host.pk}/token/").status_code == 405
    new = shown_token(client.post(f"/probes/hosts/{host.pk}/token/").content.decode())
    host.refresh_from_db()
    assert new != old and host.token_hash == hash_token(new)


def test_the_host_list_shows_last_seen_version_and_silence(client_as):
    host, _token = make_host(name="datahub")
    Host.objects.filter(pk=host.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=3), agent_version="1.0.0", silent=True
    )
    make_host(name="never-seen")
    page = client_as("viewer").get("/probes/hosts/").content.decode()
    assert "datahub" in page and "1.0.0" in page and "silent" in page
    assert "never" in page


def test_the_host_page_lists_its_checks_and_offers_host_kinds(client_as):
    host, _token = make_host()
    make_probe(
        host.service,
        kind="host_file",
        host=host,
        name="app log",
        config={"path": "/var/log/app.log"},
        next_run_at=None,
    )
    page = client_as("manager").get(host.get_absolute_url()).content.decode()
    assert "app log" in page
    assert f"/probes/new/host_sqlite/?host={host.pk}" in page
    assert "/probes/new/host_command/" not in page  # commands not allowed on this host
    viewer = client_as("viewer").get(host.get_absolute_url()).content.decode()
    assert (
        f"/probes/hosts/{host.pk}/portal_agent.py" not in viewer
        and f"/probes/hosts/{host.pk}/token/" not in viewer
    )


def test_the_generic_kind_list_offers_no_host_kinds(client_as):
    page = client_as("manager").get("/probes/new/").content.decode()
    assert "/probes/new/http/" in page and "host_" not in page


def test_the_downloaded_agent_has_the_portal_address_filled_in(client_as, settings):
    settings.BASE_URL = "https://portal.example"
    host, _token = make_host(name="datahub")
    response = client_as("manager").get(f"/probes/hosts/{host.pk}/portal_agent.py")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="portal_agent.py"'
    script = response.content.decode()
    assert (
        "DEFAULT_URL = 'https://portal.example'" in script and "DEFAULT_HOST = 'datahub'" in script
    )
    assert client_as("operator").get(f"/probes/hosts/{host.pk}/portal_agent.py").status_code == 403


def test_a_manager_adds_a_check_to_a_host_with_the_form(client_as):
    host, _token = make_host()
    client = client_as("manager")
    page = client.get(f"/probes/new/host_sqlite/?host={host.pk}").content.decode()
    assert 'name="config_path"' in page and 'name="host"' in page
    response = client.post(
        "/probes/new/host_sqlite/",
        probe_data(
            host,
            config_path=r"C:\data\database\production_analysis.db",
            config_check="integrity_check",
        ),
    )
    probe = Probe.objects.get()
    assert response.status_code == 302
    assert probe.host == host and probe.next_run_at is None
    assert probe.config == {
        "path": r"C:\data\database\production_analysis.db",
        "check": "integrity_check",
    }


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("host_file", {"config_path": "relative/app.log"}, "config_path"),
        (
            "host_file",
            {"config_path": "/a", "config_min_size_bytes": 10, "config_max_size_bytes": 5},
            "config_max_size_bytes",
        ),
        (
            "host_log_errors",
            {"config_path": "/a", "config_pattern": "(", "config_tail_kib": 64},
            "config_pattern",
        ),
        (
            "host_disk",
            {"config_path": "/", "config_measure": "free_gb", "warning": 5, "critical": 10},
            "warning",
        ),
        ("host_command", {"config_argv": "/usr/local/bin/check-backup --quiet"}, "host"),
        ("host_command", {"config_argv": "'unbalanced"}, "config_argv"),
        ("host_file", {"config_path": "/a", "host": ""}, "host"),
    ],
)
def test_bad_host_check_settings_are_form_errors_by_field(client_as, kind, change, field):
    host, _token = make_host()
    response = client_as("manager").post(f"/probes/new/{kind}/", probe_data(host, **change))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Probe.objects.exists()


def test_a_command_check_needs_a_host_that_allows_commands(client_as):
    host, _token = make_host(allow_commands=True)
    response = client_as("manager").post(
        "/probes/new/host_command/",
        probe_data(host, config_argv="/usr/local/bin/check-backup --max-age '26 hours'"),
    )
    assert response.status_code == 302
    assert Probe.objects.get().config == {
        "argv": ["/usr/local/bin/check-backup", "--max-age", "26 hours"]
    }


def test_a_host_check_is_never_run_from_its_page(client_as):
    host, _token = make_host()
    probe = make_probe(
        host.service, kind="host_file", host=host, config={"path": "/a"}, next_run_at=None
    )
    client = client_as("manager")
    assert "Run now" not in client.get(probe.get_absolute_url()).content.decode()
    response = client.post(f"/probes/{probe.pk}/run/", follow=True)
    assert "runs on its host" in response.content.decode()


def test_only_managers_add_or_edit_hosts(client_as):
    host, _token = make_host()
    client = client_as("operator")
    assert client.get("/probes/hosts/new/").status_code == 403
    assert client.get(f"/probes/hosts/{host.pk}/edit/").status_code == 403
    assert client.post(f"/probes/hosts/{host.pk}/token/").status_code == 403
