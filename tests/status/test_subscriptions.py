"""Subscriptions: double opt-in, one-click unsubscribe, no address enumeration, throttled form."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from status import services, tasks
from status.models import Subscriber
from status.views import SUBSCRIBE_LIMIT, SUBSCRIBE_WINDOW

T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def subscribe(client, page, django_capture_on_commit_callbacks, monkeypatch):
    """Post the public form; the confirmation task runs right after the commit, as a worker
    would."""
    sent_to = []
    monkeypatch.setattr(
        services,
        "_enqueue_confirmation",
        lambda pk: sent_to.append(pk) or tasks.send_confirmation(pk),
    )

    def post(email, language="en", address="198.51.100.7"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("status:subscribe", args=[page.slug]),
                {"email": email, "language": language},
                REMOTE_ADDR=address,
            )

    post.sent_to = sent_to
    return post


def link_in(mail, name):
    return next(
        line.split(": ", 1)[1] for line in mail.body.splitlines() if f"/{name}/" in line
    ).replace("http://testserver", "")


def test_double_opt_in_sends_nothing_until_the_link_is_opened(
    subscribe, client, page, mailoutbox, settings
):
    settings.BASE_URL = "http://testserver"
    response = subscribe("Person@Example.com")
    assert response.status_code == 200
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "person@example.com" and subscriber.confirmed_at is None
    assert not Subscriber.objects.confirmed().exists()
    [mail] = mailoutbox
    assert mail.to == ["person@example.com"] and "Confirm your subscription" in mail.subject
    confirm = link_in(mail, "confirm")
    assert client.get(confirm).status_code == 200
    assert Subscriber.objects.confirmed().count() == 1


def test_the_confirmation_mail_speaks_the_chosen_language(subscribe, page, mailoutbox):
    subscribe("kim@example.com", language="ko")
    assert "구독을 확인해 주세요" in mailoutbox[0].subject


def test_an_expired_or_unknown_confirmation_link_confirms_nothing(
    subscribe, client, page, mailoutbox, settings
):
    settings.BASE_URL = "http://testserver"
    with time_machine.travel(T0, tick=False):
        subscribe("late@example.com")
    confirm = link_in(mailoutbox[0], "confirm")
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        assert client.get(confirm).status_code == 404
    assert client.get(reverse("status:confirm", args=[page.slug, "x" * 43])).status_code == 404
    assert not Subscriber.objects.confirmed().exists()


def test_the_unsubscribe_link_works_once(subscribe, client, page, mailoutbox, settings):
    settings.BASE_URL = "http://testserver"
    subscribe("once@example.com")
    client.get(link_in(mailoutbox[0], "confirm"))
    subscriber = Subscriber.objects.get()
    url = reverse("status:unsubscribe", args=[page.slug, subscriber.token])
    assert url in services.unsubscribe_url(subscriber)
    # GET only asks (a mail scanner opening links unsubscribes nobody).
    assert client.get(url).status_code == 200 and Subscriber.objects.exists()
    assert client.post(url).status_code == 200
    assert not Subscriber.objects.exists()
    assert client.post(url).status_code == 404


def test_one_click_unsubscribe_needs_no_csrf_token(page, db):
    from django.test import Client

    subscriber = Subscriber.objects.create(page=page, email="x@example.com", confirmed_at=T0)
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        reverse("status:unsubscribe", args=[page.slug, subscriber.token]),
        {"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 200 and not Subscriber.objects.exists()


def test_a_bad_address_is_a_form_error(subscribe, mailoutbox):
    response = subscribe("not-an-address")
    assert response.status_code == 400
    assert "email" in response.context["form"].errors
    assert not Subscriber.objects.exists() and not mailoutbox


def test_the_answer_never_tells_whether_an_address_is_known(subscribe, page, mailoutbox):
    first = subscribe("known@example.com", address="198.51.100.1").content
    Subscriber.objects.update(confirmed_at=T0)
    again = subscribe("known@example.com", address="198.51.100.2").content
    fresh = subscribe("fresh@example.com", address="198.51.100.3").content
    assert first == again == fresh
    assert [m.to for m in mailoutbox] == [["known@example.com"], ["fresh@example.com"]]


def test_repeated_requests_for_one_address_send_one_mail_a_day(subscribe, page, mailoutbox):
    with time_machine.travel(T0, tick=False):
        for n in range(3):
            subscribe("victim@example.com", address=f"203.0.113.{n}")
    assert len(mailoutbox) == 1
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        subscribe("victim@example.com", address="203.0.113.99")
    assert len(mailoutbox) == 2
    assert Subscriber.objects.count() == 1


def test_fifty_rapid_attempts_are_throttled(subscribe, page, mailoutbox):
    with time_machine.travel(T0, tick=False):
        codes = [subscribe(f"spray-{n}@example.com").status_code for n in range(50)]
        assert codes[:SUBSCRIBE_LIMIT] == [200] * SUBSCRIBE_LIMIT
        assert codes[SUBSCRIBE_LIMIT:] == [429] * (50 - SUBSCRIBE_LIMIT)
        assert Subscriber.objects.count() == SUBSCRIBE_LIMIT and len(mailoutbox) == SUBSCRIBE_LIMIT
        # Bad input counts too: guessing costs tries either way.
        assert subscribe("bad", address="198.51.100.200").status_code == 400
        # Another address is not held up.
        assert subscribe("other@example.com", address="192.0.2.1").status_code == 200
    with time_machine.travel(T0 + timedelta(seconds=SUBSCRIBE_WINDOW + 1), tick=False):
        assert subscribe("later@example.com").status_code == 200


def test_a_webhook_subscriber_needs_a_safe_url(page):
    from django.core.exceptions import ValidationError

    subscriber = Subscriber(
        page=page, kind="webhook", url="http://169.254.169.254/latest/meta-data"
    )
    with pytest.raises(ValidationError) as error:
        subscriber.full_clean()
    assert "url" in error.value.message_dict
