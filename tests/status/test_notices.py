"""Notices: templates rendered from the incident in both languages, sent through the one outbox."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from core.errors import DomainError
from incidents import notify
from incidents import services as incidents_services
from incidents.models import EventKind, Notification, NotificationStatus, TimelineEvent
from status import services
from status.models import Notice, NoticeTemplate, Subscriber
from tests.incidents.cards import texts, workflows_card
from tests.incidents.factories import make_channel, make_contact, make_incident

T0 = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)  # 10:00 in Seoul


@pytest.fixture
def seoul(settings):
    settings.TIME_ZONE = "Asia/Seoul"
    settings.BASE_URL = "https://status.example.com"


@pytest.fixture
def outage(page, seoul):
    """A public SEV1 on the page's service: impact from 10:00, resolved at 11:25 (Seoul)."""
    service = page.components.get().service
    service.rpo = timedelta(minutes=15)
    service.save()
    incident = make_incident(
        service,
        severity="sev1",
        scope="partial",
        created_at=T0 + timedelta(minutes=4),
        impact_started_at=T0,
    )
    services.mark_public(
        incident=incident, by=None, title_en="Website unavailable", title_ko="웹사이트 접속 불가"
    )
    with time_machine.travel(T0 + timedelta(minutes=85), tick=False):
        incidents_services.resolve(incident=incident, by=None)
    incident.refresh_from_db()
    return incident


def confirmed(page, email, language="ko", **fields):
    return Subscriber.objects.create(
        page=page, email=email, language=language, confirmed_at=datetime.now(UTC), **fields
    )


def test_the_recovered_notice_renders_window_downtime_scope_and_data_loss_in_both_languages(
    page, outage
):
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        rendered = services.render_notice(page=page, incident=outage, kind="recovered")
    subject_en, text_en = rendered["en"]
    subject_ko, text_ko = rendered["ko"]
    assert subject_en == "[main status] Recovered: Website"
    assert "Outage window: 2026-05-04 10:00 Asia/Seoul – 2026-05-04 11:25 Asia/Seoul" in text_en
    assert "Downtime: 1 h 25 min" in text_en
    assert "Scope: partial" in text_en
    assert "Data loss: none (RPO within 15 min)" in text_en
    assert subject_ko == "[main 상태] 복구 완료: 웹사이트"
    assert "장애 시간: 2026-05-04 10:00 Asia/Seoul – 2026-05-04 11:25 Asia/Seoul" in text_ko
    assert "중단 시간: 1시간 25분" in text_ko
    assert "영향 범위: 부분" in text_ko
    assert "데이터 손실: 없음 (RPO 15분 이내)" in text_ko
    assert "Website unavailable" in text_en and "웹사이트 접속 불가" in text_ko
    assert "https://status.example.com/status/main/?lang=ko" in text_ko


def test_a_notice_template_with_a_syntax_error_is_refused_in_the_admin(db):
    from django.core.exceptions import ValidationError

    template = NoticeTemplate.objects.get(kind="recovered", language="en")
    template.body = "{% if %}"
    with pytest.raises(ValidationError) as error:
        template.full_clean()
    assert "body" in error.value.message_dict


def test_sending_creates_one_outbox_row_per_subscriber_and_channel_and_never_twice(
    page, outage, make_user
):
    confirmed(page, "a@example.com", "ko")
    confirmed(page, "b@example.com", "en")
    Subscriber.objects.create(page=page, email="unconfirmed@example.com")  # gets nothing
    confirmed(page, "", kind="webhook", url="http://127.0.0.1:9/machine")
    team = make_contact("team", channel=False)
    slack = make_channel(team, kind="slack", target="http://127.0.0.1:9/slack")
    page.channels.add(slack)
    user = make_user("operator")

    notice = services.send_notice(
        page=page, incident=outage, kind="recovered", by=user, channels=[slack], data_loss="none"
    )
    rows = Notification.objects.filter(notice=notice.outbox_key)
    assert rows.count() == 4
    assert sorted(rows.values_list("recipient", flat=True)) == sorted(
        [f"subscriber:{s.pk}" for s in Subscriber.objects.confirmed()] + [f"channel:{slack.pk}"]
    )
    by_target = {row.target: row for row in rows}
    english = by_target["b@example.com"]
    assert english.message["subject"].startswith("[main status] Recovered")
    assert "/unsubscribe/" in english.message["text"]
    assert by_target["a@example.com"].message["subject"].startswith("[main 상태]")
    # Queuing the same notice's rows again (a retried request, a second worker) adds nothing.
    Notification.objects.bulk_create(
        [services._row(notice, subscriber=s) for s in Subscriber.objects.confirmed()],
        ignore_conflicts=True,
    )
    assert Notification.objects.filter(notice=notice.outbox_key).count() == 4
    assert TimelineEvent.objects.filter(incident=outage, data__notice=notice.pk).count() == 1


