"""Everything but /api/health and the login page needs a login."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"/api/health", "/account/login/", "/admin/login/"}
# Public by a credential or a public name in the URL; an unknown one is a 404 for anyone (a forged
# acknowledge link a 400): path → method.
PUBLIC_BY_TOKEN = {
    # Heartbeat pings and alert intake: the uuid is the credential.
    "/api/v1/heartbeats/00000000-0000-0000-0000-000000000000": "GET",
    "/api/v1/heartbeats/00000000-0000-0000-0000-000000000000/fail": "GET",
    "/api/v1/integrations/00000000-0000-0000-0000-000000000000/alerts": "POST",
    # On-call calendar feeds: phones subscribe with the secret in the URL.
    "/oncall/1/feed/x.ics": "GET",
    "/oncall/people/1/feed/x.ics": "GET",
    # The public status page of the slug, its JSON and feed, and its subscription links (issue 17).
    "/status/x/": "GET",
    "/status/x/status.json": "GET",
    "/status/x/feed.atom": "GET",
    "/status/x/subscribe/": "GET",
    "/status/x/confirm/x/": "GET",
    "/status/x/unsubscribe/x/": "GET",
    # One-click acknowledge from a page: the signed token is the credential (issue 15).
    "/incidents/ack/x/": "GET",
}
REFUSED_TOKEN = {"/incidents/ack/x/": 400}  # not signed by the portal: bad input, not an unknown id
SAMPLE_ARGS = {
    "int": "1",
    "str": "x",
    "slug": "x",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "path": "x",
}


def walk(patterns, prefix=""):
    for pattern in patterns:
        piece = str(pattern.pattern)
        if piece.startswith("^"):
            piece = piece[1:]
        if piece.endswith("$"):
            piece = piece[:-1]
        route = prefix + piece
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def concrete(route: str) -> str | None:
    import re

    if "(?P<format>" in route or ":format>" in route:
        return None  # DRF's ".json" suffix twins of routes checked anyway
    # A sample for each regex group: django-q2's task ids are 32 hex digits, other ids digits.
    route = re.sub(
        r"\(\?P<\w+>([^)]*)\)", lambda m: "0" * 32 if "a-f" in m.group(1) else "1", route
    )
    route = route.replace("\\Z", "")
    if any(c in route for c in "()[]*+?\\"):
        return None
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_ARGS.get(m.group(1) or "str", "x"), route)
    return "/" + route


def all_paths():
    paths = set()
    for route in walk(get_resolver().url_patterns):
        path = concrete(route)
        if path and not path.startswith("/static/"):
            paths.add(path.replace("//", "/"))
    return sorted(paths)


PATHS = all_paths()


def test_the_url_walk_finds_the_known_pages():
    assert {"/", "/api/health", "/api/metrics", "/api/v1/", "/admin/", "/account/token/"} <= set(
        PATHS
    )


@pytest.mark.parametrize("path", [p for p in PATHS if p not in PUBLIC | PUBLIC_BY_TOKEN.keys()])
def test_anonymous_requests_are_refused(client, db, path):
    response = client.get(path)
    if path.startswith("/api/"):
        assert response.status_code in (401, 403, 405), (path, response.status_code)
    else:
        assert response.status_code in (301, 302, 405), (path, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response["Location"], path


@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_public_paths_answer_without_login(client, db, path):
    assert client.get(path).status_code in (200, 503)


@pytest.mark.parametrize("path", sorted(PUBLIC_BY_TOKEN))
def test_token_paths_answer_404_to_an_unknown_token_without_login(client, db, path):
    assert path in PATHS
    assert client.generic(PUBLIC_BY_TOKEN[path], path).status_code == REFUSED_TOKEN.get(path, 404)
