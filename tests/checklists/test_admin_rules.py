"""A checklist run moves only through its own flow, in the admin as in the API."""

import pytest
from django.urls import reverse

from checklists.models import HandoverNote, RunStatus, Tick
from checklists.services import tick
from tests.adminform import change_form_data, post_change_form, staff_client
from tests.checklists.factories import make_run
from tests.incidents.factories import make_incident

pytestmark = pytest.mark.django_db


def change_url(obj):
    return reverse(f"admin:checklists_{obj._meta.model_name}_change", args=[obj.pk])


def test_a_staff_operator_cannot_complete_a_run_with_items_unhandled_in_the_admin(make_user):
    run = make_run()
    operator = staff_client(make_user, "operator")
    data = change_form_data(operator, change_url(run))
    assert "status" not in data
    response = operator.post(
        change_url(run), {**data, "status": RunStatus.COMPLETED, "name": "Morning checks"}
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.name == "Morning checks"  # the fields that are the admin's still save
    assert run.status == RunStatus.OPEN and run.completed_at is None


def test_the_api_refuses_completing_a_run_with_items_unhandled(api_as):
    run = make_run()
    answer = api_as("operator").post(f"/api/v1/checklist-runs/{run.pk}/complete", {}, format="json")
    assert answer.status_code == 409 and answer.data["code"] == "required_open"
    assert (
        api_as("manager")
        .patch(f"/api/v1/checklist-runs/{run.pk}", {"status": "completed"}, format="json")
        .status_code
        == 405
    )
    run.refresh_from_db()
    assert run.status == RunStatus.OPEN


def test_a_runs_incident_is_read_only_in_the_admin(make_user):
    run = make_run()
    manager = staff_client(make_user, "manager")
    post_change_form(manager, change_url(run), incident=make_incident().pk)
    run.refresh_from_db()
    assert run.incident is None


def test_handover_notes_are_read_only_in_the_admin_and_the_api(make_user, api_as):
    run = make_run()
    note = HandoverNote.objects.create(run=run, text="Disk on db-2 at 80 %")
    operator = staff_client(make_user, "operator")
    assert "text" not in change_form_data(operator, change_url(note))
    operator.post(change_url(note), {"text": "All quiet", "risks": "none", "_save": "Save"})
    assert operator.get(reverse("admin:checklists_handovernote_add")).status_code == 403
    answer = api_as("manager").patch(
        f"/api/v1/handover-notes/{note.pk}", {"text": "All quiet"}, format="json"
    )
    assert answer.status_code == 405
    note.refresh_from_db()
    assert note.text == "Disk on db-2 at 80 %" and note.risks == ""


def test_ticks_cannot_be_deleted_in_the_admin(make_user):
    run = make_run()
    item = run.items.order_by("position").first()
    tick(run_item=item, state="done", by=make_user("operator"))
    mark = Tick.objects.get()
    admin = staff_client(make_user, "admin")
    assert (
        admin.post(
            reverse("admin:checklists_tick_delete", args=[mark.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Tick.objects.filter(pk=mark.pk).exists()
