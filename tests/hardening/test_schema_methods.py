"""Every path of the OpenAPI schema answers 405 (with an Allow header) to the methods it does not
list.

In process, on a few rows of every kind so that paths with ids hit existing objects. The
schema fuzz run itself (every phase, against a served portal) is test_schema_fuzz.py.
"""

from datetime import timedelta

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.authtoken.models import Token
from werkzeug.test import Client

from backups import services as backups
from backups.models import BackupTarget, Trigger
from checklists import services as checklists
from checklists.models import HandoverNote, Playbook
from incidents import postmortems
from incidents import services as incidents
from incidents.models import ActionItem, MaintenanceWindow
from probes import services as probes
from tests.backups.conftest import make_sqlite
from tests.checklists.factories import make_template
from tests.incidents.factories import make_contact, make_policy, make_service, make_tier
from tests.probes.factories import make_probe


@pytest.fixture
def wsgi_app():
    # Django closes "obsolete" connections when a request starts and ends; inside the test's
    # transaction that would close the connection the test runs in (the test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db, settings, tmp_path, make_user):
    """A few rows of every kind, so path parameters also hit existing objects."""
    settings.FILE_ROOTS = [tmp_path]
    manager = make_user("manager")
    service = make_service("api")
    tier = make_tier()
    contact = make_contact(tier=tier)
    make_policy("sev2", [{"tier": tier}], service=service)
    MaintenanceWindow.objects.create(
        service=service,
        starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1, hours=2),
        reason="upgrade",
    )
    incident, _ = incidents.open_incident(
        service=service, title="Disk full", severity="sev2", by=manager
    )
    incidents.add_note(incident=incident, by=manager, text="Looking")
    resolved, _ = incidents.open_incident(
        service=service, title="API down", severity="sev1", by=manager
    )
    incidents.resolve(incident=resolved, by=manager)
    postmortem = postmortems.save_postmortem(
        postmortem=postmortems.draft_for(resolved, by=manager), by=manager
    )
    ActionItem.objects.create(postmortem=postmortem, description="Alert on disk use", owner=contact)

    template = make_template(service=service)
    checklists.start_run(template=template, by=manager)
    done = checklists.start_run(template=template, by=manager)
    HandoverNote.objects.create(run=done, author=manager, text="Quiet shift")
    Playbook.objects.create(
        title="Disk full", service=service, category="disk", body="# Free space\n`df -h`"
    )

    disk = make_probe(service, kind="disk", config={"path": str(tmp_path)})
    probes.run_probe(probe=disk)
    make_probe(service, kind="tcp", config={"host": "127.0.0.1", "port": 9}, timeout=1)
    heartbeat = make_probe(service, kind="heartbeat", config={})

    target = BackupTarget.objects.create(
        name="app-db",
        service=service,
        kind="sqlite",
        source=str(make_sqlite(tmp_path / "app.sqlite3")),
        destination=str(tmp_path / "backups"),
    )
    backup = backups.run_backup(target=target, trigger=Trigger.MANUAL)
    backups.rehearse(target=target)
    # queued only: nothing commits
    backups.request_restore(run=backup, by=manager, confirm=target.name)
    return {"token": Token.objects.create(user=manager).key, "heartbeats": [str(heartbeat.token)]}


@pytest.fixture
def api_schema(seeded, wsgi_app):
    return schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", wsgi_app, headers=auth(seeded)
    )


def known_ids(path, seeded, app):
    """Ids of existing rows for a path's parameter, read from the resource's own list."""
    if "{token}" in path:
        return "token", seeded["heartbeats"]
    if "{id}" not in path:
        return None, []
    # Through the WSGI app, not the test client: the client reconnects close_old_connections.
    rows = (
        Client(app)
        .get(path.split("/{id}")[0], query_string={"page_size": 3}, headers=auth(seeded))
        .json
    )
    return "id", [row["id"] for row in rows["results"]][:3]


def auth(seeded):
    return {"Authorization": f"Token {seeded['token']}"}


def test_methods_the_schema_does_not_list_answer_405(api_schema, seeded, wsgi_app, make_user):
    # no role check first
    admin = {"Authorization": f"Token {Token.objects.create(user=make_user('admin')).key}"}
    client, wrong = Client(wsgi_app), []
    for path, item in api_schema.raw_schema["paths"].items():
        name, ids = known_ids(path, seeded, wsgi_app)
        url = path.replace(f"{{{name}}}", str(ids[0]) if ids else absent_id(item)) if name else path
        for method in sorted({"get", "post", "put", "patch", "delete"} - set(item)):
            response = client.open(url, method=method.upper(), headers=admin)
            if response.status_code != 405 or not response.headers.get("Allow"):
                wrong.append(f"{method.upper()} {url}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def absent_id(item) -> str:
    """An id no row has, written as the path's parameter is (an integer, or a task's 32 hex
    digits)."""
    parameters = [
        p
        for operation in item.values()
        for p in operation.get("parameters", [])
        if p["in"] == "path"
    ]
    return "999999" if parameters and parameters[0]["schema"].get("type") == "integer" else "0" * 32
