import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Group
from django.utils import translation

from core.roles import ensure_roles
from tests import once


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_modify_db_settings,
    tmp_path_factory,
):
    """pytest-django's test database, migrated once a run (tests/once.py) instead of once a worker:
    each worker's own database (SQLite in memory, PostgreSQL test_…_gwN) is a copy of it. Nothing
    is serialized for `serialized_rollback` (no test uses it)."""
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    with django_db_blocker.unblock():
        if connection.vendor == "sqlite":
            _sqlite_test_database(connection, tmp_path_factory)
        else:
            _postgresql_test_database(connection, tmp_path_factory)
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            # With FORCE: a test's threads may have left connections open (pytest-django's own
            # teardown only warned when DROP DATABASE met them).
            test_name = connection.settings_dict["NAME"]
            _use(connection, old_name)
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{test_name}" WITH (FORCE)')
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def _migrated(connection, test_name: str) -> None:
    """Create and migrate `test_name` (what Django's test runner does), then leave the connection
    on the database it started on."""
    from django.conf import settings

    old_name, old_test_name = (
        connection.settings_dict["NAME"],
        connection.settings_dict["TEST"]["NAME"],
    )
    connection.settings_dict["TEST"]["NAME"] = test_name
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    finally:
        connection.close()
        connection.settings_dict["TEST"]["NAME"] = old_test_name
        settings.DATABASES[connection.alias]["NAME"] = connection.settings_dict["NAME"] = old_name


def _use(connection, test_name: str) -> None:
    from django.conf import settings

    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = connection.settings_dict["NAME"] = test_name


def _sqlite_test_database(connection, tmp_path_factory) -> None:
    import sqlite3

    template = once.sqlite_file(
        tmp_path_factory, "test-db", lambda path: _migrated(connection, str(path))
    )
    # In memory, as Django makes it ("file:memorydb_default?mode=memory&cache=shared").
    _use(connection, connection.creation._get_test_db_name())
    connection.ensure_connection()
    source = sqlite3.connect(template)
    try:
        source.backup(connection.connection)
    finally:
        source.close()


def _postgresql_test_database(connection, tmp_path_factory) -> None:
    test_name = connection.creation._get_test_db_name()  # test_portal_gwN
    lock = f"{test_name.removesuffix('_' + os.environ.get('PYTEST_XDIST_WORKER', ''))}_tpl"
    template = once.pg_template(tmp_path_factory, lock, lambda name: _migrated(connection, name))
    with once.run_lock(tmp_path_factory, lock), connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{test_name}"')
        cursor.execute(f'CREATE DATABASE "{test_name}" TEMPLATE "{template}"')
    _use(connection, test_name)


def pytest_sessionfinish(session):
    # The controller (or the one process of a run without workers), after every test: the
    # PostgreSQL templates of tests/once.py go.
    if hasattr(session.config, "workerinput"):
        return
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        once.drop_templates(session.config._tmp_path_factory.getbasetemp())


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The manifest storage needs `collectstatic`; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True, scope="session")
def _empty_cache():
    # The embedded default caches in files in the data dir: a previous run's throttle counts must
    # not carry over into this one.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _new_report_revision():
    # A test's changes are rolled back, never committed, so they never replace the reports'
    # revision (incidents.reportcache): each test starts from a revision of its own.
    from django.core.cache import cache

    from incidents import reportcache

    cache.delete_many([reportcache.REVISION, reportcache.USED])


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Django's default PBKDF2 costs ~0.3 s a password on this machine, and most tests make users.
    # Logins still check real hashes; only the work factor is not what production uses.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language():
    # A page request in Korean leaves Korean active in the thread (LocaleMiddleware activates per
    # request, nothing deactivates): without this, what a test renders depends on the test before
    # it.
    yield
    translation.deactivate()


@pytest.fixture
def roles(db):
    ensure_roles()
    return {g.name: g for g in Group.objects.all()}


@pytest.fixture
def make_user(db, roles, django_user_model):
    def make(role: str | None = "viewer", username: str | None = None, **extra):
        username = username or f"{role or 'nobody'}-{django_user_model.objects.count() + 1}"
        if role == "admin":
            return django_user_model.objects.create_superuser(
                username, password="pw-123456!", **extra
            )
        user = django_user_model.objects.create_user(username, password="pw-123456!", **extra)
        if role:
            user.groups.add(roles[role])
        return user

    return make


@pytest.fixture
def client_as(client, make_user):
    """A logged-in test client: `client_as("operator")`."""

    def login(role: str = "viewer"):
        user = make_user(role)
        client.force_login(user)
        client.user = user
        return client

    return login


@pytest.fixture
def api_as(make_user):
    """A DRF APIClient authenticated with a real token: `api_as("manager")`."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def login(role: str = "viewer"):
        user = make_user(role)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        api.user = user
        return api

    return login


class Hooks(BaseHTTPRequestHandler):
    """/ok answers 200, /fail 500, /hang never answers within the client's read timeout,
    /flaky 500 to its first request and 200 after."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append((self.path, json.loads(body or b"null")))
        self.server.keys.append(self.headers.get("Idempotency-Key"))
        if self.path == "/hang":
            self.server.release.wait(timeout=10)
            return
        ok = self.path == "/ok" or (
            self.path == "/flaky" and sum(p == "/flaky" for p, _ in self.server.received) > 1
        )
        self.send_response(200 if ok else 500)
        self.end_headers()
        self.wfile.write(b"ok" if ok else b"boom")

    def log_message(self, *args):
        pass


class LocalHTTPServer(ThreadingHTTPServer):
    """A test's own HTTP receiver on 127.0.0.1."""

    daemon_threads = True
    # socketserver's listen backlog of 5 overflows when eight send threads connect at once on a
    # loaded machine: the portal then sees connection resets.
    request_queue_size = 128


@pytest.fixture
def hooks(monkeypatch):
    """A local webhook receiver (the notification tests' and the status notices')."""
    from incidents import notify

    # A read timeout short enough for the hang tests, long enough that a loaded machine's 500
    # is not read as a timeout (which is tried only once more).
    monkeypatch.setattr(notify, "WEBHOOK_TIMEOUT", (1, 1.0))
    server = LocalHTTPServer(("127.0.0.1", 0), Hooks)
    server.received, server.keys, server.release = [], [], threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def messengers(monkeypatch):
    """A local stand-in for the chat services that checks each one's documented payload
    (tests/incidents/messengers.py: /<kind>/ok, /fail, /hang, /reset)."""
    from incidents import notify
    from tests.incidents import messengers as service

    monkeypatch.setattr(notify, "WEBHOOK_TIMEOUT", (1, 1.0))
    server = service.start()
    yield server
    service.stop(server)
