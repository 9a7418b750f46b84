"""SQL queries per request do not grow with the page size or the data (DESIGN §9).

Every list endpoint of the API router is covered: the test walks the router, so
a new list endpoint (or GET action) without a data builder here fails
`test_every_api_list_endpoint_has_a_builder` until one is added. Each builder
adds `n` rows as the endpoint lists them, with their own related rows (service,
contacts, items, runs…), which is what an N+1 query needs to show.
"""

import uuid
from datetime import timedelta
from itertools import count

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from django_q.models import Schedule, Task
from rest_framework.authtoken.models import Token

from alerts.models import Delivery, Integration
from backups.models import BackupRun, BackupTarget, Rehearsal, Repository, RestoreRun
from checklists.models import HandoverNote, Playbook
from incidents.models import (
    ActionItem,
    EventKind,
    MaintenanceWindow,
    Notification,
    Postmortem,
    RecurringMaintenanceWindow,
    Route,
    TimelineEvent,
)
from oncall.models import Layer, Override
from oncall.models import Schedule as OnCallSchedule
from oncall.services import save_layer
from portal.urls import router
from probes.models import ProbeResult
from status.models import Component, PublicIncident, PublicUpdate, StatusPage
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

pytestmark = pytest.mark.django_db

_seq = count(1)
SMALL = 6  # more than the small page (5) so that page holds fewer rows than the data


def _user():
    return get_user_model().objects.create_user(f"user-{next(_seq)}")


def _resolved_incident(**fields):
    now = timezone.now()
    incident = make_incident(
        make_service(owner=make_contact()),
        severity="sev1",
        status="resolved",
        created_at=now - timedelta(hours=2),
        acknowledged_at=now - timedelta(hours=1),
        resolved_at=now - timedelta(minutes=30),
        commander=_user(),
        **fields,
    )
    incident.responders.add(_user())
    TimelineEvent.objects.create(
        incident=incident, kind=EventKind.NOTE, actor_user=_user(), message="note"
    )
    return incident


def _postmortem(incident=None):
    incident = incident or _resolved_incident()
    postmortem = Postmortem.objects.create(
        incident=incident,
        title=incident.title,
        severity=incident.severity,
        occurred_at=incident.created_at,
        author=_user(),
    )
    postmortem.reviewers.add(_user())
    postmortem.timeline_events.add(*incident.events.all())
    ActionItem.objects.create(postmortem=postmortem, description="fix it", owner=make_contact())
    return postmortem


def _target():
    return BackupTarget.objects.create(
        name=f"t-{uuid.uuid4().hex[:8]}",
        service=make_service(),
        kind="sqlite",
        source="/tmp/x.sqlite3",
        destination="/tmp/backups",
    )


def _backup_run(target=None):
    return BackupRun.objects.create(
        target=target or _target(),
        trigger="manual",
        status="succeeded",
        requested_by=_user(),
        finished_at=timezone.now(),
    )


def tasks(n, state):
    now = timezone.now()
    for i in range(n):
        Task.objects.create(
            id=uuid.uuid4().hex,
            name=f"task-{next(_seq)}",
            func="portal.tasks.heartbeat",
            started=now - timedelta(seconds=i),
            stopped=now,
            success=bool(i % 2),
        )


def schedules(n, state):
    for _ in range(n):
        Schedule.objects.create(
            name=f"schedule-{next(_seq)}",
            func="portal.tasks.heartbeat",
            schedule_type=Schedule.MINUTES,
            minutes=5,
        )


def services_(n, state):
    for _ in range(n):
        make_service(owner=make_contact())


def tiers(n, state):
    for _ in range(n):
        make_tier()


def contacts(n, state):
    for _ in range(n):
        contact = make_contact(tier=make_tier(), user=_user())
        make_channel(contact, kind="slack", target="https://hooks.example.com/services/T/B/x")


def channels(n, state):
    for _ in range(n):
        make_channel(
            make_contact(channel=False), kind="webhook", target="https://hooks.example.com/x"
        )


