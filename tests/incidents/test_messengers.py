"""JANDI, Dooray! and KakaoWork channels (issue 15), against a local server that checks each
service's documented payload; every webhook kind's failures end in a recorded retry, then
failure."""

import copy
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from incidents import notify
from incidents.models import (
    EventKind,
    Notification,
    NotificationChannel,
    NotificationStatus,
    TimelineEvent,
)
from tests.incidents.factories import make_channel, make_contact
from tests.incidents.messengers import SAMPLES, dooray_shape, jandi_shape, kakaowork_shape
from tests.incidents.paging import T0, open_and_sweep, retry

MIN = timedelta(minutes=1)
MESSENGERS = ("jandi", "dooray", "kakaowork")
WEBHOOK_KINDS = ("slack", "teams", "webhook", *MESSENGERS)


def page(incident, at=T0 + 65 * MIN):
    return notify.build_message(notify.gather_facts(incident, at))


def test_the_shape_checks_take_the_documented_samples_and_refuse_other_shapes():
    jandi_shape(
        SAMPLES["jandi"],
        {"Accept": "application/vnd.tosslab.jandi-v2+json", "Content-Type": "application/json"},
    )
    dooray_shape(SAMPLES["dooray"])
    kakaowork_shape(SAMPLES["kakaowork"])
    wrong = [
        (jandi_shape, {"text": "Slack's shape"}, None),
        (
            jandi_shape,
            SAMPLES["jandi"],
            {"Accept": "application/json", "Content-Type": "application/json"},
        ),
        (jandi_shape, {**SAMPLES["jandi"], "connectColor": "red"}, None),
        (dooray_shape, {"text": "no bot name"}, None),
        (dooray_shape, {**SAMPLES["dooray"], "attachments": [{"title": "x", "fields": []}]}, None),
        (kakaowork_shape, {"blocks": SAMPLES["kakaowork"]["blocks"]}, None),
        (
            kakaowork_shape,
            {"text": "x", "blocks": [{"type": "section", "text": "Slack's block"}]},
            None,
        ),
    ]
    for check, payload, headers in wrong:
        with pytest.raises(AssertionError):
            check(copy.deepcopy(payload), headers)


def test_jandi_dooray_and_kakaowork_get_their_documented_json_with_the_page(
    paging, messengers, settings
):
    for kind in MESSENGERS:
        make_channel(paging, kind=kind, target=f"{messengers.url}/{kind}/ok/T0K3N")
    incident = open_and_sweep()
    assert {n.kind: n.status for n in Notification.objects.all()} == {
        "email": "sent",
        "jandi": "sent",
        "dooray": "sent",
        "kakaowork": "sent",
    }
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTIFICATION_SENT).count()
        == 4
    )
    posts = {post.kind: post for post in messengers.posts}
    incident_url = f"{settings.BASE_URL}/incidents/{incident.pk}/"
    ack = f"{settings.BASE_URL}/incidents/ack/"

    jandi = posts["jandi"].body
    assert posts["jandi"].headers["Accept"] == "application/vnd.tosslab.jandi-v2+json"
    assert jandi["body"].startswith("[SEV1] api: API down\n")
    assert (
        f"[Open incident]({incident_url})" in jandi["body"]
        and f"[Acknowledge]({ack}" in jandi["body"]
    )
    assert jandi["connectColor"] == "#D32F2F"
    facts = [
        ("Severity", "SEV1 · critical"),
        ("Service", "api"),
        ("Status", "triggered"),
        ("Open for", "0 s"),
        ("Step", "1 of 1 · Tier 1: Operations"),
        ("Also paged", "nobody else yet"),
    ]
    assert [(i["title"], i["description"]) for i in jandi["connectInfo"]] == facts

    dooray = posts["dooray"].body
    assert dooray["botName"] == "Ops portal" and dooray["text"] == "[SEV1] api: API down"
    first, acknowledge = dooray["attachments"]
    assert first["titleLink"] == incident_url and first["color"] == "red"
    assert first["text"] == "\n".join(f"{name}: {value}" for name, value in facts)
    assert acknowledge["title"] == "Acknowledge" and acknowledge["titleLink"].startswith(ack)

    kakao = posts["kakaowork"].body
    assert kakao["text"] == "[SEV1] api: API down"
    terms = {b["term"]: b["content"]["text"] for b in kakao["blocks"] if b["type"] == "description"}
    assert terms == dict(facts)
    buttons = [(b["text"], b["action"]["value"]) for b in kakao["blocks"] if b["type"] == "button"]
    assert buttons[0] == ("Open incident", incident_url)
    assert buttons[1][0] == "Acknowledge" and buttons[1][1].startswith(ack)


