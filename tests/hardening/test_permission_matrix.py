"""Who may do what (DESIGN §7), as one table.

Every request the portal answers has a rule in RULES: the lowest principal that may
make it. The requests are read from the URL configuration (pages, and the admin's
changelist/add/change/delete/history views of every registered model) and from the
OpenAPI schema (every API operation); the table must list exactly those, so a URL or
operation added later without a rule fails here.

Principals, lowest first: anonymous, nobody (logged in, no role), viewer, operator,
manager, admin (superuser). A principal at or above the rule is let through (any
answer but 401/403/404/405 or the login page: an empty body may well be a 400); one
below it is refused (anonymous: 401/403 from the API, the login page from a page;
others 403). The admin is opened by the staff flag only: without it every principal
is sent to the admin's login; with it the role still decides.

viewer reads; operator also declares, acknowledges and resolves incidents, writes
notes and postmortems, ticks checklists, runs probes and backups now, announces and
ends (bounded) maintenance windows; manager also edits services, contacts, policies,
probes, backup targets, checklist templates and playbooks, publishes postmortems,
restores backups, reads reports and the audit trail, and deletes; admin everything.

To add a URL: a row in PAGES or API below (and, if it takes arguments, a line in
kwargs_for and an object in BUILDERS).
"""

import copy
import uuid
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from django_q.models import Schedule, Task
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.views import APIView

from alerts.models import Alert, Delivery, Integration
from backups.models import BackupRun, BackupTarget, Rehearsal, Repository, RestoreRun
from checklists.models import HandoverNote, Playbook
from incidents import acklinks
from incidents.models import (
    ActionItem,
    MaintenanceWindow,
    Notification,
    Postmortem,
    RecurringMaintenanceWindow,
    Route,
)
from oncall.models import Layer, Override, PersonalFeed
from oncall.models import Schedule as Schedule_
from oncall.services import save_layer
from probes.models import ProbeResult
from status.models import Component, Notice, PublicIncident, StatusPage, Subscriber
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import (
    make_channel,
    make_contact,
    make_incident,
    make_policy,
    make_service,
    make_tier,
)
from tests.probes.agent_helpers import make_host
from tests.probes.factories import make_probe

