from django.views.defaults import server_error


def test_an_unknown_page_is_a_friendly_404(client_as):
    response = client_as("viewer").get("/no/such/page/")
    assert response.status_code == 404
    assert b"There is nothing at this address" in response.content
    assert b"Back to the dashboard" in response.content


def test_a_forbidden_page_says_what_to_do(client_as):
    response = client_as("viewer").get("/incidents/declare/")
    assert response.status_code == 403
    assert b"Your role does not allow this" in response.content


def test_the_500_page_renders_without_a_request_context(rf):
    # Django's own handler, as it runs after an unhandled exception: no user, no context processors.
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
