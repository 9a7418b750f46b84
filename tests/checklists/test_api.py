import pytest

from checklists.models import HandoverNote, ItemState, RunStatus, Template
from incidents.models import EventKind
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_incident, make_service

RUNS = "/api/v1/checklist-runs"


def items(run):
    return list(run.items.order_by("position"))


@pytest.fixture
def run(db):
    return make_run(make_template("Morning", service=make_service("Payments")))


def test_an_operator_ticks_and_unticks_through_the_api(api_as, run):
    api = api_as("operator")
    first = items(run)[0]
    response = api.post(
        f"{RUNS}/{run.pk}/tick", {"item": first.pk, "state": "done", "value": "ok"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["handled"] == 1 and response.json()["status"] == "in_progress"
    first.refresh_from_db()
    assert first.state == ItemState.DONE and first.by == api.user
    assert api.post(f"{RUNS}/{run.pk}/untick", {"item": first.pk}, format="json").status_code == 200
    first.refresh_from_db()
    assert first.state == ItemState.OPEN


def test_a_viewer_cannot_tick_through_the_api(api_as, run):
    api = api_as("viewer")
    assert api.get(f"{RUNS}/{run.pk}").status_code == 200
    response = api.post(
        f"{RUNS}/{run.pk}/tick", {"item": items(run)[0].pk, "state": "done"}, format="json"
    )
    assert response.status_code == 403
    assert items(run)[0].state == ItemState.OPEN


def test_skipping_without_a_reason_is_a_400(api_as, run):
    response = api_as("operator").post(
        f"{RUNS}/{run.pk}/tick", {"item": items(run)[0].pk, "state": "skipped"}, format="json"
    )
    assert response.status_code == 400 and "note" in response.json()


def test_an_unknown_state_is_a_400(api_as, run):
    response = api_as("operator").post(
        f"{RUNS}/{run.pk}/tick", {"item": items(run)[0].pk, "state": "maybe"}, format="json"
    )
    assert response.status_code == 400 and "state" in response.json()


def test_an_item_of_another_run_is_a_404(api_as, run):
    other = make_run(make_template())
    response = api_as("operator").post(
        f"{RUNS}/{run.pk}/tick", {"item": items(other)[0].pk, "state": "done"}, format="json"
    )
    assert response.status_code == 404


def test_complete_is_refused_with_409_while_a_required_item_is_open(api_as, run):
    api = api_as("operator")
    response = api.post(f"{RUNS}/{run.pk}/complete", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "required_open"
    for item in items(run):
        api.post(f"{RUNS}/{run.pk}/tick", {"item": item.pk, "state": "n/a"}, format="json")
    response = api.post(f"{RUNS}/{run.pk}/complete", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == RunStatus.COMPLETED


def test_a_shift_run_completed_through_the_api_stores_the_handover(api_as):
    template = make_template("Daily", schedule="0 9 * * *")
    run = make_run(template)
    open_incident = make_incident(title="Queue slow")
    api = api_as("operator")
    for item in items(run):
        api.post(f"{RUNS}/{run.pk}/tick", {"item": item.pk, "state": "done"}, format="json")
    api.post(f"{RUNS}/{run.pk}/complete", {"risks": "Disk at 78 %"}, format="json")
    note = HandoverNote.objects.get(run=run)
    assert note.risks == "Disk at 78 %" and note.open_incidents[0]["id"] == open_incident.pk
    response = api.post(f"/api/v1/handover-notes/{note.pk}/acknowledge")
    assert response.status_code == 200 and response.json()["acknowledged_by"] == api.user.username
    assert api.post(f"/api/v1/handover-notes/{note.pk}/acknowledge").status_code == 409


def test_starting_an_incident_checklist_through_the_api_links_it_to_the_incident(api_as):
    template = make_template("Recovery", kind="recovery")
    incident = make_incident()
    api = api_as("operator")
    response = api.post(RUNS, {"template": template.pk, "incident": incident.pk}, format="json")
    assert response.status_code == 201
    run_id = response.json()["id"]
    item = response.json()["items"][0]["id"]
    api.post(f"{RUNS}/{run_id}/tick", {"item": item, "state": "done"}, format="json")
    messages = [event.text for event in incident.events.filter(kind=EventKind.CHECKLIST)]
    assert any("Check the health endpoint" in m for m in messages)


def test_templates_are_written_with_nested_sections_and_items_by_managers_only(api_as):
    body = {
        "name": "Weekly review",
        "schedule": "0 10 * * 1",
        "sections": [
            {
                "title": "Review",
                "items": [{"text": "Read the slow log", "command": "tail slow.log"}],
            }
        ],
    }
    assert (
        api_as("operator").post("/api/v1/checklist-templates", body, format="json").status_code
        == 403
    )
    api = api_as("manager")
    response = api.post("/api/v1/checklist-templates", body, format="json")
    assert response.status_code == 201, response.json()
    template = Template.objects.get(name="Weekly review")
    assert template.items.get().command == "tail slow.log"
    response = api.patch(
        f"/api/v1/checklist-templates/{template.pk}",
        {"sections": [{"title": "Review", "items": [{"text": "New item"}]}]},
        format="json",
    )
    assert response.status_code == 200 and response.json()["version"] == 2


def test_a_bad_cron_is_a_400_with_a_field_error(api_as):
    response = api_as("manager").post(
        "/api/v1/checklist-templates", {"name": "x", "schedule": "soon"}, format="json"
    )
    assert response.status_code == 400 and "schedule" in response.json()


def test_playbooks_come_with_sanitised_html(api_as):
    api = api_as("manager")
    service = make_service()
    response = api.post(
        "/api/v1/playbooks",
        {
            "title": "API down",
            "service": service.pk,
            "category": "API down",
            "body": "# Fix\n<script>alert(1)</script>\n\n```\nrestart\n```",
        },
        format="json",
    )
    assert response.status_code == 201
    html = response.json()["html"]
    assert "<script>" not in html and "<pre><code>restart" in html


@pytest.mark.parametrize(
    "path", [RUNS, "/api/v1/checklist-templates", "/api/v1/handover-notes", "/api/v1/playbooks"]
)
def test_list_endpoints_use_a_constant_number_of_queries(
    api_as, django_assert_max_num_queries, path
):
    api = api_as("viewer")
    make_run(make_template())
    with django_assert_max_num_queries(20) as ctx:
        assert api.get(path).status_code == 200
    for _ in range(12):
        make_run(
            make_template(
                sections=[
                    {"title": f"S{s}", "items": [{"text": f"i{i}"} for i in range(4)]}
                    for s in range(3)
                ]
            )
        )
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        assert api.get(path).status_code == 200


def test_an_unticked_item_and_an_unread_handover_are_null_as_the_schema_says(api_as, run):
    # Found by the schema fuzz test: the schema said "by" was always a username.
    api = api_as("viewer")
    assert api.get(f"{RUNS}/{run.pk}").json()["items"][0]["by"] is None
    schemas = api.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert schemas["RunItem"]["properties"]["by"]["nullable"] is True
    assert schemas["HandoverNote"]["properties"]["acknowledged_by"]["nullable"] is True


def test_templates_take_json_only_so_a_form_cannot_drop_their_sections(api_as):
    # Found by the schema fuzz test: a multipart template was created without the sections it sent.
    response = api_as("manager").post(
        "/api/v1/checklist-templates",
        {"name": "x", "sections": '[{"title": "A", "items": [{"text": "a"}]}]'},
        format="multipart",
    )
    assert response.status_code == 415 and not Template.objects.exists()
