import pytest
from django.utils import timezone
from django_q.models import Schedule, Task

from portal.schedules import ensure_schedules


def make_tasks(n, success=True):
    now = timezone.now()
    Task.objects.bulk_create(
        Task(
            id=f"t{success}{i}",
            name=f"task-{i}",
            func="portal.tasks.heartbeat",
            started=now,
            stopped=now,
            success=success,
            result=None if success else "boom: disk full",
        )
        for i in range(n)
    )


def test_anonymous_api_calls_get_401(client, db):
    assert client.get("/api/v1/tasks").status_code == 401


def test_a_revoked_token_no_longer_works(api_as):
    api = api_as("viewer")
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=api.user).delete()
    assert api.get("/api/v1/tasks").status_code == 401


def test_a_user_without_a_role_reads_nothing(api_as):
    assert api_as(None).get("/api/v1/tasks").status_code == 403


def test_viewers_list_failed_tasks_with_their_error(api_as):
    make_tasks(3, success=False)
    make_tasks(2, success=True)
    response = api_as("viewer").get("/api/v1/tasks", {"success": "false"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["results"][0]["error"] == "boom: disk full"


def test_task_list_pages_by_fifty(api_as):
    make_tasks(60)
    body = api_as("viewer").get("/api/v1/tasks").json()
    assert len(body["results"]) == 50
    assert body["next"]


def test_task_list_queries_do_not_grow_with_page_size(api_as, django_assert_max_num_queries):
    make_tasks(120)
    api = api_as("viewer")
    for size in (5, 100):
        with django_assert_max_num_queries(6):
            assert api.get("/api/v1/tasks", {"page_size": size}).status_code == 200


def test_schedules_are_listed_and_read_only(api_as):
    ensure_schedules()
    api = api_as("manager")
    names = {row["name"] for row in api.get("/api/v1/schedules").json()["results"]}
    assert {"portal.heartbeat", "portal.heartbeat.long"} <= names
    schedule_id = Schedule.objects.first().pk
    assert api.delete(f"/api/v1/schedules/{schedule_id}").status_code == 403
    assert api_as("admin").delete(f"/api/v1/schedules/{schedule_id}").status_code == 405


@pytest.mark.parametrize("role", ["viewer", "operator", "manager"])
def test_every_role_reads_the_api_root(api_as, role):
    assert api_as(role).get("/api/v1/").status_code == 200


def test_an_api_url_that_matches_no_route_answers_json_and_pages_keep_their_page(api_as, client_as):
    # Found by the schema fuzz test: /api/v1/incidents/1.5 answered the HTML 404 page.
    response = api_as("viewer").get("/api/v1/incidents/1.5")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "codes": ["not_found"]}
    page = client_as("viewer").get("/incidents/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_search_with_a_null_character_answers_the_one_error_shape(api_as):
    # Found by the schema fuzz test: DRF's SearchFilter answered a bare list.
    response = api_as("viewer").get("/api/v1/tasks", {"search": "a\x00b"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Null characters are not allowed.",
        "code": "null_characters_not_allowed",
        "codes": ["null_characters_not_allowed"],
    }


def test_the_schema_documents_the_errors_each_operation_can_answer(api_as):
    paths = api_as("viewer").get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths["/api/v1/incidents"]["post"]["responses"]) == {
        "200",
        "201",
        "400",
        "401",
        "403",
        "409",
        "413",
        "415",
    }
    assert set(paths["/api/v1/incidents"]["get"]["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "414",
    }
    assert set(paths["/api/v1/incidents/{id}"]["get"]["responses"]) == {"200", "401", "403", "404"}
    assert set(paths["/api/v1/heartbeats/{token}"]["post"]["responses"]) == {
        "200",
        "404",
        "413",
        "429",
    }
    assert set(paths["/api/health"]["get"]["responses"]) == {"200", "503"}
    error = paths["/api/v1/services"]["post"]["responses"]["400"]["content"]["application/json"][
        "schema"
    ]
    assert error == {"$ref": "#/components/schemas/Error"}


def test_a_method_an_endpoint_lacks_answers_405_while_roles_still_decide_the_rest(api_as):
    # Found by the schema fuzz test's method check: views without a queryset answered 403.
    manager, viewer = api_as("manager"), api_as("viewer")
    assert manager.post("/api/metrics").status_code == 405
    assert manager.delete("/api/v1/reports/incidents").status_code == 405
    assert viewer.put("/api/v1/runbook-imports").status_code == 405
    assert viewer.post("/api/v1/runbook-imports").status_code == 403


def test_a_task_time_filter_with_a_far_utc_offset_is_not_a_500(api_as):
    # Found by the schema fuzz test on PostgreSQL (offsets past ±15:59).
    api = api_as("viewer")
    assert (
        api.get("/api/v1/tasks", {"started_after": "0176-05-09T17:38:19+18:59"}).status_code == 200
    )
