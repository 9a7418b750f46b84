"""JSON nested too deep is bad input (issue 25): a 2 KB body of 1 000 brackets was a 500."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core import parsers
from probes.kinds import parse_expectation
from tests.probes.factories import make_probe


def nested(levels: int, leaf="x"):
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def deep_text(levels: int) -> str:
    return "[" * levels + "]" * levels  # built as text: json.dumps itself recurses


def test_a_thousand_deep_array_is_a_400_with_the_depth_code(api_as):
    response = api_as("manager").post(
        "/api/v1/services", deep_text(1000), content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "depth" and body["codes"] == ["depth"]
    assert "32" in body["detail"]


def test_one_level_past_the_limit_is_refused_and_the_limit_itself_is_parsed(api_as):
    api = api_as("manager")
    too_deep = api.post(
        "/api/v1/services", {"name": "db", "description": nested(32)}, format="json"
    )
    assert too_deep.status_code == 400 and too_deep.json()["code"] == "depth"
    # 32 levels: the object plus 31 lists. The parser lets it through; the field then says what is
    # wrong.
    at_limit = api.post(
        "/api/v1/services", {"name": "db", "description": nested(31)}, format="json"
    )
    assert at_limit.status_code == 400
    assert at_limit.json()["code"] != "depth" and "description" in at_limit.json()


def test_the_limit_follows_the_setting(api_as, settings):
    settings.JSON_MAX_DEPTH = 3
    response = api_as("manager").post(
        "/api/v1/services", {"name": "db", "x": [[[1]]]}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "depth"


def test_depth_is_measured_without_recursion():
    assert parsers.depth("x") == 0
    assert parsers.depth([]) == 1
    assert parsers.depth({"a": [1, {"b": []}]}) == 4
    assert parsers.depth(nested(100_000)) == 100_000  # far past the recursion limit


def test_loads_refuses_what_json_cannot_recurse_into_as_a_value_error(settings):
    with pytest.raises(ValueError, match="nested deeper"):
        parsers.loads(deep_text(100_000))
    assert parsers.loads(json.dumps(nested(settings.JSON_MAX_DEPTH))) == nested(
        settings.JSON_MAX_DEPTH
    )


def test_the_runbook_imports_json_form_field_refuses_deep_choices(api_as):
    response = api_as("manager").post(
        "/api/v1/runbook-imports",
        {
            "file": SimpleUploadedFile("a.md", b"# Daily 09:00\n- [ ] a\n"),
            "choices": deep_text(1000),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "depth" and "choices" in response.json()


def test_the_admin_json_field_refuses_deep_json_with_the_form_again(client_as):
    probe = make_probe(name="health", config={"url": "http://127.0.0.1:9/health"})
    client = client_as("admin")
    form = client.get(f"/admin/probes/probe/{probe.pk}/change/").context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["config"] = deep_text(1000)
    response = client.post(f"/admin/probes/probe/{probe.pk}/change/", data)
    assert response.status_code == 200
    assert "nested deeper" in str(response.context["adminform"].form.errors["config"])
    probe.refresh_from_db()
    assert probe.config == {"url": "http://127.0.0.1:9/health"}


def test_a_probe_expectation_with_a_deep_literal_is_refused_not_a_crash():
    with pytest.raises(ValueError):
        parse_expectation("status == " + deep_text(1000))


@pytest.mark.parametrize(
    "path", ["/api/v1/contacts", "/api/v1/escalation-policies", "/api/v1/checklist-templates"]
)
def test_endpoints_that_take_only_json_refuse_deep_bodies_too(api_as, path):
    response = api_as("admin").post(path, deep_text(1000), content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "depth"
