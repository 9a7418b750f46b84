"""The admin applies the rules the API applies: through the same services, or read-only."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from core.errors import DomainError
from incidents import postmortems, services
from incidents.models import ActionItem, EventKind, Incident, Postmortem, PostmortemStatus, Status
from tests.adminform import change_form_data, error_messages, post_change_form, staff_client
from tests.incidents.factories import make_contact, make_incident, make_service

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def staff(make_user):
    return lambda role: staff_client(make_user, role)


@pytest.fixture
def incident():
    start = NOW - timedelta(days=1)
    return make_incident(
        make_service("Route API"),
        severity="sev1",
        title="API answers 502",
        status=Status.RESOLVED,
        created_at=start,
        resolved_at=start + timedelta(hours=1),
    )


@pytest.fixture
def owner():
    return make_contact("Hana Lim")


def draft(incident, owner, make_user, *, items=("Add a canary",)):
    return postmortems.save_postmortem(
        postmortem=postmortems.draft_for(incident),
        by=make_user("operator"),
        items=[ActionItem(description=text, owner=owner) for text in items],
    )


def published(incident, owner, make_user, **kwargs):
    postmortem = draft(incident, owner, make_user, **kwargs)
    postmortems.publish_postmortem(postmortem=postmortem, by=make_user("manager"))
    return postmortem


def change_url(obj):
    return reverse(f"admin:incidents_{obj._meta.model_name}_change", args=[obj.pk])


def delete_url(obj):
    return reverse(f"admin:incidents_{obj._meta.model_name}_delete", args=[obj.pk])


# A published postmortem is history -------------------------------------------------


def test_a_staff_operator_cannot_edit_a_published_postmortem_in_the_admin(
    staff, incident, owner, make_user
):
    postmortem = published(incident, owner, make_user)
    operator = staff("operator")
    response = post_change_form(
        operator, change_url(postmortem), title="Nothing happened", root_cause=""
    )
    assert response.status_code == 302 and response["Location"] == change_url(postmortem)
    assert error_messages(response) == ["A published postmortem can no longer be edited."]
    postmortem.refresh_from_db()
    assert postmortem.title == "API answers 502"


def test_the_api_refuses_editing_a_published_postmortem_with_409(
    api_as, incident, owner, make_user
):
    postmortem = published(incident, owner, make_user)
    response = api_as("operator").patch(
        f"/api/v1/postmortems/{postmortem.pk}", {"title": "Nothing happened"}, format="json"
    )
    assert response.status_code == 409 and response.data["code"] == "published"


def test_a_staff_operator_edits_a_draft_postmortem_and_its_items_in_the_admin(
    staff, incident, owner, make_user
):
    postmortem = draft(incident, owner, make_user)
    operator = staff("operator")
    response = post_change_form(
        operator,
        change_url(postmortem),
        title="Route API down",
        **{"action_items-0-description": "Add a canary deploy"},
    )
    assert response.status_code == 302 and error_messages(response) == []
    postmortem.refresh_from_db()
    assert postmortem.title == "Route API down"
    assert postmortem.action_items.get().description == "Add a canary deploy"


def test_a_published_postmortem_cannot_be_deleted_in_the_admin(staff, incident, owner, make_user):
    postmortem = published(incident, owner, make_user)
    response = staff("manager").post(delete_url(postmortem), {"post": "yes"})
    assert response.status_code == 302 and response["Location"] == change_url(postmortem)
    assert error_messages(response) == ["A published postmortem cannot be deleted."]
    assert Postmortem.objects.filter(pk=postmortem.pk).exists()


def test_the_api_refuses_deleting_a_published_postmortem_with_409(
    api_as, incident, owner, make_user
):
    postmortem = published(incident, owner, make_user)
    assert api_as("manager").delete(f"/api/v1/postmortems/{postmortem.pk}").status_code == 409
    assert Postmortem.objects.filter(pk=postmortem.pk).exists()


def test_a_manager_deletes_a_draft_postmortem_in_the_admin(staff, incident, owner, make_user):
    postmortem = draft(incident, owner, make_user)
    response = staff("manager").post(delete_url(postmortem), {"post": "yes"})
    assert response.status_code == 302 and error_messages(response) == []
    assert not Postmortem.objects.filter(pk=postmortem.pk).exists()


# Action items: operators add and edit them while the postmortem is open; managers delete


def test_an_operator_cannot_delete_action_items_on_the_postmortem_page(
    client, make_user, incident, owner
):
    postmortem = draft(incident, owner, make_user, items=("Add a canary", "Alert on 502s"))
    client.force_login(make_user("operator"))
    first, second = postmortem.action_items.order_by("id")
    data = {
        "title": postmortem.title,
        "severity": "sev1",
        "scope": "partial",
        "occurred_at": "2026-03-09T09:00",
        "detected_at": "2026-03-09T09:00",
        "recovered_at": "2026-03-09T10:00",
        "action": "save",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "2",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "50",
    }
    for index, item in enumerate((first, second)):
        data |= {
            f"items-{index}-id": item.pk,
            f"items-{index}-description": item.description,
            f"items-{index}-kind": item.kind,
            f"items-{index}-owner": owner.pk,
            f"items-{index}-priority": item.priority,
        }
    page = client.get(reverse("incidents:postmortem-edit", args=[incident.pk]))
    assert "Remove this action item" not in page.content.decode()
    data["items-1-DELETE"] = "on"
    client.post(reverse("incidents:postmortem-edit", args=[incident.pk]), data)
    assert postmortem.action_items.count() == 2


def test_save_postmortem_refuses_an_operators_deletion(incident, owner, make_user):
    postmortem = draft(incident, owner, make_user)
    with pytest.raises(DomainError, match="Only a manager can delete action items"):
        postmortems.save_postmortem(
            postmortem=postmortem,
            by=make_user("operator"),
            deleted=list(postmortem.action_items.all()),
        )
    assert postmortem.action_items.count() == 1
    postmortems.save_postmortem(
        postmortem=postmortem, by=make_user("manager"), deleted=list(postmortem.action_items.all())
    )
    assert postmortem.action_items.count() == 0


def test_a_manager_removes_action_items_on_the_postmortem_page(client, make_user, incident, owner):
    draft(incident, owner, make_user)
    client.force_login(make_user("manager"))
    page = client.get(reverse("incidents:postmortem-edit", args=[incident.pk]))
    assert "Remove this action item" in page.content.decode()


def test_an_operator_cannot_delete_action_items_in_the_admin_or_the_api(
    staff, api_as, incident, owner, make_user
):
    postmortem = draft(incident, owner, make_user, items=("Add a canary", "Alert on 502s"))
    item = postmortem.action_items.order_by("id").last()
    operator = staff("operator")
    data = change_form_data(operator, change_url(postmortem))
    assert "action_items-1-DELETE" not in data  # no delete box for an operator
    operator.post(change_url(postmortem), {**data, "action_items-1-DELETE": "on"})
    assert operator.post(delete_url(item), {"post": "yes"}).status_code == 403
    assert api_as("operator").delete(f"/api/v1/action-items/{item.pk}").status_code == 403
    assert postmortem.action_items.count() == 2


def test_a_manager_deletes_action_items_of_a_draft_in_the_admin_and_the_api(
    staff, api_as, incident, owner, make_user
):
    postmortem = draft(
        incident, owner, make_user, items=("Add a canary", "Alert on 502s", "Load test")
    )
    _first, second, third = postmortem.action_items.order_by("id")
    response = post_change_form(
        staff("manager"), change_url(postmortem), **{"action_items-0-DELETE": "on"}
    )
    assert response.status_code == 302 and error_messages(response) == []
    assert api_as("manager").delete(f"/api/v1/action-items/{second.pk}").status_code == 204
    assert list(postmortem.action_items.all()) == [third]


def test_nobody_deletes_action_items_of_a_published_postmortem(
    staff, api_as, incident, owner, make_user
):
    postmortem = published(incident, owner, make_user, items=("Add a canary", "Alert on 502s"))
    first, second = postmortem.action_items.order_by("id")
    response = staff("manager").post(delete_url(first), {"post": "yes"})
    assert response.status_code == 302 and error_messages(response) == [
        "This postmortem is published: only a manager may add or edit its action items, and "
        "nobody may delete them."
    ]
    answer = api_as("manager").delete(f"/api/v1/action-items/{second.pk}")
    assert answer.status_code == 409 and answer.data["code"] == "published"
    assert postmortem.action_items.count() == 2


def test_an_operator_cannot_add_or_edit_items_of_a_published_postmortem_in_the_api(
    api_as, incident, owner, make_user
):
    postmortem = published(incident, owner, make_user)
    item = postmortem.action_items.get()
    operator = api_as("operator")
    added = operator.post(
        "/api/v1/action-items",
        {"postmortem": postmortem.pk, "description": "Sneak in", "owner": owner.pk},
        format="json",
    )
    assert added.status_code == 409 and added.data["code"] == "published"
    edited = operator.patch(
        f"/api/v1/action-items/{item.pk}", {"description": "Nothing"}, format="json"
    )
    assert edited.status_code == 409 and edited.data["code"] == "published"
    item.refresh_from_db()
    assert item.description == "Add a canary" and postmortem.action_items.count() == 1


def test_an_operator_cannot_edit_items_of_a_published_postmortem_in_the_admin(
    staff, incident, owner, make_user
):
    postmortem = published(incident, owner, make_user)
    item = postmortem.action_items.get()
    response = post_change_form(staff("operator"), change_url(item), description="Nothing")
    assert response.status_code == 302 and response["Location"] == change_url(item)
    assert error_messages(response)[0].startswith("This postmortem is published")
    item.refresh_from_db()
    assert item.description == "Add a canary"


def test_a_manager_adds_a_follow_up_item_to_a_published_postmortem(
    api_as, incident, owner, make_user
):
    postmortem = published(incident, owner, make_user)
    added = api_as("manager").post(
        "/api/v1/action-items",
        {"postmortem": postmortem.pk, "description": "Found later", "owner": owner.pk},
        format="json",
    )
    assert added.status_code == 201 and postmortem.action_items.count() == 2


def test_nobody_adds_items_to_a_closed_postmortem(api_as, incident, owner, make_user):
    postmortem = published(incident, owner, make_user)
    postmortems.complete_action_item(item=postmortem.action_items.get(), by=make_user("operator"))
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.CLOSED
    added = api_as("manager").post(
        "/api/v1/action-items",
        {"postmortem": postmortem.pk, "description": "Too late", "owner": owner.pk},
        format="json",
    )
    assert added.status_code == 409 and added.data["code"] == "closed"


# Incidents: edits leave a timeline event; status, source and dedup key are the services'


def test_a_severity_change_in_the_admin_leaves_a_change_event(staff):
    incident, _ = services.open_incident(
        service=make_service("Route API"), title="API answers 502", severity="sev1"
    )
    operator = staff("operator")
    response = post_change_form(operator, change_url(incident), severity="sev4")
    assert response.status_code == 302 and error_messages(response) == []
    incident.refresh_from_db()
    assert incident.severity == "sev4"
    event = incident.events.get(kind=EventKind.CHANGE)
    assert (
        event.actor_user == operator.user and event.text == "severity: SEV1 · critical → SEV4 · low"
    )
    assert event.data == {"changes": {"severity": {"from": "sev1", "to": "sev4"}}}


def test_saving_the_admin_form_unchanged_leaves_no_event(staff):
    incident, _ = services.open_incident(
        service=make_service("Route API"), title="API answers 502", severity="sev1"
    )
    post_change_form(staff("operator"), change_url(incident))
    assert not incident.events.filter(kind=EventKind.CHANGE).exists()


def test_the_api_has_no_way_to_edit_an_incident_outside_the_services(api_as, incident):
    answer = api_as("manager").patch(
        f"/api/v1/incidents/{incident.pk}", {"severity": "sev4"}, format="json"
    )
    assert answer.status_code == 405
    incident.refresh_from_db()
    assert incident.severity == "sev1"


def test_status_source_and_dedup_key_are_read_only_in_the_admin(staff):
    incident, _ = services.open_incident(
        service=make_service("Route API"), title="API answers 502", severity="sev2"
    )
    operator = staff("operator")
    data = change_form_data(operator, change_url(incident))
    assert not {"status", "source", "dedup_key"} & set(data)
    operator.post(
        change_url(incident),
        {**data, "status": "closed", "source": "probe", "dedup_key": "probe:10"},
    )
    incident.refresh_from_db()
    assert (incident.status, incident.source, incident.dedup_key) == ("triggered", "manual", "")


def test_edit_incident_refuses_fields_it_does_not_own(incident):
    with pytest.raises(DomainError, match="cannot be edited: dedup_key, status"):
        services.edit_incident(
            incident=incident, by=None, changes={"status": "closed", "dedup_key": "probe:1"}
        )
    with pytest.raises(DomainError, match="Unknown severity"):
        services.edit_incident(incident=incident, by=None, changes={"severity": "sev9"})
    assert Incident.objects.get(pk=incident.pk).status == Status.RESOLVED
