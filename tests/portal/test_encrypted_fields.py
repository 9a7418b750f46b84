"""Credentials are encrypted at rest (core.fields), with keys beside secret_key."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from backups.models import BackupTarget
from incidents.models import NotificationChannel
from portal import env
from probes.models import Probe
from tests.incidents.factories import make_channel, make_contact, make_service
from tests.probes.factories import make_probe

DSN = "postgresql://backup:PWatrest9Z@db.example.com/app"
HOOK = "https://hooks.slack.com/services/T0/B0/HOOKatrest4Q"


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 (test's own names)
        return cursor.fetchone()[0]


def make_target(service, tmp_path, source=DSN):
    return BackupTarget.objects.create(
        name="pg", service=service, kind="postgres", source=source, destination=str(tmp_path / "b")
    )


@pytest.mark.django_db
def test_a_backup_source_is_stored_encrypted_and_read_back_clear(tmp_path):
    target = make_target(make_service(), tmp_path)
    stored = raw("backups_backuptarget", "source", target.pk)
    assert "PWatrest9Z" not in stored and "db.example.com" not in stored
    target.refresh_from_db()
    assert target.source == DSN
    # the history row too, read through the field
    assert BackupTarget.history.get(id=target.pk).source == DSN


@pytest.mark.django_db
def test_a_probe_config_and_a_channel_target_are_stored_encrypted():
    probe = make_probe(
        config={"url": "https://u:PWprobe7Y@x.example.com/", "headers": {"Authorization": "B"}}
    )
    channel = make_channel(make_contact(channel=False), kind="slack", target=HOOK)
    assert "PWprobe7Y" not in raw("probes_probe", "config", probe.pk)
    assert "HOOKatrest4Q" not in raw("incidents_notificationchannel", "target", channel.pk)
    assert Probe.objects.get(pk=probe.pk).config["url"] == "https://u:PWprobe7Y@x.example.com/"
    assert NotificationChannel.objects.values_list("target", flat=True).get(pk=channel.pk) == HOOK


@pytest.mark.django_db
def test_an_encrypted_field_cannot_be_searched_or_sorted_by_its_value():
    make_channel(make_contact(channel=False), kind="slack", target=HOOK)
    with pytest.raises(FieldError):
        list(NotificationChannel.objects.filter(target__icontains="HOOK"))
    with pytest.raises(FieldError):
        list(NotificationChannel.objects.filter(target=HOOK))
    # Only emptiness can be asked.
    assert NotificationChannel.objects.filter(target__isnull=False).count() == 1


@pytest.mark.django_db
def test_rotating_the_keys_re_encrypts_every_value_under_the_new_first_key(settings, tmp_path):
    old, new = settings.FIELD_KEYS[0], Fernet.generate_key().decode()
    target = make_target(make_service(), tmp_path)
    channel = make_channel(make_contact(channel=False), kind="slack", target=HOOK)
    settings.FIELD_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_field_keys", stdout=out)
    assert "backups_backuptarget.source" in out.getvalue()
    settings.FIELD_KEYS = [new]  # the old key dropped: everything still reads
    target.refresh_from_db()
    channel.refresh_from_db()
    assert (target.source, channel.target) == (DSN, HOOK)
    assert BackupTarget.history.filter(id=target.pk).first().source == DSN


@pytest.mark.django_db(transaction=True)
def test_the_migrations_encrypt_the_values_written_before_them(tmp_path):
    before = [
        ("backups", "0002_historicalrestorerun"),
        ("incidents", "0005_incident_status_count_index"),
        ("probes", "0003_historicalprobe"),
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    service = old.get_model("incidents", "Service").objects.create(name="payments")
    target = old.get_model("backups", "BackupTarget").objects.create(
        name="pg", service_id=service.pk, kind="postgres", source=DSN, destination=str(tmp_path)
    )
    contact = old.get_model("incidents", "Contact").objects.create(
        name="Ana", work_days=[0, 1, 2, 3, 4]
    )
    channel = old.get_model("incidents", "NotificationChannel").objects.create(
        contact_id=contact.pk, kind="slack", target=HOOK
    )
    probe = old.get_model("probes", "Probe").objects.create(
        service_id=service.pk,
        name="api",
        kind="http",
        config={"url": "https://u:PWold3X@x.example.com/"},
    )
    assert raw("backups_backuptarget", "source", target.pk) == DSN

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert "PWatrest9Z" not in raw("backups_backuptarget", "source", target.pk)
    assert "HOOKatrest4Q" not in raw("incidents_notificationchannel", "target", channel.pk)
    assert "PWold3X" not in raw("probes_probe", "config", probe.pk)
    assert BackupTarget.objects.get(pk=target.pk).source == DSN
    assert NotificationChannel.objects.get(pk=channel.pk).target == HOOK
    assert Probe.objects.get(pk=probe.pk).config == {"url": "https://u:PWold3X@x.example.com/"}


def test_the_field_key_file_is_made_once_beside_secret_key_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_FIELD_KEYS", raising=False)
    first = env.field_keys("PORTAL_FIELD_KEYS", tmp_path)
    key_file = tmp_path / "secret_fields.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert env.field_keys("PORTAL_FIELD_KEYS", tmp_path) == first
    Fernet(first[0])


def test_portal_field_keys_lists_the_encrypting_key_first_and_refuses_a_bad_one(
    tmp_path, monkeypatch
):
    one, two = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("PORTAL_FIELD_KEYS", f"{one}, {two}")
    assert env.field_keys("PORTAL_FIELD_KEYS", tmp_path) == [one, two]
    assert not (tmp_path / "secret_fields.key").exists()
    monkeypatch.setenv("PORTAL_FIELD_KEYS", "not-a-key")
    with pytest.raises(env.ConfigError, match="PORTAL_FIELD_KEYS"):
        env.field_keys("PORTAL_FIELD_KEYS", tmp_path)
