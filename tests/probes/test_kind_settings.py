"""One declaration per probe kind: its KindSettings, registered with its check, is what the API
validates, what the probe form shows and reads back, and where its thresholds come from."""

import pytest
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from probes import config, kinds
from probes.forms import PREFIX, ProbeForm
from probes.kinds import KINDS, Limits, Result, register, run_check, validate_config, validate_probe
from probes.models import Kind, Probe
from tests.incidents.factories import make_service
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_kind():
    """A kind that exists only in this test: one settings class and one check function."""

    def check_queue(settings: dict, limits: Limits) -> Result:
        return Result(
            "ok", float(settings["depth"]), None, f"{settings['queue']} holds {settings['depth']}"
        )

    @register("queue", check=check_queue, thresholds=(100.0, 1000.0, "jobs"))
    class QueueSettings(config.KindSettings):
        queue = config.Text(label=gettext_lazy("Queue"), required=True, max_length=100)
        depth = config.Integer(label=gettext_lazy("Depth"), default=5, minimum=0, maximum=10)
        direction = kinds._direction()

    yield "queue"
    del kinds.KINDS["queue"], kinds.CHECKS["queue"]


def test_a_new_kind_is_validated_checked_and_shown_from_its_one_declaration(queue_kind):
    assert validate_config(queue_kind, {"queue": " mail "}) == {
        "queue": "mail",
        "depth": 5,
        "direction": "above",
    }
    with pytest.raises(ValidationError) as raised:
        validate_config(queue_kind, {"depth": 11, "direction": "sideways"})
    assert raised.value.message_dict == {
        "queue": ["This field is required."],
        "depth": ["Enter a number from 0 to 10."],
        "direction": ["Choose above or below."],
    }
    assert (
        run_check(queue_kind, {"queue": "mail", "depth": 3}, Limits(1, None, None)).message
        == "mail holds 3"
    )
    assert kinds.default_thresholds(queue_kind) == (100.0, 1000.0, "jobs")
    assert kinds.lower_is_worse(queue_kind, {"direction": "below"})  # it has a direction setting
    form = ProbeForm(kind=queue_kind)
    assert form.config_field_names() == ["config_queue", "config_depth", "config_direction"]
    assert form["config_depth"].value() == 5 and form.fields["config_queue"].label == "Queue"


def test_the_api_reports_a_new_kinds_errors_under_config(queue_kind):
    _cleaned, errors = validate_probe(
        kind=queue_kind,
        config={"depth": "many"},
        interval=60,
        timeout=5,
        warning=None,
        critical=None,
    )
    assert errors == {
        "config": {"queue": ["This field is required."], "depth": ["Enter a whole number."]}
    }


def test_a_choice_not_offered_names_the_choices_as_before():
    with pytest.raises(ValidationError) as raised:
        validate_config(
            Kind.HTTP, {"url": "http://127.0.0.1:9/", "method": "put", "health": "sometimes"}
        )
    assert raised.value.message_dict == {
        "method": ["Choose one of GET, HEAD, POST."],
        "health": ["Choose one of auto, require, off."],
    }
    with pytest.raises(ValidationError) as raised:
        validate_config(
            Kind.PROMQL, {"url": "http://127.0.0.1:9", "query": "up", "reduce": "median"}
        )
    assert raised.value.message_dict == {"reduce": ["Choose one of single, max, min, sum, avg."]}
    assert (
        validate_config(Kind.HTTP, {"url": "http://127.0.0.1:9/", "method": " head "})["method"]
        == "HEAD"
    )


