"""The demo's shift after first start (issue 23): the admin sees Tier 1's daily check on My shift,
due at the check's own time (11:00, two hours after 09:00) and not at first start plus two hours,
and the demo's commands name the portal's own address."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from checklists import demo as checklists_demo
from checklists import services
from checklists.models import Playbook, Run, RunStatus
from incidents import demo as incidents_demo
from incidents.models import Contact

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture(autouse=True)
def _seoul(settings):
    settings.TIME_ZONE = "Asia/Seoul"


def seed_at(moment: datetime) -> Run:
    with time_machine.travel(moment, tick=False):
        incidents_demo.seed()
        checklists_demo.seed()
    return Run.objects.get(template__source_key="demo:daily-0900")


@pytest.mark.parametrize(
    ("started", "occurrence"),
    [
        # during the check
        (
            datetime(2026, 3, 3, 10, 17, tzinfo=SEOUL),
            datetime(2026, 3, 3, 9, 0, tzinfo=SEOUL),
        ),
        # before it
        (
            datetime(2026, 3, 3, 7, 40, tzinfo=SEOUL),
            datetime(2026, 3, 3, 9, 0, tzinfo=SEOUL),
        ),
        # after it: tomorrow's
        (
            datetime(2026, 3, 3, 15, 42, tzinfo=SEOUL),
            datetime(2026, 3, 4, 9, 0, tzinfo=SEOUL),
        ),
    ],
)
def test_the_demo_run_is_the_daily_checks_own_occurrence_due_at_11(roles, started, occurrence):
    run = seed_at(started)
    assert run.occurrence == occurrence
    assert run.due_at == occurrence.replace(hour=11)
    assert run.name == f"Daily 09:00 check — {occurrence:%Y-%m-%d}"
    assert run.status == RunStatus.IN_PROGRESS  # one item ticked, not overdue


def test_the_scheduler_makes_no_second_run_of_the_demo_occurrence(roles):
    run = seed_at(datetime(2026, 3, 3, 15, 42, tzinfo=SEOUL))
    with time_machine.travel(datetime(2026, 3, 4, 9, 0, 30, tzinfo=SEOUL), tick=False):
        services.materialize_runs()
    assert list(Run.objects.filter(template=run.template)) == [run]
    run.refresh_from_db()
    assert run.status == RunStatus.IN_PROGRESS


def test_the_first_start_admin_is_tier_1_and_sees_the_daily_check_on_my_shift(client, roles):
    admin = get_user_model().objects.create_superuser("admin", password="pw-123456!")
    seed_at(datetime(2026, 3, 3, 10, 17, tzinfo=SEOUL))
    contact = Contact.objects.get(user=admin)
    assert contact.tier.level == 1
    client.force_login(admin)
    with time_machine.travel(datetime(2026, 3, 3, 10, 20, tzinfo=SEOUL), tick=False):
        page = client.get(reverse("checklists:my-shift")).content.decode()
    assert "Daily 09:00 check — 2026-03-03" in page


def test_seeding_again_keeps_the_admins_contact(roles):
    admin = get_user_model().objects.create_superuser("admin", password="pw-123456!")
    seed_at(datetime(2026, 3, 3, 10, 17, tzinfo=SEOUL))
    incidents_demo.seed()
    assert Contact.objects.filter(user=admin).count() == 1


def test_the_playbook_names_the_portals_own_address(roles, settings):
    settings.BASE_URL = "http://127.0.0.1:8123"  # PORTAL_PORT=8123 make run
    seed_at(datetime(2026, 3, 3, 10, 17, tzinfo=SEOUL))
    body = Playbook.objects.get(source_key="demo:api-down").body
    assert "curl -fsS http://127.0.0.1:8123/api/health" in body and ":8000" not in body
