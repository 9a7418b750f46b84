"""Intervals read as people say them and thresholds carry their unit (issue 23): "1 d", not
"86400 s"; "warning 70 %, critical 85 %", not two bare numbers."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from probes.models import Host
from tests.checklists.factories import make_template
from tests.incidents.factories import make_service
from tests.probes.factories import make_probe

pytestmark = pytest.mark.django_db


def fact(html: str, term: str) -> str:
    found = re.search(rf"<dt>{re.escape(term)}</dt><dd[^>]*>(.*?)</dd>", html, re.S)
    assert found, term
    return re.sub(r"\s+", " ", found.group(1)).strip()


def test_a_probe_shows_its_kinds_thresholds_with_their_unit_and_its_interval_in_days(client_as):
    probe = make_probe(kind="cpu", config={}, interval=86400)
    html = client_as("viewer").get(reverse("probes:detail", args=[probe.pk])).content.decode()
    assert fact(html, "Thresholds") == "warning 70 %, critical 85 %"
    assert fact(html, "Interval") == "1 d"


def test_a_probe_shows_its_own_thresholds(client_as):
    probe = make_probe(
        kind="http", config={"url": "http://127.0.0.1:9/"}, warning=250, critical=1500.25
    )
    html = client_as("viewer").get(reverse("probes:detail", args=[probe.pk])).content.decode()
    assert fact(html, "Thresholds") == "warning 250 ms, critical 1500.25 ms"


def test_a_probe_without_thresholds_shows_none(client_as):
    probe = make_probe(
        kind="prometheus", config={"url": "http://127.0.0.1:9/metrics", "metric": "up"}
    )
    html = client_as("viewer").get(reverse("probes:detail", args=[probe.pk])).content.decode()
    assert "<dt>Thresholds</dt>" not in html


def test_a_host_reports_its_interval_and_grace_in_human_units(client_as):
    host = Host.objects.create(name="db-1", service=make_service(), interval=86400, grace=90)
    html = client_as("manager").get(reverse("probes:host", args=[host.pk])).content.decode()
    assert fact(html, "Reports every") == "1 d; silent after 1 min 30 s more"


def test_a_checklist_template_shows_its_due_window_in_human_units(client_as):
    template = make_template(due_window=timedelta(days=1, hours=2))
    html = (
        client_as("viewer").get(reverse("checklists:template", args=[template.pk])).content.decode()
    )
    assert fact(html, "Due within") == "1 d 2 h"
