"""What an on-call person at 3 a.m. relies on: a skip link and a phone viewport, status badges that
say their status in words, a label on every form field, empty lists that say what to do next, and
visible progress on anything that takes time. Pages are parsed with the standard library."""

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from backups.models import BackupRun, BackupTarget, RunStatus, Trigger
from checklists.models import Template
from incidents import services as incident_services
from tests.checklists.factories import make_run, make_template
from tests.incidents.factories import make_service
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children, self.text = (
            tag,
            dict(attrs),
            parent,
            [],
            [],
        )

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def all_text(self) -> str:
        return " ".join(
            ["".join(self.text), *(child.all_text() for child in self.children)]
        ).strip()

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class Tree(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", [])
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text.append(data)

    def find_all(self, predicate) -> list[Node]:
        return [node for node in self.root.walk() if predicate(node)]


def parse(response) -> Tree:
    assert response.status_code == 200, response.status_code
    return Tree(response.content.decode())


@pytest.fixture
def admin(client, make_user):
    client.force_login(make_user("admin"))
    return client


@pytest.fixture
def viewer(client, make_user):
    client.force_login(make_user("viewer"))
    return client


# The frame ---------------------------------------------------------------------------


def test_every_page_has_a_phone_viewport_a_skip_link_to_the_main_content_and_a_menu_button(admin):
    tree = parse(admin.get(reverse("dashboard")))
    viewport = tree.find_all(lambda n: n.tag == "meta" and n.attrs.get("name") == "viewport")
    assert viewport and "width=device-width" in viewport[0].attrs["content"]
    links = tree.find_all(lambda n: n.tag == "a")
    assert links[0].attrs["href"] == "#main" and links[0].all_text() == "Skip to content"
    assert tree.find_all(lambda n: n.tag == "main" and n.attrs.get("id") == "main")
    toggle = tree.find_all(lambda n: n.tag == "button" and "nav-toggle" in n.classes)
    assert (
        toggle and toggle[0].attrs["aria-controls"] == "main-nav" and toggle[0].all_text() == "Menu"
    )
    scripts = [n.attrs.get("src", "") for n in tree.find_all(lambda n: n.tag == "script")]
    assert any(src.endswith("portal/ui.js") for src in scripts)


def test_the_stylesheet_keeps_a_visible_focus_outline_a_dark_scheme_and_a_folding_menu():
    css = (Path(settings.BASE_DIR) / "portal" / "static" / "portal" / "portal.css").read_text()
    assert ":focus-visible" in css and "outline: 3px solid" in css
    assert "@media (prefers-color-scheme: dark)" in css
    assert ".js .topbar nav.open" in css


# Status badges: words, not colour alone ----------------------------------------------------


def badges(tree: Tree) -> list[Node]:
    return tree.find_all(lambda n: n.classes & {"status", "sev", "pm-status"} and n.tag == "span")


@pytest.fixture
def busy_portal(settings, tmp_path):
    settings.FILE_ROOTS = [tmp_path]
    service = make_service("api")
    for severity, title in (("sev1", "API down"), ("sev3", "Slow pages")):
        incident_services.open_incident(service=service, title=title, severity=severity)
    for status in ("ok", "warning", "critical", "error", "unknown"):
        make_probe(service, name=f"probe {status}", status=status)
    target = BackupTarget.objects.create(
        name="db",
        kind="sqlite",
        service=service,
        source=str(tmp_path / "db"),
        destination=str(tmp_path / "backups"),
    )
    for status in (
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.QUEUED,
    ):
        # one active run per target
        BackupRun.objects.create(target=target, trigger=Trigger.MANUAL, status=status)
    make_run(make_template("Daily"))
    return target


@pytest.mark.parametrize(
    "url_name",
    [
        "dashboard",
        "incidents:list",
        "probes:grid",
        "backups:targets",
        "backups:runs",
        "checklists:runs",
    ],
)
def test_every_status_badge_says_its_status_in_words(admin, busy_portal, url_name):
    found = badges(parse(admin.get(reverse(url_name))))
    assert found
    for badge in found:
        assert badge.all_text(), badge.attrs
        for dot in (n for n in badge.children if "dot" in n.classes):
            assert dot.attrs.get("aria-hidden") == "true"


# Forms: every field has a label ---------------------------------------------------------


def unlabelled_fields(tree: Tree) -> list[str]:
    labelled = {n.attrs.get("for") for n in tree.find_all(lambda n: n.tag == "label")}
    problems = []
    for field in tree.find_all(lambda n: n.tag in ("input", "select", "textarea")):
        if field.attrs.get("type") in ("hidden", "submit", "button"):
            continue
        if any(a.tag == "template" for a in field.ancestors()):
            continue
        if (
            field.attrs.get("id") in labelled
            or field.attrs.get("aria-label")
            or field.attrs.get("aria-labelledby")
        ):
            continue
        if any(a.tag == "label" for a in field.ancestors()):
            continue
        problems.append(field.attrs.get("name") or field.tag)
    return problems


def main_form_urls(target):
    incident, _ = incident_services.open_incident(
        service=target.service, title="API down", severity="sev2"
    )
    run = BackupRun.objects.filter(target=target, status=RunStatus.SUCCEEDED).first()
    checklist_run = make_run(make_template("Weekly"))
    return [
        reverse("incidents:declare"),
        reverse("incidents:list"),
        incident.get_absolute_url(),
        reverse("incidents:postmortem-edit", args=[incident.pk]),
        reverse("incidents:acknowledge", args=[incident.pk]),
        reverse("probes:create", args=["http"]),
        reverse("checklists:playbook-new"),
        reverse("checklists:import"),
        reverse("checklists:runs"),
        checklist_run.get_absolute_url(),
        reverse("backups:restore", args=[run.pk]),
        reverse("password_change"),
        reverse("incidents:postmortems"),
    ]


def test_every_field_of_the_main_forms_has_a_label(admin, busy_portal):
    for url in main_form_urls(busy_portal):
        tree = parse(admin.get(url))
        assert tree.find_all(lambda n: n.tag in ("input", "select", "textarea")), url
        assert unlabelled_fields(tree) == [], url


def test_the_login_form_and_the_language_switch_have_labels(client):
    assert unlabelled_fields(parse(client.get(reverse("login")))) == []


# Empty states say what to do next -----------------------------------------------------------


LIST_PAGES = [
    "incidents:list",
    "probes:grid",
    "backups:targets",
    "backups:runs",
    "checklists:runs",
    "checklists:templates",
    "checklists:playbooks",
    "incidents:postmortems",
    "checklists:my-shift",
]


def empty_state_links(tree: Tree) -> list[str]:
    states = tree.find_all(lambda n: "empty-state" in n.classes)
    assert states, "no empty state"
    return [link.attrs["href"] for state in states for link in state.walk() if link.tag == "a"]


@pytest.mark.parametrize("url_name", LIST_PAGES)
def test_an_empty_list_page_says_what_to_do_next_with_a_link(admin, url_name):
    assert not Template.objects.exists()
    links = empty_state_links(parse(admin.get(reverse(url_name))))
    assert links and all(href.startswith("/") for href in links)


@pytest.mark.parametrize("url_name", LIST_PAGES)
def test_a_viewer_also_gets_a_next_step_on_an_empty_list(viewer, url_name):
    assert empty_state_links(parse(viewer.get(reverse(url_name))))


def test_no_incidents_offers_to_declare_one(admin):
    links = empty_state_links(parse(admin.get(reverse("incidents:list"))))
    assert reverse("incidents:declare") in links


def test_filters_that_match_nothing_offer_to_clear_them(admin):
    make_service("api")
    links = empty_state_links(
        parse(admin.get(reverse("incidents:list"), {"q": "nothing like this"}))
    )
    assert links == [reverse("incidents:list")]


# Progress on anything that takes time ----------------------------------------------------------


def busy_buttons(tree: Tree) -> list[str]:
    return [
        n.attrs["data-busy"]
        for n in tree.find_all(lambda n: n.tag == "button" and "data-busy" in n.attrs)
    ]


def test_run_now_restore_and_import_buttons_say_they_are_busy_once_pressed(admin, busy_portal):
    probe = make_probe(busy_portal.service, name="site")
    run = BackupRun.objects.filter(target=busy_portal, status=RunStatus.SUCCEEDED).first()
    assert busy_buttons(parse(admin.get(probe.get_absolute_url()))) == ["Running…"]
    assert busy_buttons(parse(admin.get(reverse("backups:targets")))) == ["Running…"]
    assert "Running…" in busy_buttons(parse(admin.get(busy_portal.get_absolute_url())))
    assert busy_buttons(parse(admin.get(reverse("backups:restore", args=[run.pk])))) == [
        "Restoring…"
    ]
    assert busy_buttons(parse(admin.get(reverse("checklists:import")))) == ["Reading the runbook…"]


def test_a_pending_backup_page_shows_that_it_runs_and_refreshes_itself(admin, busy_portal):
    queued = BackupRun.objects.get(target=busy_portal, status=RunStatus.QUEUED)
    tree = parse(admin.get(queued.get_absolute_url()))
    head = tree.find_all(lambda n: n.tag == "head")[0]
    refresh = [n for n in head.walk() if n.tag == "meta" and n.attrs.get("http-equiv") == "refresh"]
    assert refresh and int(refresh[0].attrs["content"]) <= 5
    assert tree.find_all(
        lambda n: n.attrs.get("role") == "status" and "refreshes itself" in n.all_text()
    )


def test_a_finished_backup_page_does_not_refresh(admin, busy_portal):
    done = BackupRun.objects.get(target=busy_portal, status=RunStatus.SUCCEEDED)
    tree = parse(admin.get(done.get_absolute_url()))
    assert not tree.find_all(lambda n: n.tag == "meta" and n.attrs.get("http-equiv") == "refresh")
