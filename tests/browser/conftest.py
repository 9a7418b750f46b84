"""Browser flows against the portal served exactly as `make run` serves it.

One `manage.py serve` per language on a free port and a fresh data dir under
/tmp, stopped with SIGINT (Ctrl+C) at the end; Debian's Chromium driven by
Playwright, headless. Texts are looked up in the same catalog the server
uses, so an assertion reads the page as a Korean user sees it.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.text import capfirst
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
README_SHOTS = ROOT / "docs" / "screenshots"
LOCALES = {"en": "en-US", "ko": "ko-KR"}
PASSWORD = "browser-flows-pw-1"
# Roles are Django groups; the admin user is created by `serve` itself.
USERS = {"olivia": "operator", "max": "manager"}
TIMEOUT_MS = 30_000

expect.set_options(timeout=TIMEOUT_MS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Portal:
    """A running `manage.py serve` and what the flows need to know about it."""

    def __init__(self, locale: str):
        self.locale = locale
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"browser-{locale}-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PYTEST_XDIST"))
        }
        self.env.update(
            PORTAL_DATA_DIR=str(self.data_dir),
            PORTAL_PORT=str(self.port),
            PORTAL_ADMIN_PASSWORD=PASSWORD,
            PORTAL_DEMO_DATA="true",
            PYTHONUNBUFFERED="1",
        )
        self.log = self.data_dir / "serve.log"
        self.proc = None

    def start(self, timeout: float = 240):
        # The same command as `make run`; its output goes to a file that a failure shows.
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Ops Portal is running at" in self.log.read_text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise AssertionError(
            f"serve did not print its URL within {timeout:.0f} s:\n{self.log.read_text()[-4000:]}"
        )

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def add_users(self):
        code = (
            "from django.contrib.auth.models import Group, User\n"
            f"for name, role in {USERS!r}.items():\n"
            f"    user = User.objects.create_user(name, password={PASSWORD!r})\n"
            "    user.groups.add(Group.objects.get(name=role))\n"
        )
        self.manage("shell", "-c", code)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # as Ctrl+C in a terminal
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("serve did not stop within 30 s of Ctrl+C") from None


class Texts:
    """The portal's own catalog: `t("Acknowledge")` is what the page shows in this language."""

    def __init__(self, locale: str):
        self.locale = locale

    def __call__(self, msgid: str, **values) -> str:
        with translation.override(self.locale):
            text = translation.gettext(msgid)
        return text % values if values else text

    def plural(self, singular: str, plural: str, number: int, **values) -> str:
        with translation.override(self.locale):
            text = translation.ngettext(singular, plural, number)
        return text % {"counter": number, **values}

    def label(self, msgid: str) -> str:
        """A form label made from a model field's verbose name ("title" → "Title")."""
        return capfirst(self(msgid))


@pytest.fixture(scope="session", params=list(LOCALES))
def locale(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def portal(locale):
    portal = Portal(locale)
    try:
        portal.start()
        portal.add_users()
        yield portal
    finally:
        portal.stop()
        # a failed start shows its log in the error
        shutil.rmtree(portal.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test-browser` installs it (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def t(locale) -> Texts:
    return Texts(locale)


@pytest.fixture
def new_page(browser, portal, locale):
    """`new_page(viewport=...)`: a page in a fresh browser context speaking the run's language."""
    contexts = []

    def make(**options):
        context = browser.new_context(
            base_url=portal.url,
            locale=LOCALES[locale],
            accept_downloads=True,
            extra_http_headers={"Accept-Language": f"{LOCALES[locale]},{locale};q=0.9"},
            viewport=options.pop("viewport", {"width": 1280, "height": 900}),
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()


@pytest.fixture
def log_in(new_page, t):
    """A page logged in through the login form as `user` (admin, olivia the operator, max the
    manager)."""

    def log_in(user: str, **options):
        page = new_page(**options)
        page.goto("/")
        page.get_by_label(t("Username")).fill(user)
        page.get_by_label(t("Password")).fill(PASSWORD)
        page.get_by_role("button", name=t("Log in")).click()
        expect(page.get_by_role("heading", name=t("Dashboard"), level=1)).to_be_visible()
        return page

    return log_in


@pytest.fixture
def shot(locale):
    """`shot(page, "<flow>-<step>")` saves var/screenshots/<locale>/<flow>-<step>.png; `readme=NAME`
    also copies the English one to docs/screenshots/NAME.png for the README."""
    folder = SCREENSHOTS / locale
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, readme: str | None = None, full_page: bool = True) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if readme and locale == "en":
            README_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, README_SHOTS / f"{readme}.png")
        return path

    return take
