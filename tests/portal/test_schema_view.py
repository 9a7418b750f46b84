"""The schema view answers every caller when several ask at once (gunicorn's gthread workers)."""

import threading
import time

import pytest
from django.contrib.auth.models import Group, User
from drf_spectacular import plumbing
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework.test import APIRequestFactory, force_authenticate

from portal.api import SchemaView

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_first_generations_all_answer(monkeypatch):
    """drf-spectacular imports an extension's target class on first use and, when the import fails,
    sets it to None while another thread may still read it (AttributeError: a 500). The import is
    made slow here so that every thread is inside it at once, as on a worker's first schema
    requests."""
    missing = "rest_framework_recursive.fields.RecursiveField"  # an extension drf-spectacular ships
    # Those not loaded yet (a dotted path) or whose package is not installed (None, once tried).
    extensions = [
        e for e in OpenApiSerializerFieldExtension._registry if not isinstance(e.target_class, type)
    ]
    assert extensions, "drf-spectacular registers extensions for packages that are not installed"
    for extension in extensions:
        monkeypatch.setattr(extension, "target_class", missing)
    real_import = plumbing.import_string

    def slow_import(path):
        if path == missing:
            time.sleep(0.05)
        return real_import(path)

    monkeypatch.setattr(plumbing, "import_string", slow_import)
    monkeypatch.setattr(
        plumbing.apps,
        "app_configs",
        {**plumbing.apps.app_configs, "rest_framework_recursive": None},
    )
    user = User.objects.create_user("vera")
    user.groups.add(Group.objects.get(name="viewer"))
    view, factory = SchemaView.as_view(), APIRequestFactory()
    start, statuses = threading.Barrier(4), []

    def fetch():
        request = factory.get("/api/schema/", {"format": "json"})
        force_authenticate(request, user=user)
        start.wait()
        try:
            statuses.append(view(request).status_code)
        except Exception as error:  # the race raises inside the view
            statuses.append(repr(error))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
