"""Timeline events are kind + parameters, written as sentences when shown, in the reader's
language."""

import importlib
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.utils import translation

from incidents import services
from incidents.models import EventKind, TimelineEvent
from incidents.timeline import RENDERERS, render
from tests.incidents.factories import (
    make_contact,
    make_incident,
    make_policy,
    make_service,
    make_tier,
)
from tests.incidents.worker import worker

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
migration = importlib.import_module("incidents.migrations.0015_i23_timeline_params")


def texts(incident, language):
    with translation.override(language):
        return [
            event.text
            for event in TimelineEvent.objects.filter(incident=incident).order_by("at", "id")
        ]


@pytest.fixture
def service(db):
    return make_service("api")


def test_an_incidents_events_store_parameters_and_read_in_english_or_korean(
    service, operator_user, mailoutbox
):
    tier = make_tier(1)
    make_contact("Mina", tier=tier)
    make_policy("sev1", [{"after": timedelta(0), "tier": tier}])
    with time_machine.travel(T0, tick=False):
        incident, _created = services.open_incident(
            service=service, title="API down", severity="sev1"
        )
    with time_machine.travel(T0, tick=False), worker():
        services.escalate_due(now=T0)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.acknowledge(incident=incident, by=operator_user)
        services.add_note(incident=incident, by=operator_user, text="restarted the API container")
        services.resolve(incident=incident, by=operator_user)

    stored = TimelineEvent.objects.filter(incident=incident).exclude(kind=EventKind.NOTE)
    # no sentence stored, in any language
    assert set(stored.values_list("message", flat=True)) == {""}
    assert texts(incident, "en") == [
        "Opened: API down",
        "Step 1: paging Mina.",
        "e-mail sent to Mina.",
        "triggered → acknowledged",
        "restarted the API container",
        "acknowledged → resolved",
        "Paged Mina (step 1, 01:00); acknowledged by operator-1 at 01:05.",
    ]
    assert texts(incident, "ko") == [
        "장애 열림: API down",
        "1단계: Mina 호출.",
        "Mina에게 이메일 발송.",
        "발생 → 확인됨",
        "restarted the API container",
        "확인됨 → 해결됨",
        "호출: Mina (1단계, 01:00); 01:05에 operator-1 확인.",
    ]


@pytest.fixture
def operator_user(make_user):
    return make_user("operator")


def test_an_edit_names_its_fields_and_choices_in_the_readers_language(service, operator_user):
    incident, _created = services.open_incident(service=service, title="API down", severity="sev1")
    other = make_service("web")
    services.edit_incident(
        incident=incident, by=operator_user, changes={"severity": "sev4", "service": other}
    )
    change = TimelineEvent.objects.get(incident=incident, kind=EventKind.CHANGE)
    assert change.message == ""
    with translation.override("en"):
        assert change.text == "service: api → web; severity: SEV1 · critical → SEV4 · low"
    with translation.override("ko"):
        assert change.text == "서비스: api → web; 심각도: SEV1 · 치명적 → SEV4 · 낮음"


def test_an_unknown_kind_or_variant_or_missing_parameter_shows_the_stored_message(service):
    incident = make_incident(service)
    rows = [
        TimelineEvent(
            incident=incident,
            kind=EventKind.ALERT,
            message="from the future",
            data={"variant": "new"},
        ),
        TimelineEvent(incident=incident, kind="resolution", message="a kind added elsewhere"),
        TimelineEvent(incident=incident, kind=EventKind.CREATED, message="Declared by the lead."),
        TimelineEvent(incident=incident, kind=EventKind.NOTE, message="free text", data={}),
    ]
    assert [render(event) for event in rows] == [
        "from the future",
        "a kind added elsewhere",
        "Declared by the lead.",
        "free text",
    ]


def test_adding_a_sentence_is_one_entry_in_the_dispatch_table(service, monkeypatch):
    incident = make_incident(service)
    event = TimelineEvent(
        incident=incident, kind="resolution", message="", data={"summary": "rolled back"}
    )
    monkeypatch.setitem(
        RENDERERS, ("resolution", ""), lambda data, message: f"Summary: {data['summary']}"
    )
    assert event.text == "Summary: rolled back"


def test_the_api_gives_each_event_its_text_in_the_requests_language_and_keeps_its_fields(
    api_as, service
):
    incident, _created = services.open_incident(service=service, title="API down", severity="sev2")
    api = api_as("viewer")
    english = api.get(f"/api/v1/incidents/{incident.pk}/timeline").json()["results"][0]
    korean = api.get(f"/api/v1/incidents/{incident.pk}/timeline", HTTP_ACCEPT_LANGUAGE="ko").json()[
        "results"
    ][0]
    assert {"id", "incident", "at", "kind", "actor", "message", "data"} <= set(english)
    assert (english["text"], korean["text"]) == ("Opened: API down", "장애 열림: API down")
    assert english["data"]["title"] == "API down"


