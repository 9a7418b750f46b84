"""Every page keeps its frame (issue 23): the menu and the logged-in user are on it, and the
menu marks the section the page belongs to, not the first link of its app."""

import re

import pytest
from django.urls import reverse

from checklists.models import Playbook
from tests.checklists.factories import make_template

pytestmark = pytest.mark.django_db


def current_links(html: str) -> list[str]:
    nav = html[html.index('<nav id="main-nav"') :]
    nav = nav[: nav.index("</nav>")]
    return re.findall(r'<a href="([^"]+)" aria-current="page">', nav)


def test_the_audit_page_shows_the_menu_and_the_user_also_when_filtered_by_someone(client_as):
    client = client_as("manager")
    for query in ("", f"?user={client.user.pk}", "?user=system"):
        html = client.get(reverse("audit") + query).content.decode()
        assert 'id="main-nav"' in html
        assert f"<summary>{client.user.username}</summary>" in html
        assert current_links(html) == [reverse("audit")]
    filtered = client.get(reverse("audit") + f"?user={client.user.pk}").content.decode()
    assert f'<option value="{client.user.pk}" selected>' in filtered


@pytest.mark.parametrize(
    ("page", "section"),
    [
        ("checklists:my-shift", "checklists:my-shift"),
        ("checklists:runs", "checklists:runs"),
        ("checklists:templates", "checklists:runs"),
        ("checklists:import", "checklists:runs"),
        ("checklists:playbooks", "checklists:playbooks"),
        ("checklists:playbook-new", "checklists:playbooks"),
    ],
)
def test_checklist_pages_mark_their_own_section_in_the_menu(client_as, page, section):
    html = client_as("manager").get(reverse(page)).content.decode()
    assert current_links(html) == [reverse(section)]


def test_a_template_and_a_playbook_page_mark_checklists_and_playbooks(client_as):
    client = client_as("manager")
    template = make_template()
    playbook = Playbook.objects.create(title="API down", body="restart")
    assert current_links(
        client.get(reverse("checklists:template", args=[template.pk])).content.decode()
    ) == [reverse("checklists:runs")]
    assert current_links(
        client.get(reverse("checklists:playbook", args=[playbook.pk])).content.decode()
    ) == [reverse("checklists:playbooks")]


def test_an_incident_page_marks_incidents(client_as):
    html = client_as("manager").get(reverse("incidents:declare")).content.decode()
    assert current_links(html) == [reverse("incidents:list")]
