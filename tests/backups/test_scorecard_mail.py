"""The monthly recoverability scorecard e-mail to managers, through the one outbox (issue 19)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django_q.models import Schedule

from backups import tasks
from backups.models import BackupTarget
from incidents.models import Notification, Purpose
from portal.models import UserPreference
from portal.schedules import ensure_schedules
from tests.incidents.factories import make_service

pytestmark = pytest.mark.django_db

MONTH_START = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def target(roots):
    service = make_service("payments", rpo=timedelta(hours=1))
    return BackupTarget.objects.create(
        name="db",
        service=service,
        kind="sqlite",
        source=str(roots / "db"),
        destination=str(roots / "b"),
    )


def test_each_manager_with_an_address_gets_the_scorecard_once_a_month_in_their_language(
    target, make_user
):
    english = make_user("manager", email="lead@example.com")
    korean = make_user("manager", email="timjang@example.com")
    UserPreference.objects.create(user=korean, language="ko")
    make_user("manager", email="")  # no address
    make_user("operator", email="op@example.com")  # not a manager
    with time_machine.travel(MONTH_START, tick=False):
        assert tasks.mail_scorecard() == 2
        assert tasks.mail_scorecard() == 0  # a second run (or cluster) the same month
    rows = Notification.objects.filter(purpose=Purpose.REPORT).order_by("recipient")
    assert [(row.recipient, row.notice, row.status) for row in rows] == [
        (f"user:{english.pk}", "scorecard:2026-04", "sent"),
        (f"user:{korean.pk}", "scorecard:2026-04", "sent"),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == ["lead@example.com", "timjang@example.com"]
    by_address = {m.to[0]: m for m in mail.outbox}
    assert (
        by_address["lead@example.com"].subject
        == "Recoverability scorecard 2026-04: 1 red, 0 amber, 0 green"
    )
    assert "payments: red" in by_address["lead@example.com"].body
    assert "db has no verified backup." in by_address["lead@example.com"].body
    assert by_address["timjang@example.com"].subject.startswith(
        "복구 가능성 스코어카드 2026-04: 위험 1"
    )
    with time_machine.travel(MONTH_START + timedelta(days=31), tick=False):
        assert tasks.mail_scorecard() == 2  # May's
    assert len(mail.outbox) == 4


def test_the_scorecard_mail_is_scheduled_monthly_once():
    ensure_schedules()
    ensure_schedules()
    (schedule,) = Schedule.objects.filter(name="backups.mail_scorecard")
    assert schedule.func == "backups.tasks.mail_scorecard" and schedule.schedule_type == "C"
    assert schedule.cron.split()[2:] == ["2", "*", "*"]
