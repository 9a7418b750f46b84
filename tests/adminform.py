"""Post an admin change form the way a browser would: every field the page renders
(inline rows and their management forms included), with some values changed."""

from html.parser import HTMLParser

from django.contrib.messages import get_messages
from django.test import Client


class FormFields(HTMLParser):
    """The name → value pairs of the admin's change form (`<form id="<model>_form">`)."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self.in_form = False
        self.textarea: str | None = None
        self.select: str | None = None
        self.select_multiple = False
        self.options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.in_form = (attrs.get("id") or "").endswith("_form")
        if not self.in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name and "__prefix__" not in name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._add(name, attrs.get("value") or "on")
                return
            self._add(name, attrs.get("value") or "")
        elif tag == "textarea" and name and "__prefix__" not in name:
            self.textarea = name
            self.data.setdefault(name, [""])
        elif tag == "select" and name and "__prefix__" not in name:
            self.select, self.select_multiple, self.options = name, "multiple" in attrs, []
        elif tag == "option" and self.select:
            self.options.append((attrs.get("value") or "", "selected" in attrs))

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "textarea" and self.textarea:
            # A browser drops the one newline that follows <textarea>.
            self.data[self.textarea][-1] = self.data[self.textarea][-1].removeprefix("\n")
            self.textarea = None
        elif tag == "select" and self.select:
            chosen = [value for value, selected in self.options if selected]
            if not chosen and not self.select_multiple and self.options:
                chosen = [self.options[0][0]]
            for value in chosen:
                self._add(self.select, value)
            self.select = None

    def _add(self, name, value):
        self.data.setdefault(name, []).append(value)


def change_form_data(client, url: str, **changes) -> dict:
    """What the change page at `url` would send back, with `changes` applied."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    parser = FormFields()
    parser.feed(page.content.decode())
    assert parser.data, "no change form on the page"
    data = {name: values if len(values) > 1 else values[0] for name, values in parser.data.items()}
    data.update(changes)
    data.pop("csrfmiddlewaretoken", None)
    return {**data, "_save": "Save"}


def post_change_form(client, url: str, **changes):
    """Submit the change page at `url` with `changes`; returns the response (not followed)."""
    return client.post(url, change_form_data(client, url, **changes))


def error_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


def staff_client(make_user, role: str) -> Client:
    """A client logged in as a staff user of `role` (the `make_user` fixture makes the user)."""
    client = Client()
    client.user = make_user(role, is_staff=True)
    client.force_login(client.user)
    return client