def policies(n, state):
    for _ in range(n):
        make_policy(
            "sev1",
            [
                {"tier": make_tier(), "contacts": [make_contact(), make_contact()]},
                {"after": timedelta(minutes=30), "tier": make_tier()},
            ],
            service=make_service(),
        )


def maintenance_windows(n, state):
    now = timezone.now()
    for _ in range(n):
        MaintenanceWindow.objects.create(
            service=make_service(),
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            created_by=_user(),
        )


def incidents(n, state):
    for _ in range(n):
        _resolved_incident()


def timeline(n, state):
    if "incident" not in state:
        state["incident"] = make_incident()
    for _ in range(n):
        TimelineEvent.objects.create(
            incident=state["incident"],
            kind=EventKind.NOTE,
            message="note",
            actor_user=_user(),
            actor_contact=make_contact(),
        )
    return reverse("incident-timeline", args=[state["incident"].pk])


def notifications(n, state):
    for _ in range(n):
        contact = make_contact()
        Notification.objects.create(
            incident=make_incident(),
            step=0,
            condition="not_resolved",
            contact=contact,
            channel=contact.channels.get(),
            kind="email",
            target=contact.email,
        )


def routes(n, state):
    for i in range(n):
        route = Route.objects.create(
            name=f"route {Route.objects.count()}-{i}",
            kind="webhook",
            target="https://hooks.example.com/r",
            events=["probe_warning"],
        )
        route.services.add(make_service(), make_service())


def backup_targets(n, state):
    for _ in range(n):
        _target()


def backup_runs(n, state):
    for _ in range(n):
        _backup_run()


def restores(n, state):
    for _ in range(n):
        run = _backup_run()
        RestoreRun.objects.create(
            backup=run,
            target=run.target,
            destination="/tmp/restored",
            safety_run=_backup_run(run.target),
            requested_by=_user(),
        )


def rehearsals(n, state):
    for _ in range(n):
        run = _backup_run()
        Rehearsal.objects.create(target=run.target, backup=run, passed=True)


def postmortems(n, state):
    for _ in range(n):
        _postmortem()


def action_items(n, state):
    for _ in range(n):
        ActionItem.objects.create(
            postmortem=_postmortem(),
            description="more",
            owner=make_contact(),
            due_date=timezone.localdate(),
        )


def report(n, state):
    for _ in range(n):
        _postmortem()


def probes(n, state):
    for _ in range(n):
        probe = make_probe(service=make_service(), next_run_at=timezone.now() + timedelta(hours=1))
        ProbeResult.objects.create(probe=probe, status="ok", value=1.0, latency_ms=1.0)


def probe_results(n, state):
    for _ in range(n):
        ProbeResult.objects.create(
            probe=make_probe(next_run_at=timezone.now() + timedelta(hours=1)),
            status="critical",
            message="down",
        )


def checklist_templates(n, state):
    for _ in range(n):
        make_template(
            sections=[
                {"title": "a", "items": [{"text": "one"}, {"text": "two"}]},
                {"title": "b", "items": [{"text": "three"}]},
            ],
            assignee_tier=make_tier(),
        )


def checklist_runs(n, state):
    for _ in range(n):
        make_run(by=_user())


def handover_notes(n, state):
    for _ in range(n):
        HandoverNote.objects.create(
            run=make_run(), author=_user(), acknowledged_by=_user(), text="all quiet"
        )


def playbooks(n, state):
    for _ in range(n):
        Playbook.objects.create(
            title=f"playbook-{next(_seq)}",
            service=make_service(),
            body="# Fix",
            template=make_template(),
        )


def integrations(n, state):
    for _ in range(n):
        Integration.objects.create(
            name=f"integration-{next(_seq)}",
            kind="alertmanager",
            default_service=make_service(),
            rules=[{"match": [{"label": "a", "op": "exists"}], "page": False}],
        )


def integration_deliveries(n, state):
    if "integration" not in state:
        state["integration"] = Integration.objects.create(
            name=f"integration-{next(_seq)}", kind="grafana", default_service=make_service()
        )
    for _ in range(n):
        Delivery.objects.create(
            integration=state["integration"], status_code=200, body="{}", alert_count=1
        )
    return reverse("integration-deliveries", args=[state["integration"].pk])


