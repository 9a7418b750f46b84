"""Who may change what (DESIGN §7), as one table.

Every write the portal answers — each API route with a write method (POST, PUT,
PATCH, DELETE, and the POST actions) and each page that accepts a POST — has a
rule: the lowest role that may do it. For each role the test sends the write
and checks it is refused (403; anonymous: 401/403 from the API, a redirect to
the login page from a page) or let through (any answer but those: an empty
body may well be a 400). The table must list exactly the writes the URL
configuration offers, so a view added later without a rule fails here.

viewer reads; operator also declares, acknowledges and resolves incidents, writes
notes and postmortems, ticks checklists, runs probes and backups now; manager also
edits services, contacts, policies, probes, backup targets, checklist templates and
playbooks, publishes postmortems, restores backups and deletes; admin everything.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.views import APIView

from backups.models import BackupRun, BackupTarget
from checklists.models import HandoverNote, Playbook
from incidents.models import ActionItem, MaintenanceWindow, Postmortem
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_channel, make_contact, make_incident, make_policy, make_service, make_tier
from tests.probes.factories import make_probe

ROLES = ("anonymous", "viewer", "operator", "manager", "admin")
PUBLIC, VIEWER, OPERATOR, MANAGER, ADMIN = ROLES
RANK = {role: rank for rank, role in enumerate(ROLES)}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# (url name, method, variant) → the lowest role allowed. A variant is a named body
# for one route that does two things (the postmortem form saves, or publishes).
CRUD_MANAGER = {"list": {"POST": MANAGER}, "detail": {"PUT": MANAGER, "PATCH": MANAGER, "DELETE": MANAGER}}
API = {
    # Configuration: managers.
    "service": CRUD_MANAGER,
    "tier": CRUD_MANAGER,
    "contact": CRUD_MANAGER,
    "notificationchannel": CRUD_MANAGER,
    "escalationpolicy": CRUD_MANAGER,
    # An operator on shift may announce a maintenance window (a bounded one) and end it; changing one is a manager's.
    "maintenancewindow": {"list": {"POST": OPERATOR},
                          "detail": {"PUT": MANAGER, "PATCH": MANAGER, "DELETE": OPERATOR}},
    "checklisttemplate": CRUD_MANAGER,
    "playbook": CRUD_MANAGER,
    "runbookimport": {"list": {"POST": MANAGER}},
    "probe": {**CRUD_MANAGER, "run": {"POST": OPERATOR}},
    "backuptarget": {**CRUD_MANAGER, "run": {"POST": OPERATOR}, "rehearse": {"POST": OPERATOR}},
    "backuprun": {"verify": {"POST": OPERATOR}, "restore": {"POST": MANAGER}},
    # The day's work: operators.
    "incident": {"list": {"POST": OPERATOR}, "acknowledge": {"POST": OPERATOR},
                 "mitigate": {"POST": OPERATOR}, "resolve": {"POST": OPERATOR}, "close": {"POST": OPERATOR},
                 "reopen": {"POST": OPERATOR}, "notes": {"POST": OPERATOR}},
    "postmortem": {"list": {"POST": OPERATOR},
                   "detail": {"PUT": OPERATOR, "PATCH": OPERATOR, "DELETE": MANAGER},
                   "submit": {"POST": OPERATOR}, "publish": {"POST": MANAGER}},
    "actionitem": {"list": {"POST": OPERATOR},
                   "detail": {"PUT": OPERATOR, "PATCH": OPERATOR, "DELETE": MANAGER},
                   "complete": {"POST": OPERATOR}},
    "checklistrun": {"list": {"POST": OPERATOR}, "tick": {"POST": OPERATOR}, "untick": {"POST": OPERATOR},
                     "complete": {"POST": OPERATOR}},
    "handovernote": {"acknowledge": {"POST": OPERATOR}},
}
PAGES = {
    # The login form and its language switch answer everyone; heartbeat pings carry
    # their credential in the URL.
    "login": PUBLIC,
    "set_language": PUBLIC,
    "heartbeat": PUBLIC,
    "heartbeat-fail": PUBLIC,
    # Every logged-in user: their own session, password and token.
    "logout": VIEWER,
    "password_change": VIEWER,
    "api-token-create": VIEWER,
    "api-token-revoke": VIEWER,
    "incidents:declare": OPERATOR,
    "incidents:acknowledge": OPERATOR,
    "incidents:mitigate": OPERATOR,
    "incidents:resolve": OPERATOR,
    "incidents:close": OPERATOR,
    "incidents:reopen": OPERATOR,
    "incidents:add-note": OPERATOR,
    "incidents:postmortem-edit": OPERATOR,
    "incidents:postmortem-submit": OPERATOR,
    "incidents:postmortem-publish": MANAGER,
    "incidents:action-item-complete": OPERATOR,
    "checklists:tick": OPERATOR,
    "checklists:untick": OPERATOR,
    "checklists:open-incident": OPERATOR,
    "checklists:complete": OPERATOR,
    "checklists:handover-acknowledge": OPERATOR,
    "checklists:start-for-incident": OPERATOR,
    "checklists:import": MANAGER,
    "checklists:playbook-new": MANAGER,
    "checklists:playbook-edit": MANAGER,
    "probes:create": MANAGER,
    "probes:edit": MANAGER,
    "probes:run": OPERATOR,
    "backups:run-now": OPERATOR,
    "backups:verify": OPERATOR,
    "backups:restore": MANAGER,
}
# Bodies for routes whose rule depends on what is posted.
VARIANTS = {
    ("incidents:postmortem-edit", "POST", "publish"): ({"action": "publish"}, MANAGER),
}

RULES = {(f"{basename}-{route}", method, ""): role
         for basename, routes in API.items() for route, methods in routes.items() for method, role in methods.items()}
RULES |= {(name, "POST", ""): role for name, role in PAGES.items()}
RULES |= {key: role for key, (_body, role) in VARIANTS.items()}


# Discovering the writes ------------------------------------------------------

def walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from walk(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name and "format" not in str(pattern.pattern):
            yield ":".join(filter(None, [namespace, pattern.name])), pattern


def url_patterns() -> dict:
    """URL name → pattern, without the admin site (one rule below) and DRF's `.json` twins."""
    return {name: pattern for name, pattern in walk(get_resolver().url_patterns)
            if not name.startswith("admin:") and not name.startswith("djdt:")}


