import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from incidents import postmortems
from incidents.models import (
    ActionItem,
    ActionItemStatus,
    EventKind,
    Postmortem,
    PostmortemStatus,
    Status,
    TimelineEvent,
)
from tests.incidents.factories import make_contact, make_incident, make_service

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def incident():
    start = NOW - timedelta(days=2)
    incident = make_incident(
        make_service("Route prediction API"),
        severity="sev1",
        title="API answers 502",
        scope="full",
        status=Status.RESOLVED,
        created_at=start,
        impact_started_at=start - timedelta(minutes=3),
        detected_at=start,
        acknowledged_at=start + timedelta(minutes=4),
        resolved_at=start + timedelta(minutes=48),
    )
    TimelineEvent.objects.create(
        incident=incident, at=start, kind=EventKind.CREATED, message="Declared"
    )
    TimelineEvent.objects.create(
        incident=incident,
        at=start + timedelta(minutes=48),
        kind=EventKind.STATUS,
        message="acknowledged → resolved",
    )
    return incident


@pytest.fixture
def owners():
    return make_contact("Hana Lim"), make_contact("Tae Kang")


def token_of(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def form_data(page, **overrides) -> dict:
    """The fields a browser would send back from the rendered form (inputs, textareas, selected
    options)."""
    html = page.content.decode()
    data = {}
    for tag in re.findall(r"<input[^>]*>", html.split('<template id="action-item-template">')[0]):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name is None or "__prefix__" in tag or 'type="submit"' in tag:
            continue
        if 'type="checkbox"' in tag:
            if "checked" in tag:
                data.setdefault(name.group(1), []).append(value.group(1))
        else:
            data[name.group(1)] = value.group(1) if value else ""
    template = html.split('<template id="action-item-template">')[0]
    for name, value in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>\s*([^<]*)</textarea>', template
    ):
        data[name] = value.strip()
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', template, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen.group(1) if chosen else ""
    data.pop("language", None)
    data.pop("next", None)
    return {**data, **overrides}


def items(*rows, total=None, initial=0):
    data = {
        "items-TOTAL_FORMS": str(total or len(rows)),
        "items-INITIAL_FORMS": str(initial),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "50",
    }
    for index, row in enumerate(rows):
        data.update({f"items-{index}-{key}": value for key, value in row.items()})
    return data


def item_row(owner, description="Rename model files atomically", due="2026-03-31", **extra):
    return {
        "description": description,
        "kind": "prevent",
        "owner": owner.pk if owner else "",
        "priority": "high",
        "due_date": due,
        "tracker_url": "",
        **extra,
    }


# The acceptance flow ------------------------------------------------------------------------