ROLES = ("anonymous", "nobody", "viewer", "operator", "manager", "admin")
PUBLIC, NOBODY, VIEWER, OPERATOR, MANAGER, ADMIN = ROLES
NEVER = "never"  # not even the admin: a read-only record, a resource without that view
RANK = {role: rank for rank, role in enumerate((*ROLES, NEVER))}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# The API: basename → route → method → the lowest principal allowed.
READ = {"list": {"GET": VIEWER}, "detail": {"GET": VIEWER}}
CRUD_MANAGER = {
    "list": {"GET": VIEWER, "POST": MANAGER},
    "detail": {"GET": VIEWER, "PUT": MANAGER, "PATCH": MANAGER, "DELETE": MANAGER},
}
API = {
    # Configuration: managers.
    "service": CRUD_MANAGER,
    "tier": CRUD_MANAGER,
    "contact": CRUD_MANAGER,
    # A test message reaches a person's phone: whoever may change the channel may send one.
    "notificationchannel": {**CRUD_MANAGER, "test": {"POST": MANAGER}},
    "route": CRUD_MANAGER,
    "escalationpolicy": CRUD_MANAGER,
    # An operator on shift may announce a maintenance window (a bounded one) and end it; changing
    # one is a manager's.
    "maintenancewindow": {
        "list": {"GET": VIEWER, "POST": OPERATOR},
        "detail": {"GET": VIEWER, "PUT": MANAGER, "PATCH": MANAGER, "DELETE": OPERATOR},
    },
    # Recurring windows are planned by managers; whoever may announce a window may end one early.
    "recurringmaintenancewindow": {**CRUD_MANAGER, "end": {"POST": OPERATOR}},
    "checklisttemplate": CRUD_MANAGER,
    "playbook": CRUD_MANAGER,
    "runbookimport": {"list": {"POST": MANAGER}},
    "probe": {**CRUD_MANAGER, "run": {"POST": OPERATOR}},
    "backuptarget": {**CRUD_MANAGER, "run": {"POST": OPERATOR}, "rehearse": {"POST": OPERATOR}},
    "backuprun": {
        **READ,
        "verify": {"POST": OPERATOR},
        "restore": {"POST": MANAGER},
        "copy": {"POST": OPERATOR},
    },
    "repository": {
        **CRUD_MANAGER,
        "init": {"POST": MANAGER},
        "refresh": {"POST": MANAGER},
        "check": {"POST": MANAGER},
    },
    "recoverability": {"list": {"GET": VIEWER}},
    # An integration's URL is a credential: every role reads the settings, managers the URL and what
    # arrived.
    "integration": {**CRUD_MANAGER, "rotate": {"POST": MANAGER}, "deliveries": {"GET": MANAGER}},
    # The day's work: operators.
    "incident": {
        "list": {"GET": VIEWER, "POST": OPERATOR},
        "detail": {"GET": VIEWER},
        "timeline": {"GET": VIEWER},
        "acknowledge": {"POST": OPERATOR},
        "mitigate": {"POST": OPERATOR},
        "resolve": {"POST": OPERATOR},
        "close": {"POST": OPERATOR},
        "reopen": {"POST": OPERATOR},
        "notes": {"POST": OPERATOR},
    },
    "postmortem": {
        "list": {"GET": VIEWER, "POST": OPERATOR},
        "detail": {"GET": VIEWER, "PUT": OPERATOR, "PATCH": OPERATOR, "DELETE": MANAGER},
        "submit": {"POST": OPERATOR},
        "publish": {"POST": MANAGER},
    },
    "actionitem": {
        "list": {"GET": VIEWER, "POST": OPERATOR},
        "detail": {"GET": VIEWER, "PUT": OPERATOR, "PATCH": OPERATOR, "DELETE": MANAGER},
        "complete": {"POST": OPERATOR},
    },
    "checklistrun": {
        "list": {"GET": VIEWER, "POST": OPERATOR},
        "detail": {"GET": VIEWER},
        "tick": {"POST": OPERATOR},
        "untick": {"POST": OPERATOR},
        "complete": {"POST": OPERATOR},
    },
    "handovernote": {**READ, "acknowledge": {"POST": OPERATOR}},
    # Records: read by every role, written by the portal only.
    "notification": READ,
    "proberesult": READ,
    "restorerun": READ,
    "rehearsal": READ,
    "task": READ,
    "schedule": READ,
    "report": {"incidents": {"GET": MANAGER}},
    "api": {"root": {"GET": VIEWER}},
    # On call: managers plan schedules. An operator may post an override (accepted when it concerns
    # their own contact, see tests/oncall); changing the matrix's override, not theirs, is a
    # manager's.
    "oncallschedule": {**CRUD_MANAGER, "now": {"GET": VIEWER}},
    "oncalllayer": CRUD_MANAGER,
    "override": {
        "list": {"GET": VIEWER, "POST": OPERATOR},
        "detail": {"GET": VIEWER, "PUT": MANAGER, "PATCH": MANAGER, "DELETE": MANAGER},
    },
}
# Pages (and the few API views outside the router): URL name → method → the lowest principal
# allowed.
PAGES = {
    # The login form and its language switch answer everyone; heartbeat pings carry
    # their credential in the URL; load balancers ask for health.
    "login": {"GET": PUBLIC, "POST": PUBLIC},
    "set_language": {"POST": PUBLIC},
    "heartbeat": {"GET": PUBLIC, "POST": PUBLIC},
    "heartbeat-fail": {"GET": PUBLIC, "POST": PUBLIC},
    # A host's agent, with its bearer token only: no session nor person's token gets in (401 without
    # credentials, 403 for a person; tests/probes/test_agent_api.py has the agent's side).
    "agent-checks": {"GET": NEVER},
    "agent-results": {"POST": NEVER},
    # Alertmanager and Grafana post alerts with the credential in the URL, as heartbeats do.
    "integration-alerts": {"POST": PUBLIC},
    "api-health": {"GET": PUBLIC},
    # Calendar feeds carry their credential (a secret token) in the URL: phones subscribe without a
    # login.
    "oncall:feed": {"GET": PUBLIC},
    "oncall:personal-feed": {"GET": PUBLIC},
    # A page's one-click acknowledge link: its signed token is the credential (incidents.acklinks).
    "incidents:ack-link": {"GET": PUBLIC, "POST": PUBLIC},
    # Every logged-in user, role or not: their own session and password.
    "logout": {"POST": NOBODY},
    "password_change": {"GET": NOBODY, "POST": NOBODY},
    "password_change_done": {"GET": NOBODY},
    # No role, no data: the rest needs one.
    "api-token": {"GET": VIEWER},
    "api-token-create": {"POST": VIEWER},
    "api-token-revoke": {"POST": VIEWER},
    # Everyone's tokens: managers see and revoke them.
    "api-tokens": {"GET": MANAGER},
    "api-tokens-revoke": {"POST": MANAGER},
    "dashboard": {"GET": VIEWER},
    "audit": {"GET": MANAGER},
    "api-metrics": {"GET": VIEWER},
    "api-schema": {"GET": VIEWER},
    "api-docs": {"GET": VIEWER},
    "api-redoc": {"GET": VIEWER},
    "incidents:list": {"GET": VIEWER},
    "incidents:detail": {"GET": VIEWER},
    "incidents:who-to-call": {"GET": VIEWER},
    "incidents:postmortems": {"GET": VIEWER},
    "incidents:reports": {"GET": MANAGER},
    "incidents:declare": {"GET": OPERATOR, "POST": OPERATOR},
    # The one-click link of a page: GET only asks (a viewer sees the incident), POST acknowledges.
    "incidents:acknowledge": {"GET": VIEWER, "POST": OPERATOR},
    "incidents:mitigate": {"POST": OPERATOR},
    "incidents:resolve": {"POST": OPERATOR},
    "incidents:close": {"POST": OPERATOR},
    "incidents:reopen": {"POST": OPERATOR},
    "incidents:add-note": {"POST": OPERATOR},
    "incidents:postmortem": {"GET": VIEWER},
    "incidents:postmortem-markdown": {"GET": VIEWER},
    "incidents:postmortem-print": {"GET": VIEWER},
    "incidents:postmortem-edit": {"GET": OPERATOR, "POST": OPERATOR},
    "incidents:postmortem-submit": {"POST": OPERATOR},
    "incidents:postmortem-publish": {"POST": MANAGER},
    "incidents:action-item-complete": {"POST": OPERATOR},
    "incidents:routes": {"GET": VIEWER},
    "incidents:route-new": {"GET": MANAGER, "POST": MANAGER},
    "incidents:route-edit": {"GET": MANAGER, "POST": MANAGER},
    "incidents:route-delete": {"POST": MANAGER},
    "checklists:my-shift": {"GET": VIEWER},
    "checklists:runs": {"GET": VIEWER},
    "checklists:run": {"GET": VIEWER},
    "checklists:templates": {"GET": VIEWER},
    "checklists:template": {"GET": VIEWER},
    "checklists:playbooks": {"GET": VIEWER},
    "checklists:playbook": {"GET": VIEWER},
    "checklists:tick": {"POST": OPERATOR},
    "checklists:untick": {"POST": OPERATOR},
    "checklists:open-incident": {"GET": OPERATOR, "POST": OPERATOR},
    "checklists:complete": {"GET": OPERATOR, "POST": OPERATOR},
    "checklists:handover-acknowledge": {"POST": OPERATOR},
    "checklists:start-for-incident": {"POST": OPERATOR},
    "checklists:import": {"GET": MANAGER, "POST": MANAGER},
    "checklists:playbook-new": {"GET": MANAGER, "POST": MANAGER},
    "checklists:playbook-edit": {"GET": MANAGER, "POST": MANAGER},
    "probes:grid": {"GET": VIEWER},
    "probes:detail": {"GET": VIEWER},
    "probes:choose-kind": {"GET": MANAGER},
    "probes:create": {"GET": MANAGER, "POST": MANAGER},
    "probes:edit": {"GET": MANAGER, "POST": MANAGER},
    "probes:run": {"POST": OPERATOR},
    "probes:hosts": {"GET": VIEWER},
    "probes:host": {"GET": VIEWER},
    "probes:host-create": {"GET": MANAGER, "POST": MANAGER},
    "probes:host-edit": {"GET": MANAGER, "POST": MANAGER},
    "probes:host-token": {"POST": MANAGER},
    "probes:host-agent": {"GET": MANAGER},
    "backups:targets": {"GET": VIEWER},
    "backups:target": {"GET": VIEWER},
    "backups:runs": {"GET": VIEWER},
    "backups:run": {"GET": VIEWER},
    "backups:run-now": {"POST": OPERATOR},
    "backups:verify": {"POST": OPERATOR},
    "backups:restore": {"GET": MANAGER, "POST": MANAGER},
    # The public status page, its JSON, feed and subscription links: the only public pages (issue
    # 17).
    "status:page": {"GET": PUBLIC},
    "status:json": {"GET": PUBLIC},
    "status:feed": {"GET": PUBLIC},
    "status:subscribe": {"GET": PUBLIC, "POST": PUBLIC},
    "status:confirm": {"GET": PUBLIC},
    "status:unsubscribe": {"GET": PUBLIC, "POST": PUBLIC},
    "status:pages": {"GET": VIEWER},
    "status:component-override": {"POST": OPERATOR},
    "status:mark-public": {"POST": OPERATOR},
    "status:post-update": {"POST": OPERATOR},
    "status:notice": {"GET": OPERATOR, "POST": OPERATOR},
    "backups:repositories": {"GET": VIEWER},
    "backups:repository": {"GET": VIEWER},
    "backups:repository-new": {"GET": MANAGER, "POST": MANAGER},
    "backups:repository-edit": {"GET": MANAGER, "POST": MANAGER},
    "backups:repository-init": {"POST": MANAGER},
    "backups:repository-refresh": {"POST": MANAGER},
    "backups:repository-check": {"POST": MANAGER},
    "backups:scorecard": {"GET": VIEWER},
    "oncall:list": {"GET": VIEWER},
    "oncall:detail": {"GET": VIEWER},
    # An operator covers a time range themselves; withdrawing the matrix's override (not theirs) is
    # a manager's.
    "oncall:override-add": {"POST": OPERATOR},
    "oncall:override-delete": {"POST": MANAGER},
    # The integrations' pages show their URLs (credentials): managers only.
    "alerts:integrations": {"GET": MANAGER},
    "alerts:integration": {"GET": MANAGER},
    "alerts:rotate": {"POST": MANAGER},
    "alerts:create": {"GET": MANAGER, "POST": MANAGER},
    "alerts:edit": {"GET": MANAGER, "POST": MANAGER},
}
# Bodies for routes whose rule depends on what is posted.
VARIANTS = {
    ("incidents:postmortem-edit", "POST", "publish"): ({"action": "publish"}, MANAGER),
}
# The admin: model → permission → the lowest principal allowed (with the staff flag). changelist,
# change (GET) and history need "view"; add "add"; change (POST) "change"; delete "delete" (and
# "remove", when given, for the POST that deletes).
ADMIN_ONLY = dict.fromkeys(("view", "add", "change", "delete"), ADMIN)
CONFIGURATION = {"view": VIEWER, "add": MANAGER, "change": MANAGER, "delete": MANAGER}
RECORD = {"view": VIEWER, "add": NEVER, "change": NEVER, "delete": NEVER}
ADMIN_RULES = {
    "auth.group": ADMIN_ONLY,
    "auth.user": ADMIN_ONLY,
    # Login attempts are recorded by django-axes, never added by hand.
    "axes.accessattempt": {**ADMIN_ONLY, "add": NEVER},
    "axes.accesslog": {**ADMIN_ONLY, "add": NEVER},
    "axes.accessfailurelog": {**ADMIN_ONLY, "add": NEVER},
    # Background tasks: every role reads them; django-q2 records them.
    "django_q.schedule": {"view": VIEWER, "add": ADMIN, "change": ADMIN, "delete": ADMIN},
    "django_q.success": {"view": VIEWER, "add": NEVER, "change": ADMIN, "delete": ADMIN},
    "django_q.failure": {"view": VIEWER, "add": NEVER, "change": ADMIN, "delete": ADMIN},
    "incidents.service": CONFIGURATION,
    "incidents.tier": CONFIGURATION,
    "incidents.contact": CONFIGURATION,
    "incidents.notificationchannel": CONFIGURATION,
    "incidents.route": CONFIGURATION,
    "incidents.escalationpolicy": CONFIGURATION,
    "incidents.maintenancewindow": {**CONFIGURATION, "add": OPERATOR, "delete": OPERATOR},
    "incidents.recurringmaintenancewindow": CONFIGURATION,
    # Incidents are declared through the workflow, not the admin; a manager may delete one
    # without records, and the matrix's incident has them (a postmortem, notifications).
    "incidents.incident": {**RECORD, "change": OPERATOR, "delete": MANAGER, "remove": NEVER},
    "incidents.timelineevent": RECORD,
    "incidents.notification": RECORD,
    "incidents.postmortem": {**CONFIGURATION, "add": OPERATOR, "change": OPERATOR},
    "incidents.actionitem": {**CONFIGURATION, "add": OPERATOR, "change": OPERATOR},
    "checklists.template": CONFIGURATION,
    "checklists.run": {**CONFIGURATION, "add": OPERATOR, "change": OPERATOR},
    "checklists.tick": RECORD,
    "checklists.handovernote": {**CONFIGURATION, "add": NEVER, "change": OPERATOR},
    "checklists.playbook": CONFIGURATION,
    "probes.probe": CONFIGURATION,
    "probes.proberesult": {**RECORD, "delete": MANAGER},
    # added on the host page, which shows its token once
    "probes.host": {
        **CONFIGURATION,
        "add": NEVER,
    },
    "backups.backuptarget": CONFIGURATION,
    "backups.repository": CONFIGURATION,
    "backups.backuprun": {**CONFIGURATION, "add": NEVER, "delete": NEVER},
    "backups.restorerun": {**RECORD, "change": MANAGER},
    "backups.rehearsal": {**RECORD, "change": MANAGER},
    "portal.userpreference": CONFIGURATION,
    "status.statuspage": CONFIGURATION,
    "status.publicincident": {**CONFIGURATION, "add": OPERATOR},
    "status.noticetemplate": CONFIGURATION,
    # Sent from the incident page after a preview; a record once sent.
    "status.notice": {**RECORD, "delete": MANAGER},
    "status.subscriber": CONFIGURATION,
    "portal.companyday": CONFIGURATION,
    "oncall.schedule": CONFIGURATION,
    "oncall.layer": CONFIGURATION,
    # An operator may add an override (their own); changing or deleting someone else's is a
    # manager's.
    "oncall.override": {**CONFIGURATION, "add": OPERATOR},
    "oncall.personalfeed": CONFIGURATION,
    "alerts.integration": CONFIGURATION,
    # Written by the intake only; managers may delete them.
    "alerts.alert": {**RECORD, "delete": MANAGER},
    "alerts.delivery": {**RECORD, "delete": MANAGER},
}
if "orm" in settings.Q_CLUSTER:
    # django-q2 shows its queue in the admin only with the ORM broker, not Redis
    ADMIN_RULES["django_q.ormq"] = {"view": VIEWER, "add": NEVER, "change": ADMIN, "delete": ADMIN}
