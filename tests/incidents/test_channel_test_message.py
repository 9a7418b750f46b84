"""A manager sends a test message to a channel (issue 15): the API action and the admin action go
through the channel's own sender and show what came of it, the address masked."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from portal.models import UserPreference
from tests.incidents.factories import make_channel, make_contact

SECRET = "T0K3Nsecret9Q"


def action_url(channel):
    return reverse("notificationchannel-test", args=[channel.pk])


@pytest.mark.parametrize("kind", ["jandi", "dooray", "kakaowork", "teams", "slack", "webhook"])
def test_a_manager_sends_a_test_message_through_the_channels_own_sender(api_as, messengers, kind):
    channel = make_channel(
        make_contact("Ana", channel=False), kind=kind, target=f"{messengers.url}/{kind}/ok/{SECRET}"
    )
    response = api_as("manager").post(action_url(channel))
    assert response.status_code == 200
    assert response.json() == {"sent": True, "error": ""}
    [post] = messengers.posts
    assert (post.kind, post.mode) == (kind, "ok")  # the service's shape check passed
    # The generic webhook's JSON carries a notice's text (its subject is the other kinds' title).
    assert kind == "webhook" or "Test message from the ops portal" in str(post.body)
    assert "Pages for Ana reach this channel" in str(post.body)


def test_an_email_channel_gets_the_test_message_as_mail(api_as, mailoutbox):
    channel = make_channel(
        make_contact("Ana", email="ana@example.com", channel=False), kind="email"
    )
    assert api_as("admin").post(action_url(channel)).json() == {"sent": True, "error": ""}
    [mail] = mailoutbox
    assert mail.to == ["ana@example.com"] and mail.subject == "Test message from the ops portal"


def test_a_failed_test_message_answers_why_with_the_address_masked(api_as, messengers):
    channel = make_channel(
        make_contact("Ana", channel=False),
        kind="jandi",
        target=f"{messengers.url}/jandi/fail/{SECRET}",
    )
    body = api_as("manager").post(action_url(channel)).json()
    assert body["sent"] is False and "HTTP 500: boom" in body["error"]
    channel.target = (
        f"http://127.0.0.1:9/{SECRET}"  # nothing listens: requests names the URL in its error
    )
    channel.save()
    body = api_as("manager").post(action_url(channel)).json()
    assert body["sent"] is False and "ConnectionError" in body["error"]
    assert SECRET not in body["error"] and "url: /•••" in body["error"]


def test_the_test_message_speaks_the_contacts_language(api_as, messengers, make_user):
    user = make_user("viewer")
    UserPreference.objects.create(user=user, language="ko")
    channel = make_channel(
        make_contact("Ana", user=user, channel=False),
        kind="kakaowork",
        target=f"{messengers.url}/kakaowork/ok",
    )
    assert api_as("manager").post(action_url(channel)).json()["sent"] is True
    [post] = messengers.posts
    assert post.body["text"] == "운영 포털 테스트 메시지"
    assert [b["text"] for b in post.body["blocks"] if b["type"] == "button"] == ["포털 열기"]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_may_not_send_a_test_message(api_as, messengers, role):
    channel = make_channel(
        make_contact("Ana", channel=False), kind="slack", target=f"{messengers.url}/slack/ok"
    )
    assert api_as(role).post(action_url(channel)).status_code == 403
    assert messengers.posts == []


def test_an_unknown_channel_is_a_404(api_as):
    assert (
        api_as("manager").post(reverse("notificationchannel-test", args=[999999])).status_code
        == 404
    )


@pytest.fixture
def staff(client, make_user):
    def login(role):
        client.force_login(make_user(role, is_staff=True))
        return client

    return login


def run_admin_action(client, channels):
    return client.post(
        reverse("admin:incidents_notificationchannel_changelist"),
        {"action": "send_test_message", "_selected_action": [c.pk for c in channels]},
        follow=True,
    )


def test_the_admin_action_sends_to_each_selected_channel_and_says_how_it_went(staff, messengers):
    contact = make_contact("Ana", channel=False)
    good = make_channel(contact, kind="dooray", target=f"{messengers.url}/dooray/ok/{SECRET}")
    bad = make_channel(contact, kind="jandi", target=f"{messengers.url}/jandi/fail/{SECRET}")
    response = run_admin_action(staff("manager"), [good, bad])
    shown = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert (
        "success",
        "Test message sent to Ana · Dooray! incoming hook (http://127.0.0.1:"
        f"{messengers.server_address[1]}/•••).",
    ) in shown
    [text] = [text for level, text in shown if level == "error"]
    assert "Ana · JANDI incoming webhook" in text and "HTTP 500: boom" in text
    assert SECRET not in response.content.decode()
    assert sorted((p.kind, p.mode) for p in messengers.posts) == [
        ("dooray", "ok"),
        ("jandi", "fail"),
    ]


def test_the_admin_action_is_not_offered_to_a_viewer(staff, messengers):
    channel = make_channel(
        make_contact("Ana", channel=False), kind="slack", target=f"{messengers.url}/slack/ok"
    )
    client = staff("viewer")
    page = client.get(reverse("admin:incidents_notificationchannel_changelist"))
    assert page.status_code == 200 and "send_test_message" not in page.content.decode()
    run_admin_action(client, [channel])
    assert messengers.posts == []