def test_a_new_user_files_submits_publishes_and_downloads_a_postmortem_through_the_real_forms(
    make_user, incident, owners
):
    operator, manager = make_user("operator"), make_user("manager")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)

    detail = browser.get(incident.get_absolute_url())
    edit_url = reverse("incidents:postmortem-edit", args=[incident.pk])
    assert edit_url in detail.content.decode()  # "write postmortem"

    page = browser.get(edit_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="API answers 502"' in html  # pre-filled from the incident, on a 24-hour clock
    assert (
        'name="occurred_at_0" value="2026-03-08"' in html
        and 'name="occurred_at_1" value="08:57"' in html
    )
    data = form_data(
        page,
        csrfmiddlewaretoken=token_of(page),
        trigger="A model file replaced during reload",
        root_cause="Copy in place",
        response="Roll back\nRestart workers",
        lessons="Deploy atomically",
        action="submit",
    )
    data.update(
        items(
            item_row(owners[0]), item_row(owners[1], "Expose the live model version", kind="detect")
        )
    )
    assert (
        browser.post(
            edit_url, {k: v for k, v in data.items() if k != "csrfmiddlewaretoken"}
        ).status_code
        == 403
    )

    response = browser.post(edit_url, data)
    postmortem = Postmortem.objects.get()
    assert response.status_code == 302 and response["Location"] == postmortem.get_absolute_url()
    assert postmortem.status == PostmortemStatus.IN_REVIEW and postmortem.author == operator
    assert (
        postmortem.occurred_at == incident.impact_started_at
        and postmortem.recovered_at == incident.resolved_at
    )
    assert postmortem.action_items.count() == 2
    assert postmortem.timeline_events.count() == 2  # the incident's events, chosen by default

    browser.force_login(manager)
    page = browser.get(postmortem.get_absolute_url())
    response = browser.post(
        reverse("incidents:postmortem-publish", args=[incident.pk]),
        {"csrfmiddlewaretoken": token_of(page)},
    )
    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.PUBLISHED and postmortem.published_by == manager
    steps = [
        e.data.get("to") for e in incident.events.filter(kind=EventKind.POSTMORTEM).order_by("id")
    ]
    assert steps == ["draft", "in_review", "published"]  # every step on the incident's timeline

    markdown = browser.get(reverse("incidents:postmortem-markdown", args=[incident.pk]))
    assert markdown["Content-Type"].startswith("text/markdown")
    text = markdown.content.decode()
    assert text.startswith("# Incident Report: 2026-03-08\n")
    for heading in ("## Overview", "## Cause", "## Recovery", "## Prevention", "## Lessons"):
        assert heading in text
    assert (
        "- **Occurred**: 2026-03-08 08:57" in text and "- **Recovered**: 2026-03-08 09:48" in text
    )
    assert "- **Downtime**: 51 min" in text and "- **Scope**: full outage" in text
    assert "1. Roll back\n2. Restart workers" in text
    assert (
        "- [ ] Rename model files atomically" in text
        and "- [ ] Expose the live model version" in text
    )
    printable = browser.get(reverse("incidents:postmortem-print", args=[incident.pk]))
    assert (
        printable.status_code == 200 and "Incident Report: 2026-03-08" in printable.content.decode()
    )


def test_completing_every_action_item_closes_the_published_postmortem(make_user, incident, owners):
    postmortem = postmortems.save_postmortem(
        postmortem=postmortems.draft_for(incident),
        by=make_user("operator"),
        items=[
            ActionItem(description="a", owner=owners[0]),
            ActionItem(description="b", owner=owners[1]),
        ],
    )
    postmortems.publish_postmortem(postmortem=postmortem, by=make_user("manager"))
    first, second = postmortem.action_items.order_by("id")
    client = Client()
    client.force_login(make_user("operator"))
    client.post(reverse("incidents:action-item-complete", args=[first.pk]))
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.PUBLISHED
    client.post(reverse("incidents:action-item-complete", args=[second.pk]))
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.CLOSED and postmortem.closed_at == NOW
    assert incident.events.filter(kind=EventKind.POSTMORTEM, data__to="closed").count() == 1


# Bad input on the form ------------------------------------------------------------------------


def test_the_form_puts_each_validation_message_next_to_its_field(client_as, incident):
    client = client_as("operator")
    url = reverse("incidents:postmortem-edit", args=[incident.pk])
    data = form_data(
        client.get(url),
        occurred_at="2026-03-08T10:00",
        detected_at="2026-03-08T09:00",
        recovered_at="2026-03-08T09:30",
        action="save",
    )
    data.update(
        items(
            {
                "description": "",
                "kind": "prevent",
                "owner": make_contact().pk,
                "priority": "high",
                "due_date": "",
                "tracker_url": "",
            },
            item_row(None, "Someone should do this"),
            item_row(make_contact(), "Yesterday's job", due="2026-03-09"),
        )
    )
    response = client.post(url, data)
    assert response.status_code == 400 and not Postmortem.objects.exists()
    form, formset = response.context["form"], response.context["formset"]
    assert form.errors["detected_at"] == ["Detection cannot come before the incident occurred."]
    assert form.errors["recovered_at"] == ["Recovery cannot come before the incident occurred."]
    assert formset.forms[0].errors["description"] == ["Say what should be done."]
    assert formset.forms[1].errors["owner"] == ["Each action item needs an owner."]
    assert formset.forms[2].errors["due_date"] == ["A new action item cannot be due in the past."]
    html = response.content.decode()
    # nothing typed is lost
    assert "Someone should do this" in html and "Yesterday&#x27;s job" in html


def test_add_row_without_javascript_keeps_what_was_typed_and_saves_nothing(
    client_as, incident, owners
):
    client = client_as("operator")
    url = reverse("incidents:postmortem-edit", args=[incident.pk])
    data = form_data(client.get(url), trigger="Typed before adding a row", action="add_row")
    data.update(items(item_row(owners[0], "First item")))
    response = client.post(url, data)
    assert response.status_code == 200 and not Postmortem.objects.exists()
    html = response.content.decode()
    assert "Typed before adding a row" in html and "First item" in html
    assert 'name="items-1-description"' in html and 'name="items-TOTAL_FORMS" value="2"' in html
    assert 'class="errorlist' not in html


def test_garbage_in_the_form_gives_field_errors_never_a_500(client_as, incident):
    client = client_as("operator")
    url = reverse("incidents:postmortem-edit", args=[incident.pk])
    response = client.post(
        url,
        {
            "title": "",
            "severity": "sev9",
            "scope": "?",
            "occurred_at": "yesterday",
            "timeline_events": ["x"],
            "links": "javascript:alert(1)",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-0-description": "x",
            "items-0-owner": "abc",
            "items-0-due_date": "soon",
            "items-0-tracker_url": "ftp://x",
            "items-0-kind": "nope",
            "action": "submit",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"title", "severity", "scope", "occurred_at", "timeline_events", "links"} <= set(errors)
    assert {"owner", "due_date", "tracker_url", "kind"} <= set(
        response.context["formset"].forms[0].errors
    )
    broken = client.post(url, {"items-TOTAL_FORMS": "zz", "action": "save"})
    assert broken.status_code == 400


def test_an_operator_cannot_publish_by_form_button_or_url(client_as, incident, owners):
    client = client_as("operator")
    url = reverse("incidents:postmortem-edit", args=[incident.pk])
    page = client.get(url)
    assert 'value="publish"' not in page.content.decode()
    data = form_data(page, action="publish")
    data.update(items())
    assert client.post(url, data).status_code == 403
    data["action"] = "save"
    client.post(url, data)
    assert (
        client.post(reverse("incidents:postmortem-publish", args=[incident.pk])).status_code == 403
    )
    assert Postmortem.objects.get().status == PostmortemStatus.DRAFT


def test_a_viewer_can_read_but_not_write_a_postmortem(client_as, incident):
    client = client_as("viewer")
    assert client.get(reverse("incidents:postmortem-edit", args=[incident.pk])).status_code == 403
    assert client.get(reverse("incidents:postmortem", args=[incident.pk])).status_code == 404


def test_a_published_postmortem_is_no_longer_editable(make_user, incident):
    postmortem = postmortems.save_postmortem(postmortem=postmortems.draft_for(incident), by=None)
    postmortems.publish_postmortem(postmortem=postmortem, by=make_user("manager"))
    client = Client()
    client.force_login(make_user("operator"))
    response = client.get(reverse("incidents:postmortem-edit", args=[incident.pk]))
    assert response.status_code == 302 and response["Location"] == postmortem.get_absolute_url()


# API ---------------------------------------------------------------------------------------------


def test_the_api_files_a_postmortem_adds_items_submits_and_only_a_manager_publishes(
    api_as, incident, owners
):
    operator = api_as("operator")
    created = operator.post(
        "/api/v1/postmortems",
        {
            "incident": incident.pk,
            "title": "API 502",
            "severity": "sev1",
            "scope": "full",
            "occurred_at": "2026-03-08T08:57:00Z",
            "recovered_at": "2026-03-08T09:48:00Z",
            "timeline_events": list(incident.events.values_list("pk", flat=True)),
        },
        format="json",
    )
    assert created.status_code == 201, created.data
    pk = created.data["id"]
    assert created.data["status"] == "draft" and created.data["downtime"] == "00:51:00"
    item = operator.post(
        "/api/v1/action-items",
        {
            "postmortem": pk,
            "description": "Rename atomically",
            "owner": owners[0].pk,
            "due_date": "2026-03-20",
        },
        format="json",
    )
    assert item.status_code == 201, item.data
    assert operator.post(f"/api/v1/postmortems/{pk}/submit").data["status"] == "in_review"
    assert operator.post(f"/api/v1/postmortems/{pk}/publish").status_code == 403
    manager = api_as("manager")
    assert manager.post(f"/api/v1/postmortems/{pk}/publish").data["status"] == "published"
    assert manager.post(f"/api/v1/postmortems/{pk}/publish").status_code == 409
    done = operator.post(f"/api/v1/action-items/{item.data['id']}/complete")
    assert done.status_code == 200 and done.data["status"] == "done"
    assert operator.get(f"/api/v1/postmortems/{pk}").data["status"] == "closed"
    assert operator.post(f"/api/v1/action-items/{item.data['id']}/complete").status_code == 409


def test_the_api_answers_bad_input_with_field_errors(api_as, incident, owners):
    api = api_as("operator")
    bad = api.post(
        "/api/v1/postmortems",
        {
            "incident": incident.pk,
            "title": "x",
            "severity": "sev1",
            "occurred_at": "2026-03-08T10:00:00Z",
            "detected_at": "2026-03-08T09:00:00Z",
            "recovered_at": "2026-03-08T09:30:00Z",
        },
        format="json",
    )
    assert bad.status_code == 400 and {"detected_at", "recovered_at"} <= set(bad.data)
    garbage = api.post(
        "/api/v1/postmortems", {"incident": "x", "severity": 5, "occurred_at": []}, format="json"
    )
    assert garbage.status_code == 400 and {"incident", "severity", "occurred_at", "title"} <= set(
        garbage.data
    )
    postmortem = postmortems.save_postmortem(postmortem=postmortems.draft_for(incident), by=None)
    item = api.post(
        "/api/v1/action-items",
        {"postmortem": postmortem.pk, "description": " ", "owner": None, "due_date": "2026-03-01"},
        format="json",
    )
    assert item.status_code == 400 and {"description", "owner"} <= set(item.data)
    past = api.post(
        "/api/v1/action-items",
        {
            "postmortem": postmortem.pk,
            "description": "x",
            "owner": owners[0].pk,
            "due_date": "2026-03-01",
        },
        format="json",
    )
    assert past.status_code == 400 and "due_date" in past.data
    again = api.post(
        "/api/v1/postmortems",
        {
            "incident": incident.pk,
            "title": "x",
            "severity": "sev1",
            "occurred_at": "2026-03-08T10:00:00Z",
        },
        format="json",
    )
    assert again.status_code == 409 and "incident" in again.data


@pytest.mark.parametrize("resource", ["postmortems", "action-items"])
def test_postmortem_lists_run_a_constant_number_of_queries(
    api_as, owners, resource, django_assert_max_num_queries
):
    api = api_as("viewer")

    def add(count):
        for _ in range(count):
            incident = make_incident(severity="sev2", status=Status.RESOLVED, resolved_at=NOW)
            postmortem = postmortems.save_postmortem(
                postmortem=postmortems.draft_for(incident), by=None
            )
            ActionItem.objects.create(postmortem=postmortem, description="x", owner=owners[0])

    add(2)
    with django_assert_max_num_queries(9):
        assert api.get(f"/api/v1/{resource}").status_code == 200
    add(15)
    with django_assert_max_num_queries(9):
        assert len(api.get(f"/api/v1/{resource}").data["results"]) == 17


def test_the_action_item_filter_finds_overdue_ones(api_as, incident, owners):
    postmortem = postmortems.save_postmortem(
        postmortem=postmortems.draft_for(incident),
        by=None,
        items=[
            ActionItem(
                description="late", owner=owners[0], due_date=NOW.date() - timedelta(days=1)
            ),
            ActionItem(
                description="on time", owner=owners[0], due_date=NOW.date() + timedelta(days=1)
            ),
            ActionItem(
                description="late but done",
                owner=owners[0],
                due_date=NOW.date() - timedelta(days=3),
                status=ActionItemStatus.DONE,
                done_at=NOW,
            ),
        ],
    )
    assert postmortem.action_items.count() == 3
    found = api_as("viewer").get("/api/v1/action-items?overdue=true").data["results"]
    assert [row["description"] for row in found] == ["late"] and found[0]["is_overdue"] is True


def test_the_postmortem_list_is_lean_and_the_detail_complete(api_as, owners):
    """Nesting action items, timeline events and reviewers in every row cost 4× a bare list (make
    bench)."""
    api = api_as("viewer")
    incident = make_incident(severity="sev2", status=Status.RESOLVED, resolved_at=NOW)
    postmortem = postmortems.save_postmortem(postmortem=postmortems.draft_for(incident), by=None)
    ActionItem.objects.create(postmortem=postmortem, description="rotate the key", owner=owners[0])
    [row] = api.get("/api/v1/postmortems").data["results"]
    assert row["id"] == postmortem.pk and row["status"] == "draft"
    assert row["url"] == postmortem.get_absolute_url() == f"/incidents/{incident.pk}/postmortem/"
    assert not {"action_items", "timeline_events", "reviewers", "summary"} & set(row)
    detail = api.get(f"/api/v1/postmortems/{postmortem.pk}").data
    assert [item["description"] for item in detail["action_items"]] == ["rotate the key"]
    assert {"timeline_events", "reviewers", "summary"} <= set(detail)
    assert detail["url"] == postmortem.get_absolute_url()