ADMIN_VIEWS = (
    ("changelist", "GET", "view"),
    ("add", "GET", "add"),
    ("add", "POST", "add"),
    ("change", "GET", "view"),
    ("change", "POST", "change"),
    ("delete", "GET", "delete"),
    ("delete", "POST", "remove"),
    ("history", "GET", "view"),
)

# The one table: (url name, method, variant) → the lowest principal allowed.
RULES = {
    (f"{basename}-{route}", method, ""): role
    for basename, routes in API.items()
    for route, methods in routes.items()
    for method, role in methods.items()
}
RULES |= {
    (name, method, ""): role for name, methods in PAGES.items() for method, role in methods.items()
}
RULES |= {key: role for key, (_body, role) in VARIANTS.items()}
RULES |= {
    (f"admin:{label.replace('.', '_')}_{view}", method, ""): rules.get(permission, rules["delete"])
    for label, rules in ADMIN_RULES.items()
    for view, method, permission in ADMIN_VIEWS
}


# Discovering the requests ---------------------------------------------------------


def walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from walk(pattern.url_patterns, inner)
        elif (
            isinstance(pattern, URLPattern)
            and pattern.name
            and "format" not in str(pattern.pattern)
        ):
            yield ":".join(filter(None, [namespace, pattern.name])), pattern