def declared_writes(callback) -> set[str] | None:
    """The write methods a DRF view declares; None for a Django view (it is asked instead)."""
    if getattr(callback, "actions", None):  # a viewset route
        return {method.upper() for method in callback.actions} & set(WRITE_METHODS)
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None and issubclass(cls, APIView):
        return {method for method in WRITE_METHODS if hasattr(cls, method.lower())}
    return None


# The objects every route points at ---------------------------------------------

def _postmortem(world):
    incident = world["incident"]
    return Postmortem.objects.create(incident=incident, title="Disk full", severity=incident.severity,
                                     occurred_at=timezone.now() - timedelta(hours=1))


def _target(world):
    folder = world["folder"]
    return BackupTarget.objects.create(name="db", service=world["service"], kind="sqlite",
                                       source=str(folder / "db.sqlite3"), destination=str(folder / "b"))


BUILDERS = {
    "service": lambda w: make_service(),
    "tier": lambda w: make_tier(),
    "contact": lambda w: make_contact(tier=w["tier"], channel=False),
    "notificationchannel": lambda w: make_channel(w["contact"]),
    "escalationpolicy": lambda w: make_policy(service=w["service"]),
    "maintenancewindow": lambda w: MaintenanceWindow.objects.create(
        service=w["service"], starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1)),
    "incident": lambda w: make_incident(w["service"]),
    "postmortem": _postmortem,
    "actionitem": lambda w: ActionItem.objects.create(postmortem=w["postmortem"], description="Alert on disk use"),
    "checklisttemplate": lambda w: make_template(service=w["service"]),
    "checklistrun": lambda w: make_run(w["checklisttemplate"]),
    "runitem": lambda w: w["checklistrun"].items.first(),
    "handovernote": lambda w: HandoverNote.objects.create(run=make_run(w["checklisttemplate"])),
    "playbook": lambda w: Playbook.objects.create(title="API down", body="Restart it.", service=w["service"]),
    "probe": lambda w: make_probe(w["service"], kind="memory"),
    "heartbeat": lambda w: make_probe(w["service"], kind="heartbeat", name="nightly job"),
    "backuptarget": _target,
    "backuprun": lambda w: BackupRun.objects.create(
        target=w["backuptarget"], trigger="manual", status="succeeded",
        file=str(w["folder"] / "b" / "db.sqlite3"), sha256="0" * 64),
}


class World(dict):
    """The objects routes point at, each made the first time a route asks for it."""

    def __missing__(self, key):
        assert key in BUILDERS, f"the permission matrix has no object for {key!r}: add it to BUILDERS"
        self[key] = value = BUILDERS[key](self)
        return value


