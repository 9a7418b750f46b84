import re

import pytest
from django.test import Client
from django.urls import reverse

from checklists.models import ItemState, RunStatus, Tick
from incidents.models import EventKind, Incident
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_service


def tick_url(run, item):
    return reverse("checklists:tick", args=[run.pk, item.pk])


@pytest.fixture
def run(db):
    return make_run(make_template("Morning check", service=make_service("Payments")))


def items(run):
    return list(run.items.order_by("position"))


def test_an_operator_ticks_an_item_without_javascript_and_comes_back_to_the_run(client_as, run):
    client = client_as("operator")
    first = items(run)[0]
    response = client.post(tick_url(run, first), {"state": "done", "value": "200 OK"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"{run.get_absolute_url()}#item-{first.pk}")
    first.refresh_from_db()
    run.refresh_from_db()
    assert (first.state, first.value, first.by) == (ItemState.DONE, "200 OK", client.user)
    assert run.status == RunStatus.IN_PROGRESS and run.started_by == client.user


def test_the_no_js_form_post_works_with_csrf_checks_on(make_user, run):
    user = make_user("operator")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(run.get_absolute_url())
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    first = items(run)[0]
    assert client.post(tick_url(run, first), {"state": "done"}).status_code == 403
    response = client.post(tick_url(run, first), {"state": "done", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.state == ItemState.DONE


def test_ticking_with_fetch_answers_the_new_item_and_the_progress(client_as, run):
    client = client_as("operator")
    first = items(run)[0]
    response = client.post(tick_url(run, first), {"state": "n/a"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    data = response.json()
    assert data["handled"] == 1 and data["total"] == 2
    assert "1 / 2" in data["progress"]
    assert f'id="item-{first.pk}"' in data["html"] and "item-na" in data["html"]


def test_skipping_needs_a_reason(client_as, run):
    client = client_as("operator")
    first = items(run)[0]
    response = client.post(
        tick_url(run, first), {"state": "skipped"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400 and "why" in response.json()["error"]
    # Said next to the reason's field on the page (run.js), not in a dialog box.
    assert response.json()["errors"] == {"note": ["Say why the item is skipped."]}
    first.refresh_from_db()
    assert first.state == ItemState.OPEN
    client.post(tick_url(run, first), {"state": "skipped", "note": "Host is being replaced"})
    first.refresh_from_db()
    assert (first.state, first.note) == (ItemState.SKIPPED, "Host is being replaced")


def test_undo_reopens_the_item_and_is_recorded(client_as, run):
    client = client_as("operator")
    first = items(run)[0]
    client.post(tick_url(run, first), {"state": "done"})
    response = client.post(reverse("checklists:untick", args=[run.pk, first.pk]))
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.state == ItemState.OPEN and first.by is None
    assert list(Tick.objects.filter(run_item=first).values_list("state", "undo")) == [
        ("done", False),
        ("open", True),
    ]


def test_a_viewer_can_read_the_run_but_cannot_tick(client_as, run):
    client = client_as("viewer")
    page = client.get(run.get_absolute_url())
    assert page.status_code == 200 and "tick-form" not in page.content.decode()
    assert client.post(tick_url(run, items(run)[0]), {"state": "done"}).status_code == 403
    assert items(run)[0].state == ItemState.OPEN


def test_completing_is_refused_while_a_required_item_is_open(client_as, run):
    client = client_as("operator")
    first, second = items(run)
    client.post(tick_url(run, first), {"state": "done"})
    response = client.post(reverse("checklists:complete", args=[run.pk]))
    assert response.status_code == 409
    assert "required item" in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.IN_PROGRESS
    client.post(tick_url(run, second), {"state": "done"})
    response = client.post(reverse("checklists:complete", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and run.completed_by == client.user


def test_optional_items_do_not_block_completion(client_as):
    run = make_run(
        make_template(
            sections=[
                {"title": "S", "items": [{"text": "Must"}, {"text": "May", "required": False}]}
            ]
        )
    )
    client = client_as("operator")
    client.post(tick_url(run, items(run)[0]), {"state": "failed", "note": "disk 91 %"})
    assert client.post(reverse("checklists:complete", args=[run.pk])).status_code == 302


def test_a_completed_run_refuses_more_ticks(client_as, run):
    client = client_as("operator")
    for item in items(run):
        client.post(tick_url(run, item), {"state": "done"})
    client.post(reverse("checklists:complete", args=[run.pk]))
    response = client.post(
        reverse("checklists:untick", args=[run.pk, items(run)[0].pk]),
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 409
    assert items(run)[0].state == ItemState.DONE


def test_a_failed_item_opens_an_incident_prefilled_with_the_item(client_as, run):
    client = client_as("operator")
    first = items(run)[0]
    client.post(tick_url(run, first), {"state": "failed", "note": "HTTP 503"})
    page = client.get(run.get_absolute_url()).content.decode()
    url = reverse("checklists:open-incident", args=[run.pk, first.pk])
    assert url in page
    form = client.get(url).content.decode()
    assert "Check the health endpoint" in form and "HTTP 503" in form
    response = client.post(
        url, {"title": "Checklist item failed: Check the health endpoint", "severity": "sev2"}
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == incident.get_absolute_url()
    assert (incident.service.name, incident.source, incident.severity) == (
        "Payments",
        "checklist",
        "sev2",
    )
    assert "HTTP 503" in incident.description
    first.refresh_from_db()
    assert first.incident == incident
    assert incident.events.filter(kind=EventKind.CHECKLIST).exists()


def test_two_people_ticking_the_same_run_lose_nothing(make_user, run):
    alice_user, bob_user = make_user("operator"), make_user("operator")
    alice, bob = Client(), Client()
    alice.force_login(alice_user)
    bob.force_login(bob_user)
    first, second = items(run)
    # Both loaded the page before either ticked; each posts their own item.
    alice.post(tick_url(run, first), {"state": "done"})
    bob.post(tick_url(run, second), {"state": "failed", "note": "slow"})
    assert [(i.state, i.by) for i in items(run)] == [("done", alice_user), ("failed", bob_user)]


def test_the_run_page_is_made_for_a_phone(client_as, run):
    page = client_as("operator").get(run.get_absolute_url()).content.decode()
    assert 'name="viewport" content="width=device-width' in page
    assert 'class="big primary"' in page  # big tap targets
    assert "checklists/run.js" in page


def test_commands_have_a_copy_button(client_as):
    run = make_run(
        make_template(
            sections=[{"title": "S", "items": [{"text": "Health", "command": "curl -fsS x"}]}]
        )
    )
    page = client_as("operator").get(run.get_absolute_url()).content.decode()
    assert 'data-copy="curl -fsS x"' in page


def test_an_item_linked_to_a_probe_shows_its_status_and_can_be_ticked_from_it(client_as):
    from django.utils import timezone

    from tests.probes.factories import make_probe

    probe = make_probe(name="API health", status="ok", last_run_at=timezone.now(), last_value=42.0)
    run = make_run(
        make_template(sections=[{"title": "S", "items": [{"text": "API up", "probe": probe}]}])
    )
    client = client_as("operator")
    page = client.get(run.get_absolute_url()).content.decode()
    assert "API health" in page and "status-ok" in page
    item = items(run)[0]
    client.post(tick_url(run, item), {"from_probe": "1"})
    item.refresh_from_db()
    assert (item.state, item.value) == (ItemState.DONE, "42")
    assert "API health" in item.note


def test_the_run_page_uses_a_constant_number_of_queries(client_as, django_assert_max_num_queries):
    client = client_as("operator")
    small = make_run(make_template(items=["a", "b"]))
    big = make_run(make_template(items=[f"item {n}" for n in range(40)]))
    with django_assert_max_num_queries(14) as small_ctx:
        client.get(small.get_absolute_url())
    with django_assert_max_num_queries(len(small_ctx.captured_queries)):
        client.get(big.get_absolute_url())


def test_my_shift_lists_overdue_runs_first_with_words_and_shape(client_as):
    from django.utils import timezone

    client = client_as("operator")
    fresh = make_run(make_template("Fresh"))
    late = make_run(make_template("Late"))
    type(late).objects.filter(pk=late.pk).update(status=RunStatus.OVERDUE, due_at=timezone.now())
    page = client.get(reverse("checklists:my-shift")).content.decode()
    assert page.index("Late") < page.index("Fresh")
    assert "run-overdue" in page and "overdue" in page
    assert fresh.name in page


@pytest.mark.parametrize("url_name", ["checklists:runs", "checklists:my-shift", "dashboard"])
def test_the_list_pages_use_a_constant_number_of_queries(
    client_as, django_assert_max_num_queries, url_name
):
    client = client_as("operator")
    make_run(make_template())
    with django_assert_max_num_queries(40) as ctx:
        assert client.get(reverse(url_name)).status_code == 200
    for _ in range(15):
        make_run(make_template(items=[f"item {n}" for n in range(5)]))
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        assert client.get(reverse(url_name)).status_code == 200


def test_a_refused_tick_of_a_bad_state_names_its_field(client_as, run):
    client = client_as("operator")
    response = client.post(
        tick_url(run, items(run)[0]), {"state": "nonsense"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["state"]