def repositories(n, state):
    for _ in range(n):
        Repository.objects.create(
            name=f"repo-{next(_seq)}", url=f"/srv/restic/{next(_seq)}", password="pw"
        )


def recoverability(n, state):
    for _ in range(n):  # each service with a target, runs and a rehearsal
        run = _backup_run()
        Rehearsal.objects.create(target=run.target, backup=run, passed=True)


def recurring_windows(n, state):
    for _ in range(n):
        RecurringMaintenanceWindow.objects.create(
            service=make_service(),
            cron="0 2 * * 2",
            duration=timedelta(hours=2),
            created_by=_user(),
        )


def _on_call_schedule(members: int = 2) -> OnCallSchedule:
    schedule = OnCallSchedule.objects.create(name=f"schedule-{next(_seq)}")
    save_layer(
        layer=Layer(schedule=schedule, name="weekly"),
        member_ids=[make_contact().pk for _ in range(members)],
    )
    Override.objects.create(
        schedule=schedule,
        contact=make_contact(),
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=1),
        created_by=_user(),
    )
    return schedule


def on_call_schedules(n, state):
    for _ in range(n):
        _on_call_schedule()


def on_call_layers(n, state):
    for _ in range(n):
        save_layer(
            layer=Layer(schedule=_on_call_schedule(), name=f"layer-{next(_seq)}", level=2),
            member_ids=[make_contact().pk, make_contact().pk],
        )


def overrides(n, state):
    for _ in range(n):
        _on_call_schedule()


def on_call_now(n, state):
    # Who is on call: the schedule's layers, members and overrides grow; the answer's queries must
    # not.
    if "schedule" not in state:
        state["schedule"] = _on_call_schedule()
    for _ in range(n):
        save_layer(
            layer=Layer(
                schedule=state["schedule"], name=f"layer-{next(_seq)}", level=next(_seq) + 2
            ),
            member_ids=[make_contact().pk],
        )
        later = timezone.now() + timedelta(days=2)
        Override.objects.create(
            schedule=state["schedule"],
            contact=make_contact(),
            starts_at=later,
            ends_at=later + timedelta(days=1),
        )
    return reverse("oncallschedule-now", args=[state["schedule"].pk])


# URL name → builder(n, state) that adds n listed rows; it may return the URL to
# request (for actions on one object), else `reverse(name)` is used.
API_LISTS = {
    "task-list": tasks,
    "schedule-list": schedules,
    "service-list": services_,
    "tier-list": tiers,
    "contact-list": contacts,
    "notificationchannel-list": channels,
    "escalationpolicy-list": policies,
    "maintenancewindow-list": maintenance_windows,
    "incident-list": incidents,
    "incident-timeline": timeline,
    "notification-list": notifications,
    "route-list": routes,
    "backuptarget-list": backup_targets,
    "backuprun-list": backup_runs,
    "restorerun-list": restores,
    "rehearsal-list": rehearsals,
    "postmortem-list": postmortems,
    "actionitem-list": action_items,
    "report-incidents": report,
    "probe-list": probes,
    "proberesult-list": probe_results,
    "checklisttemplate-list": checklist_templates,
    "checklistrun-list": checklist_runs,
    "handovernote-list": handover_notes,
    "playbook-list": playbooks,
    "integration-list": integrations,
    "integration-deliveries": integration_deliveries,
    "repository-list": repositories,
    "recoverability-list": recoverability,
    "recurringmaintenancewindow-list": recurring_windows,
    "oncallschedule-list": on_call_schedules,
    "oncallschedule-now": on_call_now,
    "oncalllayer-list": on_call_layers,
    "override-list": overrides,
}
UNPAGED = {"report-incidents", "recoverability-list"}  # one answer, not a page of rows