def test_the_messengers_speak_korean_to_a_korean_reader(paging, messengers):
    incident = open_and_sweep()
    with translation.override("ko"):
        for kind in MESSENGERS:
            notify.SENDERS[kind](f"{messengers.url}/{kind}/ok", page(incident))
    posts = {post.kind: post.body for post in messengers.posts}
    facts = [
        ("심각도", "SEV1 · 치명적"),
        ("서비스", "api"),
        ("상태", "발생"),
        ("경과 시간", "1시간 5분"),
    ]
    assert [(i["title"], i["description"]) for i in posts["jandi"]["connectInfo"]] == facts
    assert "[장애 열기](" in posts["jandi"]["body"] and "[확인](" in posts["jandi"]["body"]
    assert posts["dooray"]["attachments"][0]["text"] == "\n".join(
        f"{name}: {value}" for name, value in facts
    )
    assert posts["dooray"]["attachments"][1]["title"] == "확인"
    kakao = posts["kakaowork"]["blocks"]
    assert [(b["term"], b["content"]["text"]) for b in kakao if b["type"] == "description"] == facts
    assert [b["text"] for b in kakao if b["type"] == "button"] == ["장애 열기", "확인"]


def test_a_title_written_as_a_markdown_link_shows_as_typed(paging, messengers):
    incident = open_and_sweep()
    incident.title = "[click](https://evil.example.com)"
    for kind in ("jandi", "dooray"):
        notify.SENDERS[kind](f"{messengers.url}/{kind}/ok", page(incident))
    jandi, dooray = (post.body for post in messengers.posts)
    assert "](https://evil" not in jandi["body"] and "](https://evil" not in dooray["text"]
    assert "click" in jandi["body"] and "evil.example.com" in dooray["attachments"][0]["title"]


def test_a_status_page_notice_reaches_the_messengers_as_its_text_and_link(messengers):
    notice = notify.Message(
        subject="Maintenance tonight",
        text="The API is down 02:00–03:00.",
        url="https://status.example.com/",
        acknowledge_url="https://status.example.com/",
        severity="",
        fields={"notice": "status:1"},
    )
    for kind in MESSENGERS:
        notify.SENDERS[kind](f"{messengers.url}/{kind}/ok", notice)
    assert {post.kind: post.mode for post in messengers.posts} == dict.fromkeys(MESSENGERS, "ok")
    jandi, dooray, kakao = (post.body for post in messengers.posts)
    assert jandi["body"] == (
        "Maintenance tonight\nThe API is down 02:00–03:00.\n"
        "[Open status page](https://status.example.com/)"
    )
    assert dooray["attachments"] == [
        {
            "title": "Maintenance tonight",
            "titleLink": "https://status.example.com/",
            "text": "The API is down 02:00–03:00.",
            "color": "green",
        }
    ]
    assert kakao["blocks"][-1]["action"]["value"] == "https://status.example.com/"


FAILURES = {"fail": "HTTP 500: boom", "hang": "Timeout", "reset": "ConnectionError"}


@pytest.mark.parametrize("mode", FAILURES)
@pytest.mark.parametrize("kind", WEBHOOK_KINDS)
def test_a_failing_channel_is_retried_then_failed_while_the_others_are_sent_once(
    paging, messengers, mailoutbox, kind, mode
):
    other = "jandi" if kind != "jandi" else "dooray"
    make_channel(paging, kind=kind, target=f"{messengers.url}/{kind}/{mode}/T0K3N")
    make_channel(paging, kind=other, target=f"{messengers.url}/{other}/ok/T0K3N")
    incident = open_and_sweep()
    sent = {n.kind: n for n in Notification.objects.filter(incident=incident)}
    failing = sent[kind]
    assert (failing.status, failing.attempts, failing.next_attempt_at) == ("pending", 1, T0 + MIN)
    assert FAILURES[mode] in failing.last_error
    assert "T0K3N" not in failing.last_error
    assert sent[other].status == sent["email"].status == NotificationStatus.SENT

    # A timed-out request may have been processed by the receiver: it is tried once more, never
    # again.
    attempts = 2 if mode == "hang" else 4
    for at in (T0 + MIN, T0 + 3 * MIN, T0 + 7 * MIN)[: attempts - 1]:
        assert retry(at) == 1
    failing.refresh_from_db()
    assert (failing.status, failing.attempts, failing.next_attempt_at) == ("failed", attempts, None)
    [failed] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.NOTIFICATION_FAILED)
    assert failed.data["notification"] == failing.pk and f"after {attempts} attempts" in failed.text
    assert retry(T0 + 60 * MIN) == 0
    assert [post.mode for post in messengers.posts if post.kind == kind] == [mode] * attempts
    assert [post.mode for post in messengers.posts if post.kind == other] == ["ok"]
    assert len(mailoutbox) == 1


