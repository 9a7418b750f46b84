"""Times are entered on a 24-hour clock whatever the browser's locale (issue 23): a date picker
and an "HH:MM" field instead of a datetime-local input (12-hour with AM/PM in an English
browser)."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from incidents.forms import DateTimeLocalInput, PostmortemForm
from incidents.models import Incident
from tests.incidents.factories import make_service

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture(autouse=True)
def _seoul(settings):
    settings.TIME_ZONE = "Asia/Seoul"


def declare(client, **times):
    form = {
        "service": make_service().pk,
        "title": "Checkout fails",
        "severity": "sev2",
        "scope": "partial",
        "category": "",
        "description": "",
        **times,
    }
    return client.post(reverse("incidents:declare"), form)


def test_the_declare_form_has_a_date_picker_and_a_24_hour_time_field(client_as):
    html = client_as("operator").get(reverse("incidents:declare")).content.decode()
    assert 'type="datetime-local"' not in html
    assert re.search(r'<input type="date" name="impact_started_at_0"', html)
    time = re.search(r'<input type="text" name="impact_started_at_1"[^>]*>', html).group(0)
    assert 'pattern="([01][0-9]|2[0-3]):[0-5][0-9]"' in time and 'placeholder="HH:MM"' in time
    assert '<label for="id_impact_started_at_0"' in html


def test_a_date_and_a_24_hour_time_are_read_in_the_portals_time_zone(client_as):
    response = declare(
        client_as("operator"), impact_started_at_0="2026-03-08", impact_started_at_1="21:05"
    )
    assert response.status_code == 302
    assert Incident.objects.get().impact_started_at == datetime(2026, 3, 8, 21, 5, tzinfo=SEOUL)


@pytest.mark.parametrize("time", ["9:05 PM", "25:00", "21:5x"])
def test_a_time_not_on_the_24_hour_clock_is_a_field_error(client_as, time):
    response = declare(
        client_as("operator"), impact_started_at_0="2026-03-08", impact_started_at_1=time
    )
    assert response.status_code == 400
    assert "impact_started_at" in response.context["form"].errors
    assert not Incident.objects.exists()


def test_a_stored_time_is_shown_on_the_24_hour_clock_in_local_time():
    widget = DateTimeLocalInput()
    html = widget.render("occurred_at", datetime(2026, 3, 8, 12, 5, tzinfo=ZoneInfo("UTC")))
    assert 'value="2026-03-08"' in html and 'value="21:05"' in html  # 12:05 UTC is 21:05 in Seoul


def test_a_single_iso_value_is_still_read():
    widget = PostmortemForm.Meta.widgets["occurred_at"]
    assert widget.value_from_datadict({"occurred_at": "2026-03-08T10:00"}, {}, "occurred_at") == (
        "2026-03-08T10:00"
    )