def api_list_endpoints() -> set[str]:
    """URL names of every list route and every GET action of the API router."""
    names = set()
    for _prefix, viewset, basename in router.registry:
        if hasattr(viewset, "list"):
            names.add(f"{basename}-list")
        for action in viewset.get_extra_actions():
            if "get" in action.mapping:
                names.add(f"{basename}-{action.url_name}")
    return names


def test_every_api_list_endpoint_has_a_builder():
    assert api_list_endpoints() == set(API_LISTS), (
        "add a builder to API_LISTS for each new list endpoint"
    )


def queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.content[:300])
    return len(captured)


def counts(client, name, build, page_param):
    """Queries for page size 5 and 50 on SMALL rows, then page size 50 on 3 × SMALL rows."""
    state = {}
    url = build(SMALL, state) or reverse(name)
    client.get(url)  # warm per-process caches (content types, permissions) outside the count
    small = {"page_size": 5} if page_param else {}
    figures = [
        queries(client, url, **small),
        queries(client, url, **({"page_size": 50} if page_param else {})),
    ]
    build(2 * SMALL, state)
    figures.append(queries(client, url, **({"page_size": 50} if page_param else {})))
    return figures


@pytest.mark.parametrize("name", sorted(API_LISTS))
def test_api_list_queries_do_not_grow_with_page_size_or_data(name, api_as):
    api = api_as("admin")
    small, large, more = counts(api, name, API_LISTS[name], page_param=name not in UNPAGED)
    assert small == large == more, (
        f"{name}: {small} queries at page size 5, {large} at 50, {more} with 3× data"
    )


# HTML pages: name → (builder, page URL or None for reverse(name)).
def incident_detail(n, state):
    if "incident" not in state:
        state["incident"] = _resolved_incident(title="detail")
    for _ in range(n):
        TimelineEvent.objects.create(
            incident=state["incident"], kind=EventKind.NOTE, message="note", actor_user=_user()
        )
        Notification.objects.create(
            incident=state["incident"],
            step=0,
            repeat=next(_seq),
            contact=make_contact(),
            condition="not_resolved",
            kind="email",
            target="x@example.com",
        )
    return reverse("incidents:detail", args=[state["incident"].pk])


def dashboard(n, state):
    postmortems(n, state)
    for _ in range(n):
        make_incident(make_service(), severity="sev1")  # open ones
    probes(n, state)
    backup_runs(n, state)
    checklist_runs(n, state)


def backup_run_pages(n, state):
    backup_runs(n, state)
    restores(n, state)


# Issue 22: every list and detail page. A detail page's builder grows what the one object shows
# (its runs, results, items, layers, deliveries…) and returns its URL.
def postmortem_page(name):
    def build(n, state):
        if "postmortem" not in state:
            state["postmortem"] = _postmortem()
        postmortem = state["postmortem"]
        for _ in range(n):
            event = TimelineEvent.objects.create(
                incident=postmortem.incident,
                kind=EventKind.NOTE,
                message="note",
                actor_user=_user(),
            )
            postmortem.timeline_events.add(event)
            ActionItem.objects.create(
                postmortem=postmortem, description="more", owner=make_contact()
            )
            postmortem.reviewers.add(_user())
        return reverse(name, args=[postmortem.incident_id])

    return build


def who_to_call(n, state):
    for _ in range(n):
        make_contact(tier=make_tier(), user=_user())
    policies(n, state)


def backup_target_page(n, state):
    if "target" not in state:
        state["target"] = _target()
    for _ in range(n):
        run = _backup_run(state["target"])
        Rehearsal.objects.create(target=run.target, backup=run, passed=True)
    return reverse("backups:target", args=[state["target"].pk])


def backup_run_page(n, state):
    if "run" not in state:
        state["run"] = _backup_run()
    run = state["run"]
    for _ in range(n):
        RestoreRun.objects.create(
            backup=run,
            target=run.target,
            destination="/tmp/restored",
            safety_run=_backup_run(run.target),
            requested_by=_user(),
        )
    return reverse("backups:run", args=[run.pk])


