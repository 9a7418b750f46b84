"""The on-call API: managers edit schedules and layers, overrides also by the person concerned;
bad input is a 400 with field errors."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from oncall.models import Layer, Override
from tests.incidents.factories import make_contact, make_policy
from tests.oncall.factories import make_layer, make_override, make_schedule

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def rota(db, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    ann, bob, carol = make_contact("ann"), make_contact("bob"), make_contact("carol")
    schedule = make_schedule("primary")
    return {"ann": ann, "bob": bob, "carol": carol, "schedule": schedule}


def layer_body(rota, **changes):
    body = {
        "schedule": rota["schedule"].pk,
        "name": "weekly",
        "level": 1,
        "rotation": "weekly",
        "handoff_weekday": 0,
        "handoff_hour": 9,
        "starts_on": "2026-03-02",
        "members": [rota["ann"].pk, rota["bob"].pk],
    }
    return {**body, **changes}


def test_a_manager_creates_a_layer_and_asks_who_is_on_call(api_as, rota):
    api = api_as("manager")
    response = api.post("/api/v1/oncall-layers", layer_body(rota), format="json")
    assert response.status_code == 201, response.json()
    layer = Layer.objects.get()
    assert layer.member_ids() == [rota["ann"].pk, rota["bob"].pk]
    assert response.json()["members"] == [rota["ann"].pk, rota["bob"].pk]
    answer = api.get(
        f"/api/v1/oncall-schedules/{rota['schedule'].pk}/on-call",
        {"at": "2026-03-09T08:59:00+09:00"},
    ).json()
    assert answer["current"]["name"] == "ann"
    assert answer["next"]["name"] == "bob"
    assert answer["next"]["starts_at"] == "2026-03-09T09:00:00+09:00"


def test_a_manager_points_an_escalation_step_at_a_schedule(api_as, rota):
    step = make_policy("sev1", [{}]).steps.get()
    response = api_as("manager").patch(
        f"/api/v1/oncall-schedules/{rota['schedule'].pk}",
        {"escalation_steps": [step.pk]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert list(rota["schedule"].escalation_steps.all()) == [step]


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"handoff_hour": 24}, "handoff_hour", "max_value"),
        ({"handoff_hour": -1}, "handoff_hour", "min_value"),
        ({"handoff_minute": 60}, "handoff_minute", "max_value"),
        ({"members": []}, "members", "min_length"),  # the schema's minItems
        ({"restrict_weekdays": [7]}, "restrict_weekdays", "max_value"),
        ({"restrict_from": "18:00:00"}, "restrict_to", "rule"),
        ({"rotation": "custom", "rotation_days": 0}, "rotation_days", "min_value"),
        ({"members": [10**6]}, "members", "does_not_exist"),
    ],
)
def test_bad_layers_are_refused_with_field_errors(api_as, rota, changes, field, code):
    response = api_as("manager").post(
        "/api/v1/oncall-layers", layer_body(rota, **changes), format="json"
    )
    assert response.status_code in (400, 409), response.json()
    assert field in response.json()
    assert code in response.json()["codes"]
    assert not Layer.objects.exists()


def test_a_rotation_with_a_person_twice_is_refused(api_as, rota):
    body = layer_body(rota, members=[rota["ann"].pk, rota["ann"].pk])
    response = api_as("manager").post("/api/v1/oncall-layers", body, format="json")
    assert response.status_code == 400
    assert response.json()["codes"] == ["duplicate"]


def test_two_layers_on_one_level_covering_the_same_hours_contradict(api_as, rota):
    make_layer(rota["schedule"], [rota["ann"]], name="days", level=1)
    api = api_as("manager")
    response = api.post("/api/v1/oncall-layers", layer_body(rota, name="nights"), format="json")
    assert response.status_code == 400
    assert response.json()["codes"] == ["overlap"]
    assert "days" in response.json()["level"][0]
    # At a higher level it takes precedence; at the same level, on other weekdays, it does not
    # contradict.
    assert (
        api.post("/api/v1/oncall-layers", layer_body(rota, level=2), format="json").status_code
        == 201
    )
    Layer.objects.filter(level=1).update(restrict_weekdays=[0, 1, 2, 3, 4])
    weekends = layer_body(rota, name="weekends", restrict_weekdays=[5, 6])
    assert api.post("/api/v1/oncall-layers", weekends, format="json").status_code == 201


def test_editing_a_layer_keeps_its_rotation_unless_given(api_as, rota):
    layer = make_layer(rota["schedule"], [rota["ann"], rota["bob"]])
    api = api_as("manager")
    response = api.patch(f"/api/v1/oncall-layers/{layer.pk}", {"handoff_hour": 10}, format="json")
    assert response.status_code == 200, response.json()
    layer.refresh_from_db()
    assert (layer.handoff_hour, layer.member_ids()) == (10, [rota["ann"].pk, rota["bob"].pk])
    response = api.patch(
        f"/api/v1/oncall-layers/{layer.pk}", {"members": [rota["carol"].pk]}, format="json"
    )
    assert response.status_code == 200
    assert layer.member_ids() == [rota["carol"].pk]


def test_an_override_that_ends_before_it_starts_is_refused(api_as, rota):
    body = {
        "schedule": rota["schedule"].pk,
        "contact": rota["carol"].pk,
        "starts_at": "2026-03-04T09:00:00+09:00",
        "ends_at": "2026-03-04T08:00:00+09:00",
    }
    response = api_as("manager").post("/api/v1/oncall-overrides", body, format="json")
    assert response.status_code == 400
    assert "ends_at" in response.json()
    assert not Override.objects.exists()


def test_bad_on_call_time_is_a_400(api_as, rota):
    response = api_as("viewer").get(
        f"/api/v1/oncall-schedules/{rota['schedule'].pk}/on-call", {"at": "soon"}
    )
    assert response.status_code == 400
    assert "at" in response.json()


def override_body(rota, contact, covers_for=None):
    return {
        "schedule": rota["schedule"].pk,
        "contact": contact.pk,
        "covers_for": covers_for and covers_for.pk,
        "starts_at": "2026-03-04T09:00:00+09:00",
        "ends_at": "2026-03-05T09:00:00+09:00",
        "reason": "leave",
    }


def test_an_operator_sets_an_override_for_themselves_only(api_as, rota):
    api = api_as("operator")
    rota["carol"].user = api.user
    rota["carol"].save()
    own = api.post(
        "/api/v1/oncall-overrides", override_body(rota, rota["carol"], rota["ann"]), format="json"
    )
    assert own.status_code == 201, own.json()
    assert Override.objects.get().created_by == api.user
    others = api.post(
        "/api/v1/oncall-overrides", override_body(rota, rota["bob"], rota["ann"]), format="json"
    )
    assert others.status_code == 403
    theirs = make_override(
        rota["schedule"],
        rota["bob"],
        datetime(2026, 3, 6, tzinfo=SEOUL),
        datetime(2026, 3, 7, tzinfo=SEOUL),
    )
    assert api.delete(f"/api/v1/oncall-overrides/{theirs.pk}").status_code == 403
    # Moving one's own override onto someone else is setting theirs.
    mine = Override.objects.get(contact=rota["carol"])
    moved = api.patch(
        f"/api/v1/oncall-overrides/{mine.pk}",
        {"contact": rota["bob"].pk, "covers_for": None},
        format="json",
    )
    assert moved.status_code == 403
    assert api.delete(f"/api/v1/oncall-overrides/{mine.pk}").status_code == 204
    assert list(Override.objects.all()) == [theirs]


def test_a_manager_sets_anyones_override(api_as, rota):
    response = api_as("manager").post(
        "/api/v1/oncall-overrides", override_body(rota, rota["bob"]), format="json"
    )
    assert response.status_code == 201


def test_viewers_read_but_do_not_write(api_as, rota):
    api = api_as("viewer")
    assert api.get("/api/v1/oncall-schedules").status_code == 200
    assert api.post("/api/v1/oncall-layers", layer_body(rota), format="json").status_code == 403
    assert (
        api.post(
            "/api/v1/oncall-overrides", override_body(rota, rota["bob"]), format="json"
        ).status_code
        == 403
    )
    operator = api_as("operator")
    assert (
        operator.post("/api/v1/oncall-layers", layer_body(rota), format="json").status_code == 403
    )
    assert (
        operator.post("/api/v1/oncall-schedules", {"name": "x"}, format="json").status_code == 403
    )


def test_a_list_of_steps_must_be_a_list(api_as):
    # DRF read any iterable as a list of related ids: a JSON object passed as an empty list.
    response = api_as("manager").post(
        "/api/v1/oncall-schedules", {"name": "primary", "escalation_steps": {}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["codes"] == ["not_a_list"]
