"""The API answers exactly what its schema says (issue 20): each finding of a schemathesis run in
every phase, as a rule that would have caught it. The run itself:
tests/hardening/test_schema_fuzz.py."""

import pytest

from incidents import postmortems, services
from incidents.models import ActionItem, Contact
from tests.incidents.factories import make_channel, make_contact, make_service, make_tier

API = "/api/v1"


@pytest.fixture
def schema(api_as):
    return api_as("viewer").get("/api/schema/", {"format": "json"}).json()


def error_shape(body) -> bool:
    return (
        isinstance(body.get("detail"), str)
        and isinstance(body.get("code"), str)
        and isinstance(body.get("codes"), list)
    )


# The server error: a nested channel with a kind and no target ---------------------------------


def test_a_partial_update_with_a_new_channel_without_target_is_a_400_naming_the_field(api_as):
    contact = make_contact(tier=make_tier())
    response = api_as("manager").patch(
        f"{API}/contacts/{contact.pk}", {"channels": [{"kind": "email"}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["channels"]["0"]["target"] and response.json()["code"] == "required"


def test_a_partial_update_of_a_known_channel_keeps_what_it_leaves_out(api_as):
    contact = make_contact(tier=make_tier())
    channel = make_channel(contact, "email", "ops@example.com")
    response = api_as("manager").patch(
        f"{API}/contacts/{contact.pk}",
        {"channels": [{"id": channel.pk, "enabled": False}]},
        format="json",
    )
    assert response.status_code == 200
    channel.refresh_from_db()
    assert (channel.target, channel.enabled) == ("ops@example.com", False)


# Responses: what can be null is declared nullable ----------------------------------------------


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("ActionItem", "owner"),
        ("Postmortem", "downtime"),
        ("Postmortem", "detected_at"),
        ("Postmortem", "recovered_at"),
        ("PostmortemList", "downtime"),
        ("Service", "owner"),
    ],
)
def test_fields_that_can_be_null_are_nullable_in_the_schema(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


def test_an_action_item_whose_owner_left_reads_back_with_a_null_owner(api_as, make_user):
    manager = make_user("manager")
    incident, _ = services.open_incident(
        service=make_service("api"), title="Down", severity="sev2", by=manager
    )
    services.resolve(incident=incident, by=manager)
    postmortem = postmortems.save_postmortem(
        postmortem=postmortems.draft_for(incident, by=manager), by=manager
    )
    owner = make_contact(tier=make_tier())
    item = ActionItem.objects.create(postmortem=postmortem, description="Alert sooner", owner=owner)
    Contact.objects.filter(pk=owner.pk).delete()
    assert api_as("viewer").get(f"{API}/action-items/{item.pk}").json()["owner"] is None


# Query strings: as typed as the schema says, no stricter --------------------------------------


def test_an_id_filter_for_an_id_no_row_has_answers_an_empty_list(api_as):
    response = api_as("viewer").get(f"{API}/action-items", {"owner": 0, "postmortem": 0})
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"service": "0.5"},
        {"service": ""},
        {"service": "-1"},
        {"service": str(10**19)},
        {"page_size": "null"},
        {"page_size": "0"},
        {"page_size": ""},
        {"page": ""},
        {"open": "maybe"},
        {"open": ""},
        {"created_before": ""},
        {"status": ""},
    ],
)
def test_a_query_parameter_the_schema_does_not_allow_is_refused(api_as, query):
    response = api_as("viewer").get(f"{API}/incidents", query)
    assert response.status_code in (400, 404) and error_shape(response.json()), response.content


def test_a_text_filter_may_be_empty(api_as):
    assert api_as("viewer").get(f"{API}/incidents", {"dedup_key": ""}).status_code == 200


def test_a_parameter_given_twice_is_refused(api_as):
    response = api_as("viewer").get(f"{API}/incidents?page_size=5&page_size=500")
    assert response.status_code == 400 and response.json()["code"] == "repeated"


def test_a_large_page_size_is_capped_not_refused(api_as):
    assert api_as("viewer").get(f"{API}/incidents", {"page_size": 5000}).status_code == 200