def repository_page(n, state):
    if "repository" not in state:
        repositories(1, state)
        state["repository"] = Repository.objects.latest("pk")
    for _ in range(n):
        target = _target()
        target.repository = state["repository"]
        target.save(update_fields=["repository"])
    return reverse("backups:repository", args=[state["repository"].pk])


def probe_page(n, state):
    if "probe" not in state:
        state["probe"] = make_probe(next_run_at=timezone.now() + timedelta(hours=1))
    for _ in range(n):
        ProbeResult.objects.create(probe=state["probe"], status="ok", value=1.0, latency_ms=2.0)
    recurring_windows(1, state)
    RecurringMaintenanceWindow.objects.filter(service__isnull=False).update(
        service=state["probe"].service
    )
    return reverse("probes:detail", args=[state["probe"].pk])


def hosts(n, state):
    for _ in range(n):
        host, _token = make_host(name=f"host-{next(_seq)}")
        make_probe(host.service, kind="host_file", host=host, config={"path": "/var/log/app.log"})


def host_page(n, state):
    if "host" not in state:
        state["host"], _token = make_host(name=f"host-{next(_seq)}")
    host = state["host"]
    for _ in range(n):
        make_probe(host.service, kind="host_file", host=host, config={"path": "/var/log/app.log"})
    return reverse("probes:host", args=[host.pk])


def checklist_run_page(n, state):
    # A run snapshots its template's items: the page of a new run with more items.
    state["items"] = state.get("items", 0) + n
    run = make_run(make_template(items=[f"item {i}" for i in range(state["items"])]), by=_user())
    return reverse("checklists:run", args=[run.pk])


def checklist_template_page(n, state):
    state["items"] = state.get("items", 0) + n
    template = make_template(
        sections=[
            {"title": f"s{i}", "items": [{"text": "one"}, {"text": "two"}]}
            for i in range(state["items"])
        ],
        assignee_tier=make_tier(),
    )
    for _ in range(n):
        make_run(template, by=_user())
    return reverse("checklists:template", args=[template.pk])


def playbook_page(n, state):
    playbooks(n, state)
    return reverse("checklists:playbook", args=[Playbook.objects.latest("pk").pk])


def _status_page(state):
    if "page" not in state:
        state["page"] = StatusPage.objects.create(
            slug=f"page-{next(_seq)}", title_ko="상태", title_en="Status"
        )
    return state["page"]


def status_pages(n, state):
    page = _status_page(state)
    for i in range(n):
        incident = _resolved_incident()
        Component.objects.create(
            page=page,
            service=incident.service,
            name_ko=f"구성 {i}",
            name_en=f"Component {i}",
            position=next(_seq),
        )
        public = PublicIncident.objects.create(incident=incident, title_en="Down", title_ko="장애")
        PublicUpdate.objects.create(
            public_incident=public, status="investigating", text_en="Looking", text_ko="확인 중"
        )


def status_page(name):
    def build(n, state):
        status_pages(n, state)
        return reverse(name, args=[_status_page(state).slug])

    return build


def on_call_page(n, state):
    if "schedule" not in state:
        state["schedule"] = _on_call_schedule()
    on_call_now(n, state)
    return reverse("oncall:detail", args=[state["schedule"].pk])


def integration_page(n, state):
    integration_deliveries(n, state)
    return reverse("alerts:integration", args=[state["integration"].pk])


def api_tokens(n, state):
    for _ in range(n):
        Token.objects.create(user=_user())