def url_patterns() -> dict:
    """URL name → pattern, without the admin site (its model views are listed below) and DRF's
    `.json` twins."""
    return {
        name: pattern
        for name, pattern in walk(get_resolver().url_patterns)
        if not name.startswith("admin:") and not name.startswith("djdt:")
    }


def admin_views() -> dict:
    """The admin's URL name → (model, view) for the five views of every registered model."""
    views = {}
    for model in admin.site._registry:
        for view in ("changelist", "add", "change", "delete", "history"):
            views[f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"] = (model, view)
    return views


def declared_methods(callback) -> set[str] | None:
    """The methods a DRF view declares; None for a Django view (it is asked instead)."""
    if getattr(callback, "actions", None):  # a viewset route
        return {method.upper() for method in callback.actions} & {"GET", *WRITE_METHODS}
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None and issubclass(cls, APIView):
        return {method for method in ("GET", *WRITE_METHODS) if hasattr(cls, method.lower())}
    return None


def schema_operations() -> set[tuple[str, str]]:
    """(URL name, method) of every operation of the OpenAPI schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = set()
    for path, methods in schema["paths"].items():
        sample = path.replace("{token}", "00000000-0000-0000-0000-000000000000")
        sample = sample.replace("{id}", "0" * 32 if path.startswith("/api/v1/tasks") else "1")
        name = resolve(sample).view_name
        operations |= {
            (name, method.upper())
            for method in methods
            if method.upper() in ("GET", *WRITE_METHODS)
        }
    return operations


# The objects every route points at ---------------------------------------------


def _postmortem(world):
    incident = world["incident"]
    return Postmortem.objects.create(
        incident=incident,
        title="Disk full",
        severity=incident.severity,
        occurred_at=timezone.now() - timedelta(hours=1),
    )


def _target(world):
    folder = world["folder"]
    return BackupTarget.objects.create(
        name="db",
        service=world["service"],
        kind="sqlite",
        source=str(folder / "db.sqlite3"),
        destination=str(folder / "b"),
    )


BUILDERS = {
    "service": lambda w: make_service(),
    "tier": lambda w: make_tier(),
    "contact": lambda w: make_contact(tier=w["tier"], channel=False),
    "notificationchannel": lambda w: make_channel(w["contact"]),
    "route": lambda w: Route.objects.create(
        name="ops room",
        kind="webhook",
        target="https://hooks.example.com/r",
        events=["probe_warning"],
    ),
    "escalationpolicy": lambda w: make_policy(service=w["service"]),
    "maintenancewindow": lambda w: MaintenanceWindow.objects.create(
        service=w["service"], starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1)
    ),
    "recurringmaintenancewindow": lambda w: RecurringMaintenanceWindow.objects.create(
        service=w["service"], cron="0 2 * * 2", duration=timedelta(hours=2)
    ),
    "incident": lambda w: make_incident(w["service"]),
    "postmortem": _postmortem,
    "actionitem": lambda w: ActionItem.objects.create(
        postmortem=w["postmortem"], description="Alert on disk use"
    ),
    "checklisttemplate": lambda w: make_template(service=w["service"]),
    "checklistrun": lambda w: make_run(w["checklisttemplate"]),
    "runitem": lambda w: w["checklistrun"].items.first(),
    "handovernote": lambda w: HandoverNote.objects.create(run=make_run(w["checklisttemplate"])),
    "playbook": lambda w: Playbook.objects.create(
        title="API down", body="Restart it.", service=w["service"]
    ),
    "probe": lambda w: make_probe(w["service"], kind="memory"),
    "heartbeat": lambda w: make_probe(w["service"], kind="heartbeat", name="nightly job"),
    "host": lambda w: make_host(service=w["service"])[0],
    "backuptarget": _target,
    "backuprun": lambda w: BackupRun.objects.create(
        target=w["backuptarget"],
        trigger="manual",
        status="succeeded",
        file=str(w["folder"] / "b" / "db.sqlite3"),
        sha256="0" * 64,
    ),
    "notification": lambda w: Notification.objects.create(
        incident=w["incident"],
        contact=w["contact"],
        step=1,
        condition="not_acknowledged",
        kind="email",
        target="a@example.com",
    ),
    "proberesult": lambda w: ProbeResult.objects.create(probe=w["probe"], status="ok"),
    "integration": lambda w: Integration.objects.create(
        name="prometheus", kind="alertmanager", default_service=w["service"]
    ),
    "alert": lambda w: Alert.objects.create(
        integration=w["integration"], fingerprint="f1", title="Down"
    ),
    "delivery": lambda w: Delivery.objects.create(
        integration=w["integration"], status_code=200, body="{}"
    ),
    "restorerun": lambda w: RestoreRun.objects.create(
        backup=w["backuprun"], target=w["backuptarget"], destination=str(w["folder"] / "restored")
    ),
    "rehearsal": lambda w: Rehearsal.objects.create(target=w["backuptarget"]),
    "repository": lambda w: Repository.objects.create(
        name="nas", url=str(w["folder"] / "restic"), password="pw"
    ),
    "task": lambda w: Task.objects.create(
        id=uuid.uuid4().hex,
        name="t",
        func="portal.tasks.heartbeat",
        started=timezone.now(),
        stopped=timezone.now(),
        success=True,
    ),
    "schedule": lambda w: Schedule.objects.create(name="matrix", func="portal.tasks.heartbeat"),
    # Rows the admin lists but no route points at: their change, delete and history views need one.
    "accessattempt": lambda w: AccessAttempt.objects.create(
        username="x", ip_address="127.0.0.1", failures_since_start=1
    ),
    "accesslog": lambda w: AccessLog.objects.create(username="x", ip_address="127.0.0.1"),
    "accessfailurelog": lambda w: AccessFailureLog.objects.create(
        username="x", ip_address="127.0.0.1"
    ),
    "token": lambda w: Token.objects.create(
        user=get_user_model().objects.create_user("token-owner")
    ),
    "statuspage": lambda w: StatusPage.objects.create(
        slug="main", title_ko="상태", title_en="Status"
    ),
    "component": lambda w: Component.objects.create(
        page=w["statuspage"], service=w["service"], name_ko="웹", name_en="Web"
    ),
    "publicincident": lambda w: PublicIncident.objects.create(
        incident=w["incident"], title_en="Down"
    ),
    "notice": lambda w: Notice.objects.create(
        page=w["statuspage"],
        incident=w["incident"],
        kind="recovered",
        subject_ko="s",
        text_ko="t",
        subject_en="s",
        text_en="t",
    ),
    "subscriber": lambda w: Subscriber.objects.create(page=w["statuspage"], email="s@example.com"),
    "oncallschedule": lambda w: Schedule_.objects.create(name="primary"),
    "oncalllayer": lambda w: save_layer(
        layer=Layer(schedule=w["oncallschedule"], name="weekly"), member_ids=[w["contact"].pk]
    ),
    "override": lambda w: Override.objects.create(
        schedule=w["oncallschedule"],
        contact=w["contact"],
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=1),
    ),
    "personalfeed": lambda w: PersonalFeed.objects.create(contact=w["contact"]),
}


class World(dict):
    """The objects routes point at, each made the first time a route asks for it."""

    def __missing__(self, key):
        assert key in BUILDERS, (
            f"the permission matrix has no object for {key!r}: add it to BUILDERS"
        )
        self[key] = value = BUILDERS[key](self)
        return value


@pytest.fixture
def world(db, roles, settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    return World(folder=tmp_path)


def kwargs_for(name: str, pattern: URLPattern, world: dict) -> dict:
    """The URL arguments of a route, from the world's objects. A new route with arguments
    needs a line here."""
    params = set(pattern.pattern.regex.groupindex)
    basename = name.rsplit("-", 1)[0]
    app = name.split(":")[0] if ":" in name else ""
    pk_of = {
        "incidents": (
            "actionitem"
            if name == "incidents:action-item-complete"
            else "route"
            if name.startswith("incidents:route")
            else "incident"
        ),
        "checklists": (
            "handovernote"
            if name == "checklists:handover-acknowledge"
            else "playbook"
            if name.startswith("checklists:playbook")
            else "checklisttemplate"
            if name == "checklists:template"
            else "checklistrun"
        ),
        "probes": "host" if name.startswith("probes:host") else "probe",
        "backups": (
            "backuptarget"
            if name in ("backups:target", "backups:run-now")
            else "repository"
            if name.startswith("backups:repository")
            else "backuprun"
        ),
        "status": "component" if name == "status:component-override" else "incident",
        "oncall": (
            "personalfeed"
            if name == "oncall:personal-feed"
            else "override"
            if name == "oncall:override-delete"
            else "oncallschedule"
        ),
        "alerts": "integration",
    }.get(app, basename)
    if app == "status":
        world["component"]  # the incident's service is on the page
    if name.startswith("incidents:postmortem"):
        pk_of = "postmortem"  # its pages are addressed by the incident's id
    known = {
        "pk": lambda: (
            world[pk_of].incident_id
            if pk_of == "postmortem" and app
            else world[pk_of].contact_id
            if pk_of == "personalfeed"
            else world[pk_of].pk
        ),
        "item_pk": lambda: world["runitem"].pk,
        "incident_pk": lambda: world["incident"].pk,
        "kind": lambda: "http",
        "token": lambda: (
            world["subscriber"].token
            if app == "status"
            else world["oncallschedule"].feed_token
            if name == "oncall:feed"
            else world["personalfeed"].token
            if name == "oncall:personal-feed"
            else world["integration"].token
            if name == "integration-alerts"
            else acklinks.make_token(world["notification"])
            if name == "incidents:ack-link"
            else world["heartbeat"].token
        ),
        "slug": lambda: world["statuspage"].slug,
    }
    missing = params - set(known)
    assert not missing, f"the permission matrix needs URL arguments {missing} for {name}"
    return {param: known[param]() for param in params}


def client_for(role: str, make_user, *, api: bool, staff: bool = False):
    client = APIClient() if api else Client()
    if role == PUBLIC:
        return client
    user = make_user(None if role == NOBODY else role)
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
    if api:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    else:
        client.force_login(user)
    return client


def is_api(pattern: URLPattern) -> bool:
    return declared_methods(pattern.callback) is not None


def send(client, method: str, url: str, body: dict, *, api: bool):
    # Each request is rolled back: every rule is checked against the same world, in any order,
    # and the session too (a page logs out).
    cookies = copy.deepcopy(client.cookies)
    with transaction.atomic():
        if api:
            response = getattr(client, method.lower())(url, body, format="json")
        else:
            response = getattr(client, method.lower())(url, body)
        transaction.set_rollback(True)
    client.cookies = cookies
    return response


def verdict(principal: str, rule: str, response, *, api: bool) -> str | None:
    """What is wrong with the answer, or None."""
    status = response.status_code
    to_login = status == 302 and "/login/" in response["Location"]
    if RANK[principal] >= RANK[rule]:
        # A logged-in user is never sent to the login page for lack of a role (logout may go there).
        if status in (401, 403, 404, 405) or (to_login and principal == PUBLIC):
            return f"should be allowed, got {status}"
    elif principal == PUBLIC:
        if not (status in (401, 403) if api else to_login):
            return f"should be sent to log in, got {status}"
    elif status != 403:
        return f"should be refused, got {status}"
    return None


def prepared(world) -> list:
    """Every rule outside the admin with its URL, its pattern and its body; the world built
    first."""
    patterns = url_patterns()
    requests = []
    for name, method, variant in sorted(RULES):
        if name.startswith("admin:"):
            continue
        pattern = patterns[name]
        body = VARIANTS[(name, method, variant)][0] if variant else {}
        url = reverse(name, kwargs=kwargs_for(name, pattern, world))
        requests.append((name, method, variant, url, body, is_api(pattern)))
    return requests


def admin_url(name: str, model, view: str) -> str:
    if view in ("changelist", "add"):
        return reverse(name)
    obj = model._default_manager.order_by("pk").first()
    return reverse(name, args=[obj.pk if obj is not None else 0])


# The tests -------------------------------------------------------------------------


def test_the_table_lists_exactly_the_requests_the_urls_and_the_schema_offer(world, make_user):
    """API views say their methods, and the schema lists its operations; a page is asked: it
    offers GET and POST unless it answers an admin with 405 (read-only pages say
    `@require_safe`)."""
    admin_user = make_user(ADMIN)
    offered = set()
    for name, pattern in url_patterns().items():
        methods = declared_methods(pattern.callback)
        if methods is None:
            url = reverse(name, kwargs=kwargs_for(name, pattern, world))
            client = Client()  # a fresh session each time: one of the pages logs out
            client.force_login(admin_user)
            methods = {
                method
                for method in ("GET", "POST")
                if send(client, method, url, {}, api=False).status_code != 405
            }
        offered |= {(name, method, "") for method in methods}
    offered |= {(name, method, "") for name, method in schema_operations()}
    offered |= {
        (name, method, "")
        for name in admin_views()
        for _view, method, _perm in ADMIN_VIEWS
        if name.endswith(f"_{_view}")
    }
    listed = {key for key in RULES if not key[2]}
    assert not offered - listed, (
        f"requests without a rule in the permission matrix: {sorted(offered - listed)}"
    )
    assert not listed - offered, (
        f"rules for requests the URLs do not offer: {sorted(listed - offered)}"
    )


@pytest.mark.parametrize("principal", ROLES)
def test_each_principal_may_do_exactly_what_the_table_says(world, make_user, principal):
    requests = prepared(world)
    clients = {api: client_for(principal, make_user, api=api) for api in (False, True)}
    wrong = []
    for name, method, variant, url, body, api in requests:
        response = send(clients[api], method, url, body, api=api)
        problem = verdict(principal, RULES[(name, method, variant)], response, api=api)
        if problem:
            wrong.append(f"{method} {name}{f' ({variant})' if variant else ''}: {problem}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("principal", "staff"),
    [(PUBLIC, False)] + [(principal, staff) for principal in ROLES[1:] for staff in (True, False)],
)
def test_each_principal_may_do_in_the_admin_exactly_what_the_table_says(
    world, make_user, principal, staff
):
    """The staff flag opens the admin; the role still decides (a viewer with is_staff writes
    nothing)."""
    for key in BUILDERS:
        world.setdefault(key, world[key])  # every model has a row to open
    client = client_for(principal, make_user, api=False, staff=staff)
    wrong = []
    for name, (model, view) in sorted(admin_views().items(), key=lambda item: item[0]):
        url = admin_url(name, model, view)
        for admin_view, method, _permission in ADMIN_VIEWS:
            if admin_view != view:
                continue
            response = send(
                client, method, url, {"post": "yes"} if view == "delete" else {}, api=False
            )
            if staff or principal == PUBLIC:
                rule = RULES[(name, method, "")] if principal != PUBLIC else VIEWER
                problem = verdict(principal, rule, response, api=False)
            elif principal == NOBODY:
                problem = (
                    None
                    if response.status_code == 403
                    else f"should be refused, got {response.status_code}"
                )
            else:
                to_login = response.status_code == 302 and "/admin/login/" in response["Location"]
                problem = (
                    None
                    if to_login
                    else f"should be sent to the admin login, got {response.status_code}"
                )
            if problem:
                wrong.append(f"{method} {name}: {problem}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("role", "staff", "opens"),
    [
        (PUBLIC, False, False),
        (VIEWER, False, False),
        (OPERATOR, False, False),
        (MANAGER, False, False),
        (MANAGER, True, True),
        (ADMIN, True, True),
    ],
)
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