def test_the_report_of_a_service_no_row_has_is_empty(api_as):
    response = api_as("manager").get(f"{API}/reports/incidents", {"service": 0})
    assert response.status_code == 200 and response.json()["service"] == 0


@pytest.mark.parametrize("month", ["2026-1", " 2026-01", "2026-13"])
def test_a_report_month_is_written_yyyy_mm(api_as, month):
    assert api_as("manager").get(f"{API}/reports/incidents", {"first": month}).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/incidents/null,null",
        "/incidents/1.5",
        f"/incidents/{10**19}",
        "/checklist-runs/null/complete",
    ],
)
def test_an_id_in_a_path_that_is_no_integer_is_a_404_not_a_500(api_as, path):
    response = api_as("manager").get(f"{API}{path}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# Bodies: JSON, typed as documented -------------------------------------------------------------


def test_a_body_that_is_not_json_is_a_415(api_as):
    response = api_as("manager").post(f"{API}/services", {"name": "api"})  # multipart
    assert response.status_code == 415 and error_shape(response.json())


@pytest.mark.parametrize(
    "body",
    [
        {"name": 5},
        {"name": "api", "rto": "P1D"},
        {"name": "api", "rto": -5},
        {"name": "api", "owner": 10**19},
    ],
)
def test_a_body_value_of_the_wrong_type_is_refused(api_as, body):
    response = api_as("manager").post(f"{API}/services", body, format="json")
    assert response.status_code == 400 and error_shape(response.json()), response.content


@pytest.mark.parametrize("rto", ["01:00:00", "3600", 3600, "1 00:00:00"])
def test_durations_are_taken_as_drf_writes_them_or_as_seconds(api_as, rto):
    response = api_as("manager").post(
        f"{API}/services", {"name": f"api-{rto}", "rto": rto}, format="json"
    )
    assert response.status_code == 201, response.content


# Errors: one shape, and 409 for what depends on stored rows -------------------------------------


def test_a_name_already_taken_is_a_conflict(api_as):
    make_service("api")
    response = api_as("manager").post(f"{API}/services", {"name": "api"}, format="json")
    assert response.status_code == 409 and response.json()["codes"] == ["unique"]


def test_a_reference_to_a_row_that_does_not_exist_is_a_conflict(api_as):
    response = api_as("manager").post(
        f"{API}/services", {"name": "api", "owner": 999999}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "does_not_exist"


def test_a_transition_the_status_does_not_allow_is_a_conflict(api_as, make_user):
    incident, _ = services.open_incident(service=make_service("api"), title="Down", severity="sev2")
    services.resolve(incident=incident, by=make_user("operator"))
    response = api_as("operator").post(f"{API}/incidents/{incident.pk}/acknowledge")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


def test_a_rule_and_a_shape_error_together_are_a_400_naming_both(api_as):
    response = api_as("manager").post(
        f"{API}/services", {"name": "", "owner": 999999}, format="json"
    )
    assert response.status_code == 400
    assert (
        response.json()["codes"] == ["blank", "does_not_exist"]
        and response.json()["code"] == "invalid"
    )


@pytest.mark.parametrize(
    ("role", "method", "path", "status"),
    [
        (None, "get", "/incidents", 401),
        ("viewer", "post", "/services", 403),
        ("viewer", "get", "/incidents/999", 404),
        ("admin", "delete", "/incidents", 405),
    ],
)
def test_every_error_has_the_one_shape(api_as, client, role, method, path, status):
    api = api_as(role) if role else client
    response = (
        getattr(api, method)(f"{API}{path}", format="json") if role else client.get(f"{API}{path}")
    )
    assert response.status_code == status and error_shape(response.json()), response.content


# The schema documents it ------------------------------------------------------------------------


def test_every_operation_with_a_json_body_documents_415_and_every_query_414(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                assert "415" in operation["responses"], f"{method} {path}"
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "414" in operation["responses"], f"{method} {path}"
            assert "multipart/form-data" not in content or path.endswith("runbook-imports"), (
                f"{method} {path}"
            )


def test_what_a_post_creates_links_to_the_operations_on_it(schema):
    links = schema["paths"][f"{API}/incidents"]["post"]["responses"]["201"]["links"]
    assert links["v1_incidents_acknowledge_create"] == {
        "operationId": "v1_incidents_acknowledge_create",
        "parameters": {"id": "$response.body#/id"},
    }
    assert {"v1_incidents_retrieve", "v1_incidents_resolve_create"} <= set(links)


def test_ids_in_paths_are_integers(schema):
    parameter = schema["paths"][f"{API}/incidents/{{id}}"]["get"]["parameters"][0]
    assert parameter["schema"] == {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}


@pytest.mark.parametrize("param", ["first", "last", "service", "from_impact"])
def test_an_empty_report_parameter_is_refused(api_as, param):
    response = api_as("manager").get(f"{API}/reports/incidents", {param: ""})
    assert response.status_code == 400 and param in response.json()


def test_a_blank_allowed_text_with_a_pattern_takes_the_empty_string_in_the_schema(schema):
    schedule = schema["components"]["schemas"]["TemplateRequest"]["properties"]["schedule"]
    assert "oneOf" not in schedule and {"type": "string", "maxLength": 0} in schedule["anyOf"]


def test_a_models_own_pattern_is_published_not_replaced(schema):
    name = schema["components"]["schemas"]["BackupTargetRequest"]["properties"]["name"]
    assert name["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_.-]*$"


@pytest.mark.parametrize("after", [1.5e-05, 0, 90.5])
def test_a_duration_in_seconds_may_be_any_number_in_range(api_as, after):
    tier = make_tier()
    body = {"name": "p", "severity": "sev1", "steps": [{"after": after, "tier": tier.pk}]}
    assert (
        api_as("manager").post(f"{API}/escalation-policies", body, format="json").status_code == 201
    )


@pytest.mark.parametrize("enabled", [0, 1, "yes", "on", "1"])
def test_a_boolean_is_true_or_false_nothing_else(api_as, enabled):
    channel = make_channel(make_contact(tier=make_tier()), "email", "ops@example.com")
    response = api_as("manager").patch(
        f"{API}/channels/{channel.pk}", {"enabled": enabled}, format="json"
    )
    assert response.status_code == 400 and "enabled" in response.json()


def test_a_file_that_is_no_runbook_answers_the_one_error_shape(api_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    response = api_as("manager").post(
        f"{API}/runbook-imports", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400 and error_shape(response.json()) and response.json()["file"]


@pytest.mark.parametrize("owner", ["99999999999999999999999", "x", 1.5, True, [1]])
def test_an_id_in_a_body_that_is_no_integer_in_range_is_a_400(api_as, owner):
    response = api_as("manager").post(
        f"{API}/services", {"name": "api", "owner": owner}, format="json"
    )
    assert response.status_code == 400 and "owner" in response.json()


def test_a_patch_replacing_nested_lists_validates_each_item_whole(api_as):
    api = api_as("manager")
    template = api.post(
        f"{API}/checklist-templates",
        {
            "name": "daily",
            "sections": [{"title": "Morning", "items": [{"text": "Disk below 80 %"}]}],
        },
        format="json",
    )
    assert template.status_code == 201, template.content
    response = api.patch(
        f"{API}/checklist-templates/{template.json()['id']}",
        {"sections": [{"title": "No items key"}]},
        format="json",
    )
    assert response.status_code == 400 and "sections" in response.json()
    tier = make_tier()
    policy = api.post(
        f"{API}/escalation-policies",
        {"name": "p", "severity": "sev1", "steps": [{"after": 0, "tier": tier.pk}]},
        format="json",
    )
    response = api.patch(
        f"{API}/escalation-policies/{policy.json()['id']}",
        {"steps": [{"tier": tier.pk}]},
        format="json",
    )
    assert response.status_code == 400 and "steps" in response.json()


def test_text_query_parameters_say_they_take_no_nul(schema):
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"][f"{API}/tasks"]["get"]["parameters"]
    }
    assert parameters["cluster"]["pattern"] == parameters["search"]["pattern"] == r"^[^\x00]*$"
    assert "pattern" not in parameters["ordering"]