OLD_ROWS = [
    # (kind, message, data, English text after, message after)
    ("created", "Opened: API down", {"severity": "sev1"}, "Opened: API down", ""),
    (
        "duplicate",
        "Repeated alert: API down again",
        {"title": "API down again"},
        "Repeated alert: API down again",
        "",
    ),
    (
        "status",
        "triggered → acknowledged",
        {"from": "triggered", "to": "acknowledged"},
        "triggered → acknowledged",
        "",
    ),
    (
        "status",
        "triggered → acknowledged by Mina Seo (link in the page)",
        {"from": "triggered", "to": "acknowledged", "link": 4},
        "triggered → acknowledged by Mina Seo (link in the page)",
        "",
    ),
    (
        "status",
        "re-triggered: 3 failures",
        {"from": "resolved", "to": "triggered"},
        "re-triggered: 3 failures",
        "3 failures",
    ),
    (
        "status",
        "it is back",
        {"from": "resolved", "to": "triggered"},
        "resolved → triggered: it is back",
        "it is back",
    ),
    (
        "escalation",
        "Step 1: paging Mina Seo.",
        {"step": 0, "repeat": 0},
        "Step 1: paging Mina Seo.",
        "",
    ),
    (
        "escalation",
        "Step 2 (repeat 1): paging Mina Seo, Jun.",
        {"step": 1, "repeat": 1},
        "Step 2 (repeat 1): paging Mina Seo, Jun.",
        "",
    ),
    (
        "escalation_failed",
        "Step 1: nobody available to page.",
        {"step": 0, "repeat": 0},
        "Step 1: nobody available to page.",
        "",
    ),
    (
        "notification_sent",
        "e-mail sent to Mina Seo.",
        {"kind": "email"},
        "e-mail sent to Mina Seo.",
        "",
    ),
    (
        "notification_failed",
        "generic JSON webhook to ops failed after 4 attempts: HTTP 500",
        {"kind": "webhook", "attempts": 4, "error": "HTTP 500"},
        "generic JSON webhook to ops failed after 4 attempts: HTTP 500",
        "",
    ),
    (
        "notification_sent",
        "Reminder (postmortem due) sent to Mina.",
        {"kind": "email", "reason": "postmortem_due"},
        "Reminder (postmortem due) sent to Mina.",
        "",
    ),
    (
        "change",
        "service: api → web; severity: sev1 → sev4",
        {"changes": {"service": {"from": 1, "to": 2}, "severity": {"from": "sev1", "to": "sev4"}}},
        "service: api → web; severity: SEV1 · critical → SEV4 · low",
        "",
    ),
    (
        "postmortem",
        "Postmortem published.",
        {"postmortem": 1, "from": "draft", "to": "published"},
        "Postmortem published.",
        "",
    ),
    (
        "postmortem",
        "Action item done: add a disk alert",
        {"postmortem": 1, "action_item": 2},
        "Action item done: add a disk alert",
        "",
    ),
    (
        "probe",
        "3 consecutive failures: HTTP 503",
        {"probe": 1},
        "3 consecutive failures: HTTP 503",
        "HTTP 503",
    ),
    (
        "alert",
        "Alert firing (prom): API down · fired again after incident #7 was resolved",
        {"previous_incident": 7},
        "Alert firing (prom): API down · fired again after incident #7 was resolved",
        "",
    ),
    (
        "checklist",
        "Check the disk: done — 80 % used",
        {"run": 1, "state": "done", "undo": False},
        "Check the disk: done — 80 % used",
        "80 % used",
    ),
]


@pytest.mark.parametrize(("kind", "message", "data", "text", "left"), OLD_ROWS)
def test_the_migration_reads_each_old_english_sentence_into_parameters(
    service, kind, message, data, text, left
):
    event = TimelineEvent.objects.create(
        incident=make_incident(service), kind=kind, message=message, data=data
    )
    migration.forwards(apps, None)
    event.refresh_from_db()
    assert event.message == left
    with translation.override("en"):
        assert event.text == text
    with translation.override("ko"):
        assert event.text != text


def test_the_migration_leaves_notes_and_sentences_it_does_not_know_as_free_text(service):
    incident = make_incident(service)
    kept = [
        TimelineEvent.objects.create(
            incident=incident, kind=EventKind.NOTE, message="Opened: a note that looks old"
        ),
        TimelineEvent.objects.create(
            incident=incident, kind=EventKind.CREATED, message="Declared by the lead."
        ),
        TimelineEvent.objects.create(
            incident=incident,
            kind=EventKind.POSTMORTEM,
            message="사후 보고서 게시됨.",
            data={"postmortem": 1, "to": "published"},
        ),
        # The sentence's form but not the parameters it needs: left as it was.
        TimelineEvent.objects.create(
            incident=incident, kind=EventKind.STATUS, message="triggered → resolved"
        ),
    ]
    migration.forwards(apps, None)
    for event in kept:
        before = (event.message, event.data)
        event.refresh_from_db()
        assert (event.message, event.data) == before
        with translation.override("ko"):
            assert event.text == event.message