def test_a_notice_is_sent_once_retried_on_failure_and_a_resolved_incident_does_not_cancel_it(
    page, outage, mailoutbox, hooks
):
    confirmed(page, "a@example.com", "en")
    machine = confirmed(page, "", kind="webhook", url=f"{hooks.url}/fail")
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        notice = services.send_notice(
            page=page, incident=outage, kind="recovered", by=None, data_loss="none"
        )
        assert notify.retry_notifications() == 2
    assert len(mailoutbox) == 1
    assert (
        mailoutbox[0].to == ["a@example.com"]
        and mailoutbox[0].subject == "[main status] Recovered: Website"
    )
    assert "Downtime: 1 h 25 min" in mailoutbox[0].body
    hook = Notification.objects.get(notice=notice.outbox_key, recipient=f"subscriber:{machine.pk}")
    assert (hook.status, hook.attempts) == (NotificationStatus.PENDING, 1)
    _path, payload = hooks.received[0]
    assert payload["notice"] == "recovered" and payload["page"] == "main"
    assert "incident" not in payload and "acknowledge_url" not in payload
    # The retries follow the escalation's backoff; the e-mail is never sent again.
    for minutes in (1, 3, 7):
        with time_machine.travel(T0 + timedelta(hours=2, minutes=minutes), tick=False):
            notify.retry_notifications()
    hook.refresh_from_db()
    assert (hook.status, hook.attempts) == (NotificationStatus.FAILED, 4)
    assert len(mailoutbox) == 1
    assert len(hooks.received) == 4
    assert not TimelineEvent.objects.filter(
        incident=outage, kind=EventKind.NOTIFICATION_SENT
    ).exists()
    assert (
        TimelineEvent.objects.filter(incident=outage, kind=EventKind.NOTIFICATION_FAILED).count()
        == 1
    )


def test_two_workers_never_send_a_notice_row_twice(page, outage, mailoutbox):
    confirmed(page, "a@example.com")
    services.send_notice(page=page, incident=outage, kind="recovered", by=None, data_loss="none")
    now = datetime.now(UTC)
    first = notify._claim(now, None, 10)
    second = notify._claim(now, None, 10)
    assert len(first) == 1 and second == []


def test_channels_not_on_the_page_are_refused(page, outage):
    other = make_channel(make_contact("x", channel=False), kind="email", target="x@example.com")
    with pytest.raises(DomainError):
        services.send_notice(
            page=page, incident=outage, kind="recovered", by=None, channels=[other]
        )
    assert not Notice.objects.exists()


def test_the_notice_page_previews_then_sends(client_as, page, outage):
    confirmed(page, "a@example.com")
    operator = client_as("operator")
    url = reverse("status:notice", args=[outage.pk])
    form = operator.get(url).content.decode()
    assert "none (RPO within 15 min)" in form
    body = {"page": page.pk, "kind": "recovered", "data_loss": "none", "update_text": ""}
    preview = operator.post(url, {**body, "preview": "1"})
    assert preview.status_code == 200
    assert "Downtime: 1 h 25 min" in preview.content.decode() and not Notice.objects.exists()
    sent = operator.post(url, {**body, "send": "1"})
    assert sent.status_code == 302
    assert Notification.objects.filter(notice__startswith="status:").count() == 1


def test_the_notice_page_answers_400_with_field_errors_and_403_to_a_viewer(client_as, page, outage):
    url = reverse("status:notice", args=[outage.pk])
    assert client_as("viewer").get(url).status_code == 403
    response = client_as("operator").post(
        url, {"page": "999", "kind": "nope", "data_loss": "x" * 301, "send": "1"}
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"page", "kind", "data_loss"} <= set(errors)
    assert not Notice.objects.exists()


def test_a_teams_channel_gets_the_notice_text_without_page_facts_or_an_acknowledge_button(
    page, outage, hooks
):
    team = make_contact("team", channel=False)
    teams = make_channel(team, kind="teams", target=f"{hooks.url}/ok")
    page.channels.add(teams)
    services.send_notice(
        page=page, incident=outage, kind="recovered", by=None, channels=[teams], data_loss="none"
    )
    assert notify.retry_notifications() == 1
    [(_path, payload)] = hooks.received
    card = workflows_card(payload)
    title, text = texts(card)
    # A channel without a person's language speaks the page's (Korean here).
    assert title == "[main 상태] 복구 완료: 웹사이트"
    assert "중단 시간: 1시간 25분" in text
    assert [action["url"] for action in card["actions"]] == [
        "https://status.example.com/status/main/"
    ]


@pytest.mark.django_db(transaction=True)
def test_the_default_templates_come_back_after_a_flush_and_edits_are_kept():
    # A data migration's rows are gone after a flush (and from a database made with --run-syncdb);
    # post_migrate makes the missing ones again and leaves a manager's edits alone.
    from django.core.management import call_command

    from status.defaults import TEMPLATES, ensure_notice_templates
    from status.models import NoticeTemplate

    NoticeTemplate.objects.filter(kind="recovered", language="en").update(
        subject="Edited by a manager"
    )
    NoticeTemplate.objects.filter(kind="started").delete()
    assert ensure_notice_templates() == 2
    assert (
        NoticeTemplate.objects.get(kind="recovered", language="en").subject == "Edited by a manager"
    )
    call_command("flush", interactive=False, verbosity=0)
    assert NoticeTemplate.objects.count() == len(TEMPLATES)