@pytest.mark.parametrize("kind", [Kind.TCP, Kind.TLS_EXPIRY, Kind.SQL, Kind.REDIS])
def test_a_host_with_a_nul_character_is_a_400_not_a_500(api_as, kind):
    config = {
        "host": "db\u0000.example",
        "port": 5432,
        "url": "postgresql://u@db\u0000x/app",
        "query": "SELECT 1",
        "field": "used_memory",
    }
    if kind == Kind.REDIS:
        config["url"] = "redis://db\u0000x:6379/0"
    keys = KINDS[kind].settings.base_fields
    response = api_as("manager").post(
        "/api/v1/probes",
        {
            "service": make_service().pk,
            "name": "nul",
            "kind": kind,
            "config": {key: value for key, value in config.items() if key in keys},
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["config"]) <= {"host", "url"}


@pytest.mark.parametrize("kind", Kind.values)
def test_every_kind_is_declared_and_its_form_shows_exactly_its_settings(kind):
    assert kind in KINDS
    form = ProbeForm(kind=kind)
    assert form.config_field_names() == [PREFIX + key for key in KINDS[kind].settings.base_fields]


@pytest.mark.parametrize(
    ("kind", "stored"),
    [
        (
            Kind.HTTP,
            {
                "url": "http://127.0.0.1:9/health",
                "method": "HEAD",
                "headers": {"Accept": "text/plain"},
                "verify_tls": False,
                "follow_redirects": True,
                "expected_status": [200, 204],
                "expect": ["status in [ok, healthy]", "disk_free_gb >= 5"],
                "expect_warning": ["load < 4"],
                "health": "require",
            },
        ),
        (
            Kind.PROMETHEUS,
            {
                "url": "http://127.0.0.1:9/metrics",
                "metric": "queue_depth",
                "labels": {"queue": "mail"},
                "direction": "below",
                "verify_tls": True,
            },
        ),
        (
            Kind.TLS_EXPIRY,
            {
                "host": "127.0.0.1",
                "port": 8443,
                "server_name": "ops.example.com",
                "verify_tls": True,
            },
        ),
    ],
)
def test_a_probe_edited_without_changes_keeps_its_settings(client_as, kind, stored):
    """The form shows each setting as text and reads that text back as the same JSON value."""
    probe = make_probe(make_service(), kind=kind, config=validate_config(kind, stored))
    form = ProbeForm(kind=kind, instance=probe)
    data = {
        name: form[name].value() for name in form.fields if form[name].value() not in (None, False)
    }
    data["service"] = probe.service_id
    response = client_as("manager").post(f"/probes/{probe.pk}/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    probe.refresh_from_db()
    assert probe.config == stored


def test_a_host_command_is_written_as_a_shell_line_and_stored_as_arguments(client_as):
    from probes.models import Host

    host = Host.objects.create(name="db-1", service=make_service(), allow_commands=True)
    probe = make_probe(
        host.service,
        kind=Kind.HOST_COMMAND,
        host=host,
        config={"argv": ["pg_isready", "-h", "a b"]},
    )
    form = ProbeForm(kind=Kind.HOST_COMMAND, instance=probe)
    assert form["config_argv"].value() == "pg_isready -h 'a b'"
    bad = ProbeForm(
        kind=Kind.HOST_COMMAND,
        instance=probe,
        data={
            **{name: form[name].value() for name in form.fields if form[name].value() is not None},
            "service": host.service_id,
            "host": host.pk,
            "config_argv": "pg_isready 'unclosed",
        },
    )
    assert not bad.is_valid() and bad.errors["config_argv"] == ["Unbalanced quotes."]


def test_a_directory_probe_form_offers_the_file_limit_the_api_takes(client_as, file_root):
    client = client_as("manager")
    page = client.get("/probes/new/directory/").content.decode()
    assert 'name="config_max_files"' in page and "Stop after this many files" in page
    response = client.post(
        "/probes/new/directory/",
        {
            "service": make_service().pk,
            "name": "logs",
            "interval": 60,
            "timeout": 5,
            "failures_before_alert": 3,
            "successes_to_recover": 1,
            "reminder_minutes": 60,
            "severity": "sev3",
            "reopen_minutes": 30,
            "enabled": "on",
            "config_path": str(file_root),
            "config_max_files": 500,
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Probe.objects.get().config == {"path": str(file_root.resolve()), "max_files": 500}
