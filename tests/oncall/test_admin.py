"""The on-call admin refuses what the API refuses: an empty rotation, a hand-off outside the day,
contradicting layers, an override that ends before it starts."""

import pytest

from oncall.models import Layer, Override
from tests.adminform import staff_client
from tests.incidents.factories import make_contact
from tests.oncall.factories import make_layer, make_schedule


@pytest.fixture
def admin_client(db, make_user):
    return staff_client(make_user, "manager")


def layer_form(schedule, members=(), **changes):
    data = {
        "schedule": schedule.pk,
        "name": "weekly",
        "level": 1,
        "rotation": "weekly",
        "rotation_days": 1,
        "handoff_weekday": 0,
        "handoff_hour": 9,
        "handoff_minute": 0,
        "starts_on": "2026-03-02",
        "restrict_weekdays": "[]",
        "restrict_from": "",
        "restrict_to": "",
        "memberships-TOTAL_FORMS": len(members),
        "memberships-INITIAL_FORMS": 0,
        "memberships-MIN_NUM_FORMS": 1,
        "memberships-MAX_NUM_FORMS": 1000,
        "_save": "Save",
    }
    for n, contact in enumerate(members):
        data[f"memberships-{n}-position"] = n
        data[f"memberships-{n}-contact"] = contact.pk
    return {**data, **changes}


def errors_of(response) -> dict:
    form = response.context["adminform"].form
    inline_errors = [
        e
        for formset in response.context["inline_admin_formsets"]
        for e in formset.formset.non_form_errors()
    ]
    return {**form.errors, **({"members": inline_errors} if inline_errors else {})}


def test_a_manager_adds_a_layer_with_its_rotation(admin_client):
    schedule, ann = make_schedule(), make_contact("ann")
    response = admin_client.post("/admin/oncall/layer/add/", layer_form(schedule, [ann]))
    assert response.status_code == 302
    assert Layer.objects.get().member_ids() == [ann.pk]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"handoff_hour": 24}, "handoff_hour"),
        ({"handoff_minute": 60}, "handoff_minute"),
        ({"restrict_from": "18:00"}, "restrict_to"),
    ],
)
def test_bad_layers_are_form_errors(admin_client, changes, field):
    schedule = make_schedule()
    response = admin_client.post(
        "/admin/oncall/layer/add/", layer_form(schedule, [make_contact()], **changes)
    )
    assert response.status_code == 200
    assert field in errors_of(response)
    assert not Layer.objects.exists()


def test_an_empty_rotation_is_a_form_error(admin_client):
    response = admin_client.post("/admin/oncall/layer/add/", layer_form(make_schedule()))
    assert response.status_code == 200
    assert "members" in errors_of(response)
    assert not Layer.objects.exists()


def test_a_layer_contradicting_another_on_its_level_is_a_form_error(admin_client):
    schedule, ann = make_schedule(), make_contact("ann")
    make_layer(schedule, [ann], name="days")
    response = admin_client.post(
        "/admin/oncall/layer/add/", layer_form(schedule, [ann], name="nights")
    )
    assert response.status_code == 200
    assert "level" in errors_of(response)
    assert Layer.objects.count() == 1


def test_an_override_ending_before_it_starts_is_a_form_error(admin_client):
    schedule, ann = make_schedule(), make_contact("ann")
    response = admin_client.post(
        "/admin/oncall/override/add/",
        {
            "schedule": schedule.pk,
            "contact": ann.pk,
            "starts_at_0": "2026-03-04",
            "starts_at_1": "09:00",
            "ends_at_0": "2026-03-04",
            "ends_at_1": "08:00",
            "reason": "",
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert "ends_at" in errors_of(response)
    assert not Override.objects.exists()
