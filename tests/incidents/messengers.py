"""A local stand-in for the chat services: an HTTP server on 127.0.0.1 that takes a post the way the
service documents it, or fails the way a service can.

A path is /<kind>/<mode>/…: the mode `ok` checks the payload (and JANDI's headers) against the
documented sample in tests/fixtures/channels/ (Teams: tests/incidents/cards.py) and answers 200, or
400 with what is wrong, as the service would; `fail` answers 500, `hang` never answers within the
client's read timeout, `reset` drops the connection with a TCP reset before any answer.
"""

import json
import re
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.incidents.cards import workflows_card

FIXTURES = Path(__file__).parent.parent / "fixtures" / "channels"
SAMPLES = {
    kind: json.loads((FIXTURES / f"{kind}.json").read_text())
    for kind in ("jandi", "dooray", "kakaowork")
}
JANDI_ACCEPT = "application/vnd.tosslab.jandi-v2+json"
URL = re.compile(r"https?://\S+")


def keys_of(items: list[dict]) -> set[str]:
    return {key for item in items for key in item}


def jandi_shape(payload: dict, headers=None) -> dict:
    """JANDI's incoming webhook: {"body", "connectColor"?, "connectInfo"?: [{"title",
    "description", "imageUrl"?}]}."""
    sample = SAMPLES["jandi"]
    assert set(payload) <= set(sample) | {"email"}, payload
    assert isinstance(payload.get("body"), str) and payload["body"].strip(), (
        "body is the one required field"
    )
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", payload.get("connectColor", "#000000")), payload.get(
        "connectColor"
    )
    info = payload.get("connectInfo", [])
    assert isinstance(info, list)
    for item in info:
        assert set(item) <= keys_of(sample["connectInfo"]), item
        assert all(
            isinstance(item.get(key, ""), str) for key in ("title", "description", "imageUrl")
        ), item
    if headers is not None:
        assert headers.get("Accept") == JANDI_ACCEPT, headers.get("Accept")
        assert headers.get("Content-Type", "").startswith("application/json"), headers.get(
            "Content-Type"
        )
    return payload


def dooray_shape(payload: dict, headers=None) -> dict:
    """A Dooray! hook: {"botName", "botIconImage"?, "text", "attachments"?: [{"title",
    "titleLink", "text", …}]}."""
    sample = SAMPLES["dooray"]
    assert set(payload) <= set(sample), payload
    for key in ("botName", "text"):
        assert isinstance(payload.get(key), str) and payload[key].strip(), key
    for item in payload.get("attachments", []):
        assert set(item) <= keys_of(sample["attachments"]), item
        assert all(isinstance(value, str) for value in item.values()), item
        assert not item.get("titleLink") or URL.fullmatch(item["titleLink"]), item
    return payload


KAKAOWORK_BLOCKS = {
    "header",
    "text",
    "description",
    "button",
    "divider",
    "image_link",
    "context",
    "action",
}


def kakaowork_shape(payload: dict, headers=None) -> dict:
    """KakaoWork's bot webhook: {"text", "blocks"?: [Block Kit]}: the blocks this portal uses, as
    documented."""
    assert set(payload) <= set(SAMPLES["kakaowork"]), payload
    assert isinstance(payload.get("text"), str) and payload["text"].strip(), (
        "text is the preview, required"
    )
    for block in payload.get("blocks", []):
        assert block.get("type") in KAKAOWORK_BLOCKS, block
        if block["type"] == "text":
            assert set(block) <= {"type", "text", "markdown"} and isinstance(block["text"], str), (
                block
            )
        if block["type"] == "description":
            assert set(block) == {"type", "term", "content", "accent"}, block
            assert block["content"]["type"] == "text" and isinstance(
                block["content"]["text"], str
            ), block
        if block["type"] == "button":
            assert block["style"] in ("default", "primary", "danger"), block
            assert block["action"]["type"] == "open_system_browser" and URL.fullmatch(
                block["action"]["value"]
            ), block
    return payload


def slack_shape(payload: dict, headers=None) -> dict:
    assert set(payload) == {"text"} and payload["text"], payload
    return payload


def webhook_shape(payload: dict, headers=None) -> dict:
    assert isinstance(payload.get("text"), str) and "idempotency_key" in payload, payload
    return payload


SHAPES = {
    "jandi": jandi_shape,
    "dooray": dooray_shape,
    "kakaowork": kakaowork_shape,
    "slack": slack_shape,
    "teams": lambda payload, headers=None: workflows_card(payload),
    "webhook": webhook_shape,
}


@dataclass
class Post:
    kind: str
    mode: str
    path: str
    headers: dict
    body: dict


class Service(BaseHTTPRequestHandler):
    def do_POST(self):
        _, kind, mode, *_rest = self.path.split("/")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        self.server.posts.append(Post(kind, mode, self.path, dict(self.headers), body))
        if mode == "hang":
            self.server.release.wait(timeout=10)
            return
        if mode == "reset":
            # SO_LINGER with a zero timeout: close() sends RST, as a crashed proxy would.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        status, answer = 500, b"boom"
        if mode == "ok":
            try:
                SHAPES[kind](body, self.headers)
                status, answer = 200, b"ok"
            except (
                AssertionError,
                KeyError,
                TypeError,
                AttributeError,
            ) as exc:  # a service says 400
                status, answer = 400, f"bad payload: {exc}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def start() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    server.daemon_threads = True
    server.posts, server.release = [], threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


def stop(server: ThreadingHTTPServer) -> None:
    server.release.set()
    server.shutdown()
    server.server_close()