@pytest.fixture
def world(db, roles, settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # many users, quickly
    return World(folder=tmp_path)


def kwargs_for(name: str, pattern: URLPattern, world: dict) -> dict:
    """The URL arguments of a route, from the world's objects. A new route with arguments
    needs a line here."""
    params = set(pattern.pattern.regex.groupindex)
    basename = name.rsplit("-", 1)[0]
    app = name.split(":")[0] if ":" in name else ""
    pk_of = {
        "incidents": "actionitem" if name == "incidents:action-item-complete" else "incident",
        "checklists": ("handovernote" if name == "checklists:handover-acknowledge" else
                       "playbook" if name.startswith("checklists:playbook") else
                       "checklisttemplate" if name == "checklists:template" else "checklistrun"),
        "probes": "probe",
        "backups": "backuptarget" if name in ("backups:target", "backups:run-now") else "backuprun",
    }.get(app, basename)
    if name.startswith("incidents:postmortem"):
        pk_of = "postmortem"  # its pages are addressed by the incident's id
    known = {
        "pk": lambda: world[pk_of].incident_id if pk_of == "postmortem" and app else world[pk_of].pk,
        "item_pk": lambda: world["runitem"].pk,
        "incident_pk": lambda: world["incident"].pk,
        "kind": lambda: "http",
        "token": lambda: world["heartbeat"].token,
    }
    missing = params - set(known)
    assert not missing, f"the permission matrix needs URL arguments {missing} for {name}"
    return {param: known[param]() for param in params}


def client_for(role: str, make_user, *, api: bool):
    client = APIClient() if api else Client()
    if role == PUBLIC:
        return client
    user = make_user(role)
    if api:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    else:
        client.force_login(user)
    return client


def is_api(pattern: URLPattern) -> bool:
    return declared_writes(pattern.callback) is not None


def send(client, method: str, url: str, body: dict, *, api: bool):
    if api:
        return getattr(client, method.lower())(url, body, format="json")
    return getattr(client, method.lower())(url, body)


# The tests -------------------------------------------------------------------------

def test_the_table_lists_exactly_the_writes_the_urls_offer(world, make_user):
    """API writes are read from the views; a page is a write if it does not answer a
    POST from an admin with 405 (read-only pages say `@require_safe`)."""
    admin = make_user(ADMIN)
    offered = set()
    for name, pattern in url_patterns().items():
        writes = declared_writes(pattern.callback)
        if writes is None:
            url = reverse(name, kwargs=kwargs_for(name, pattern, world))
            client = Client()
            client.force_login(admin)
            answer = client.post(url)
            writes = set() if answer.status_code == 405 else {"POST"}
        offered |= {(name, method, "") for method in writes}
    listed = {key for key in RULES if not key[2]}
    assert not offered - listed, f"writes without a rule in the permission matrix: {sorted(offered - listed)}"
    assert not listed - offered, f"rules for writes the URLs do not offer: {sorted(listed - offered)}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "variant"), sorted(RULES))
def test_each_role_may_do_exactly_what_its_rule_says(world, make_user, role, name, method, variant):
    pattern = url_patterns()[name]
    api = is_api(pattern)
    body = VARIANTS[(name, method, variant)][0] if variant else {}
    url = reverse(name, kwargs=kwargs_for(name, pattern, world))
    response = send(client_for(role, make_user, api=api), method, url, body, api=api)
    status = response.status_code
    to_login = status == 302 and "/login/" in response["Location"]
    if RANK[role] >= RANK[RULES[(name, method, variant)]]:
        # A logged-in user is never sent to the login page for lack of a role (logout may go there).
        assert status not in (401, 403, 404, 405) and not (to_login and role == PUBLIC), \
            f"{role} should be allowed to {method} {name}, got {status}"
    elif role == PUBLIC:
        assert status in (401, 403) if api else to_login, f"anonymous {method} {name} got {status}"
    else:
        assert status == 403, f"{role} should be refused {method} {name}, got {status}"


@pytest.mark.parametrize(("role", "staff", "opens"), [
    (PUBLIC, False, False), (VIEWER, False, False), (OPERATOR, False, False), (MANAGER, False, False),
    (MANAGER, True, True), (ADMIN, True, True)])
def test_the_admin_site_is_for_staff_only(client, make_user, role, staff, opens):
    if role != PUBLIC:
        client.force_login(make_user(role, is_staff=staff) if role != ADMIN else make_user(ADMIN))
    response = client.get("/admin/")
    if opens:
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(("role", "allowed"), [(VIEWER, False), (OPERATOR, False), (MANAGER, True)])
def test_staff_edit_in_the_admin_only_what_their_role_allows(client, make_user, role, allowed):
    """Being staff opens the admin; the role still decides what can be changed there."""
    client.force_login(make_user(role, is_staff=True))
    response = client.post(reverse("admin:incidents_service_add"), {"name": "api"})
    assert (response.status_code != 403) is allowed