# One event of every sentence the dispatch table knows, with the parameters its writer stores.
SAMPLES = {
    ("created", ""): ({"title": "API down"}, ""),
    ("duplicate", ""): ({"title": "API down"}, ""),
    ("status", ""): ({"from": "triggered", "to": "acknowledged"}, ""),
    ("status", "link"): ({"from": "triggered", "to": "acknowledged", "contact_name": "Mina"}, ""),
    ("status", "retriggered"): (
        {"from": "resolved", "to": "triggered", "cause": {"count": 3, "since": 240}},
        "HTTP 503",
    ),
    ("status", "integration"): (
        {"from": "triggered", "to": "resolved", "integration_name": "prom"},
        "",
    ),
    ("status", "backup_verified"): (
        {"from": "triggered", "to": "resolved", "backup": 4, "target_name": "db"},
        "",
    ),
    ("escalation", ""): ({"step": 0, "repeat": 1, "names": ["Mina"]}, ""),
    ("escalation_failed", ""): ({"step": 0, "repeat": 0}, ""),
    ("escalation_failed", "deliveries_failed"): (
        {"step": 0, "repeat": 0, "next_step": 1, "failures": [{"who": "Mina"}]},
        "",
    ),
    ("escalation_summary", ""): (
        {
            "paged": [{"name": "Mina", "step": 1, "at": "2026-03-03T01:00:00+00:00"}],
            "acknowledged_by": "Mina",
            "acknowledged_at": "2026-03-03T01:02:00+00:00",
        },
        "",
    ),
    ("notification_sent", ""): ({"kind": "email", "who": "Mina"}, ""),
    ("notification_sent", "reminder"): (
        {"kind": "email", "who": "Mina", "reason": "postmortem_due"},
        "",
    ),
    ("notification_failed", ""): (
        {"kind": "email", "who": "Mina", "attempts": 4, "error": "HTTP 500"},
        "",
    ),
    ("notification_failed", "reminder"): (
        {"kind": "email", "who": "Mina", "error": "HTTP 500"},
        "",
    ),
    ("change", ""): ({"changes": {"scope": {"from": "partial", "to": "full"}}}, ""),
    ("postmortem", "draft"): ({"to": "draft", "title": "API down"}, ""),
    ("postmortem", "moved"): ({"from": "in_review", "to": "published"}, ""),
    ("postmortem", "item_done"): ({"item": "add a disk alert"}, ""),
    ("retriggered", ""): ({"cause": {"count": 1, "since": 60}}, "HTTP 503"),
    ("note", "backup_verified_partly"): ({"backup": 4, "target_name": "db"}, ""),
    ("note", "public"): ({}, ""),
    ("note", "public_update"): ({"status": "monitoring"}, "fixed"),
    ("note", "notice"): ({"kind": "started", "count": 3, "page": "main"}, ""),
    ("probe", "failing"): ({"count": 3}, "HTTP 503"),
    ("probe", "recovered"): ({"count": 2}, "HTTP 200"),
    ("probe", "agent_silent"): ({"since": "2026-03-03T01:00:00+00:00"}, ""),
    ("probe", "agent_back"): ({"host_name": "db-1"}, ""),
    ("alert", "firing"): (
        {
            "integration_name": "prom",
            "title": "API down",
            "fired_again": True,
            "previous_incident": 7,
        },
        "",
    ),
    ("alert", "still_firing"): ({"title": "API down", "count": 3}, ""),
    ("alert", "resolved"): ({"title": "API down"}, ""),
    ("alert", "resolved_in_group"): ({"title": "API down", "count": 2}, ""),
    ("alert", "kept_open"): ({"integration_name": "prom"}, ""),
    ("checklist", "started"): ({"name": "Daily"}, ""),
    ("checklist", "ticked"): ({"text": "Check the disk", "state": "failed", "undo": False}, "90 %"),
    ("checklist", "completed"): ({"name": "Daily"}, ""),
    ("checklist", "item_failed"): ({"text": "Check the disk", "name": "Daily"}, ""),
}
# The data above, and what is not a sentence: names, numbers, codes.
NOT_ENGLISH = re.compile(
    r"API down|Mina|prom|db-1|Daily|Check the disk|add a disk alert|HTTP \d+|"
    r"SEV\d|fixed|main|db\b"
)


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_every_sentence_of_the_dispatch_table_reads_in_korean(service, key):
    data, message = SAMPLES[key]
    kind, variant = key
    event = TimelineEvent(
        incident=make_incident(service),
        kind=kind,
        message=message,
        data={**data, **({"variant": variant} if variant else {})},
    )
    with translation.override("en"):
        english = event.text
    with translation.override("ko"):
        korean = event.text
    assert english != message and korean != english
    assert not re.search(r"[A-Za-z]{3,}", NOT_ENGLISH.sub("", korean)), korean


def test_every_renderer_has_a_sample():
    assert set(SAMPLES) == {(str(kind), variant) for kind, variant in RENDERERS}