def test_a_refused_connection_is_recorded_without_the_hooks_path(paging, messengers):
    # urllib3 names the path alone ("Max retries exceeded with url: /…/T0K3N"), not the whole URL.
    make_channel(paging, kind="dooray", target="http://127.0.0.1:9/services/1/2/T0K3N")
    incident = open_and_sweep()
    dooray = Notification.objects.get(incident=incident, kind="dooray")
    assert "ConnectionError" in dooray.last_error and "T0K3N" not in dooray.last_error
    assert "url: /•••" in dooray.last_error


VALID = {
    "jandi": ["https://wh.jandi.com/connect-api/webhook/11320800/a3c8e9f0b1d2c3e4f5a6b7c8d9e0f1a2"],
    "dooray": [
        "https://hook.dooray.com/services/3204376758577275363/3514081992077299709/HOTTporbR6CBAVodltB-Dw",
        "https://hook.gov-dooray.com/services/2901831766878928764/3446065439331131231/bT-w4J4mQ1mDCZTT1pxthQ",
    ],
    "kakaowork": ["https://kakaowork.com/bots/hook/4a5be71f2c424dfa8a6926ddfbd75ebe"],
}
INVALID = {
    "jandi": [
        "https://hooks.slack.com/services/T0/B0/x",
        "http://wh.jandi.com/connect-api/webhook/1/abc",
        "https://wh.jandi.com.evil.example/connect-api/webhook/1/abc",
        "https://wh.jandi.com/",
    ],
    "dooray": [
        "https://hook.dooray.com/",
        "https://hook.dooray.com.evil.example/services/1/2/t",
        "https://kakaowork.com/bots/hook/abc",
    ],
    "kakaowork": [
        "https://kakaowork.com/",
        "https://api.kakaowork.com/v1/messages.send",
        "https://wh.jandi.com/connect-api/webhook/1/abc",
    ],
}
LOOPBACK = ["http://127.0.0.1:8099/relay", "https://localhost/hook", "http://[::1]:8080/x"]


@pytest.mark.parametrize("kind", MESSENGERS)
def test_the_api_takes_the_services_own_hook_url_or_a_loopback_relay_and_refuses_others(
    api_as, kind
):
    api = api_as("manager")
    contact = make_contact("ops", channel=False)
    url = reverse("notificationchannel-list")
    for target in VALID[kind] + LOOPBACK:
        response = api.post(
            url, {"contact": contact.pk, "kind": kind, "target": target}, format="json"
        )
        assert response.status_code == 201, (target, response.json())
    for target in INVALID[kind]:
        response = api.post(
            url, {"contact": contact.pk, "kind": kind, "target": target}, format="json"
        )
        assert response.status_code == 400, target
        assert response.json()["code"] == "url" and response.json()["target"], target
    assert NotificationChannel.objects.filter(kind=kind).count() == len(VALID[kind] + LOOPBACK)


@pytest.mark.parametrize("kind", MESSENGERS)
def test_the_admin_form_refuses_another_services_url_too(db, kind):
    contact = make_contact("ops", channel=False)
    NotificationChannel(contact=contact, kind=kind, target=VALID[kind][0]).full_clean()
    with pytest.raises(ValidationError) as refused:
        NotificationChannel(contact=contact, kind=kind, target=INVALID[kind][0]).full_clean()
    assert "target" in refused.value.message_dict


@pytest.mark.parametrize("kind", MESSENGERS)
def test_a_messenger_hook_is_shown_without_its_token(api_as, kind):
    channel = make_channel(make_contact("ops", channel=False), kind=kind, target=VALID[kind][0])
    body = api_as("viewer").get(reverse("notificationchannel-detail", args=[channel.pk])).json()
    host = VALID[kind][0].split("/")[2]
    assert body["target"] == f"https://{host}/•••"
