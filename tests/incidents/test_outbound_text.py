"""What a title turns into on each channel: text, never a mention, a link or a broken header."""

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from incidents import notify
from incidents.models import Notification, NotificationStatus
from tests.incidents.cards import texts, workflows_card
from tests.incidents.factories import make_channel, make_contact, make_incident, make_service

NOW = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
FORGED = "DB down <!channel> <https://evil.example|Click here> & <@U123>"


class Receiver(BaseHTTPRequestHandler):
    """/ok keeps the payload; /leaky answers 500 with a body that echoes credentials."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body))
        if self.path == "/ok":
            self.send_response(200)
            self.end_headers()
            return
        answer = (
            b"Internal error; config: api_key=AKIA-LEAKED-42 password=hunter2-leaked " + b"x" * 5000
        )
        self.send_response(500)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def page(incident, kind, target):
    contact = make_contact()
    channel = make_channel(contact, kind=kind, target=target)
    return Notification.objects.create(
        incident=incident,
        contact=contact,
        channel=channel,
        kind=kind,
        step=0,
        target=target,
        next_attempt_at=NOW,
    )


def test_a_slack_title_with_a_channel_mention_and_a_disguised_link_arrives_as_text(db, receiver):
    incident = make_incident(make_service("db"), severity="sev1", title=FORGED)
    notify.send_slack(
        f"{receiver.url}/ok", notify.build_message(notify.gather_facts(incident, NOW))
    )
    [payload] = receiver.received
    assert "<!channel>" not in payload["text"] and "<https://evil" not in payload["text"]
    assert (
        "&lt;!channel&gt; &lt;https://evil.example|Click here&gt; &amp; &lt;@U123&gt;"
        in payload["text"]
    )


def test_a_teams_title_with_markdown_and_html_shows_as_typed(db, receiver):
    title = "[Click here](https://evil.example) **now** <a href='https://evil.example'>x</a>"
    incident = make_incident(make_service("db"), severity="sev1", title=title)
    notify.send_teams(
        f"{receiver.url}/ok", notify.build_message(notify.gather_facts(incident, NOW))
    )
    [payload] = receiver.received
    title = texts(workflows_card(payload))[0]
    assert "[Click here](https" not in title and "**now**" not in title
    assert "<a " not in title
    assert r"[Click here]\(https://evil.example) \*\*now\*\*" in title


def test_a_teams_card_shows_a_line_that_looks_like_a_list_as_typed():
    assert (
        notify.teams_text("- drop\n  2. tables\nkeep - this")
        == "\\- drop\n  \\2. tables\nkeep - this"
    )


def test_an_email_page_for_a_title_with_a_newline_goes_out_with_a_one_line_subject(db, mailoutbox):
    incident = make_incident(
        make_service("db"), severity="sev1", title="DB down\r\nBcc: everyone@example.com"
    )
    notification = page(incident, "email", "ops@example.com")
    notify.send_pending(now=NOW)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT, notification.last_error
    [mail] = mailoutbox
    assert mail.subject == "[SEV1] db: DB down Bcc: everyone@example.com"
    assert mail.bcc == []


def test_a_webhook_error_body_is_bounded_and_its_secrets_masked_in_the_api(db, receiver, api_as):
    incident = make_incident(make_service("db"), severity="sev1", title="DB down")
    notification = page(incident, "webhook", f"{receiver.url}/leaky")
    notify.send_pending(now=NOW)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.PENDING
    assert notification.last_error.startswith("SendError: HTTP 500: Internal error")
    assert (
        "AKIA-LEAKED-42" not in notification.last_error
        and "hunter2-leaked" not in notification.last_error
    )
    assert len(notification.last_error) < 260
    response = api_as("manager").get("/api/v1/notifications")
    assert response.status_code == 200
    assert "AKIA-LEAKED-42" not in response.content.decode()
    assert "hunter2-leaked" not in response.content.decode()


# No NUL: the API refuses it in text, and PostgreSQL cannot store it.
titles = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
    max_size=120,
) | st.sampled_from(
    [
        "a\nb",
        "a\rb",
        "a\r\nBcc: x@example.com",
        "<!here>",
        "<https://x|y>",
        "a\x85b",
        "a\u2028b",
        "&<>",
    ]
)


@hypothesis_settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=titles)
def test_any_title_makes_slack_text_without_raw_angle_brackets_and_an_email_with_a_one_line_subject(
    db, mailoutbox, monkeypatch, title
):
    posted = []
    monkeypatch.setattr(notify, "_post", lambda url, payload, message: posted.append(payload))
    incident = make_incident(make_service(), severity="sev1", title=title)
    message = notify.build_message(notify.gather_facts(incident, NOW))
    notify.send_slack("https://hooks.slack.example/T0/B0/x", message)
    assert "<" not in posted[-1]["text"] and ">" not in posted[-1]["text"]
    notify.send_email("ops@example.com", message)  # BadHeaderError would fail the test
    subject = mailoutbox[-1].subject
    assert "\n" not in subject and "\r" not in subject
