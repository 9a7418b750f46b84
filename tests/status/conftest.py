import pytest
from django.core.cache import cache

from status.models import Component, StatusPage
from tests.incidents.factories import make_service


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def make_page(slug: str = "main", *, services=(), language: str = "ko", **fields) -> StatusPage:
    page = StatusPage.objects.create(
        slug=slug, title_ko=f"{slug} 상태", title_en=f"{slug} status", language=language, **fields
    )
    for position, (service, name_en, name_ko) in enumerate(services):
        Component.objects.create(
            page=page, service=service, name_en=name_en, name_ko=name_ko, position=position
        )
    return page


@pytest.fixture
def page(db):
    """A Korean-first page with one component: the internal service `api-gw-prod` shown as
    "Website"."""
    return make_page(services=[(make_service("api-gw-prod"), "Website", "웹사이트")])