PAGES = {
    "dashboard": dashboard,
    "audit": incidents,
    "api-token": api_tokens,
    "api-tokens": api_tokens,
    "incidents:list": incidents,
    "incidents:detail": incident_detail,
    "incidents:who-to-call": who_to_call,
    "incidents:postmortems": postmortems,
    "incidents:postmortem": postmortem_page("incidents:postmortem"),
    "incidents:postmortem-print": postmortem_page("incidents:postmortem-print"),
    "incidents:reports": report,
    "incidents:routes": routes,
    "probes:grid": probes,
    "probes:detail": probe_page,
    "probes:hosts": hosts,
    "probes:host": host_page,
    "checklists:my-shift": checklist_runs,
    "checklists:runs": checklist_runs,
    "checklists:run": checklist_run_page,
    "checklists:templates": checklist_templates,
    "checklists:template": checklist_template_page,
    "checklists:playbooks": playbooks,
    "checklists:playbook": playbook_page,
    "backups:targets": backup_targets,
    "backups:target": backup_target_page,
    "backups:runs": backup_run_pages,
    "backups:run": backup_run_page,
    "backups:repositories": repositories,
    "backups:repository": repository_page,
    "backups:scorecard": recoverability,
    "oncall:list": on_call_schedules,
    "oncall:detail": on_call_page,
    "alerts:integrations": integrations,
    "alerts:integration": integration_page,
    "status:pages": status_pages,
    "status:page": status_page("status:page"),
    "status:json": status_page("status:json"),
    "status:feed": status_page("status:feed"),
}
# The other routes outside the API: forms (their GET shows one object's form or none), actions
# (POST), downloads and calendar feeds, and the account pages of Django's auth.
NOT_PAGES = {
    *("login", "logout", "password_change", "password_change_done", "set_language"),
    *("api-token-create", "api-token-revoke", "api-tokens-revoke"),
    *("incidents:declare", "incidents:acknowledge", "incidents:ack-link", "incidents:mitigate"),
    *("incidents:resolve", "incidents:close", "incidents:reopen", "incidents:add-note"),
    *("incidents:postmortem-edit", "incidents:postmortem-submit", "incidents:postmortem-publish"),
    *("incidents:postmortem-markdown", "incidents:route-new", "incidents:route-edit"),
    *("incidents:route-delete", "incidents:action-item-complete"),
    *("backups:run-now", "backups:verify", "backups:restore", "backups:repository-new"),
    *("backups:repository-edit", "backups:repository-init", "backups:repository-refresh"),
    "backups:repository-check",
    *("probes:choose-kind", "probes:create", "probes:edit", "probes:run", "probes:host-create"),
    *("probes:host-edit", "probes:host-token", "probes:host-agent"),
    *("checklists:tick", "checklists:untick", "checklists:open-incident", "checklists:complete"),
    *("checklists:handover-acknowledge", "checklists:start-for-incident", "checklists:import"),
    *("checklists:playbook-new", "checklists:playbook-edit"),
    *("status:subscribe", "status:confirm", "status:unsubscribe", "status:component-override"),
    *("status:mark-public", "status:post-update", "status:notice"),
    *("oncall:override-add", "oncall:override-delete", "oncall:feed", "oncall:personal-feed"),
    *("alerts:create", "alerts:edit", "alerts:rotate"),
}


# Whatever the page: the session, the user, the menu's permissions, and a query or a few per panel.
MAX_PAGE_QUERIES = 30


def html_url_names(resolver=None, namespace="", prefix="") -> set[str]:
    """Names of every route outside /api/ and the admin."""
    resolver = resolver or get_resolver()
    names = set()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if route.startswith("api/"):
            continue
        if isinstance(pattern, URLResolver):
            if pattern.app_name != "admin":
                inner = pattern.namespace or namespace
                names |= html_url_names(pattern, inner, route)
        elif pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_page_has_a_builder():
    assert html_url_names() - NOT_PAGES == set(PAGES), (
        "add a builder to PAGES for each new list or detail page (or the route to NOT_PAGES)"
    )


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_queries_do_not_grow_with_data(name, client_as):
    client = client_as("admin")
    state = {}
    url = PAGES[name](SMALL, state) or reverse(name)
    client.get(url)
    # Each count renders the page: a rendering the cache kept (status pages, for their 15 s slot)
    # answered the first count and, when the slot ended in between, not the second.
    cache.clear()
    small = queries(client, url)
    # A builder may answer a new object's page (a run with more items): that one is counted.
    url = PAGES[name](2 * SMALL, state) or url
    cache.clear()
    more = queries(client, url)
    assert small == more, f"{name}: {small} queries, {more} with 3× the data"
    assert more <= MAX_PAGE_QUERIES, f"{name}: {more} queries"
