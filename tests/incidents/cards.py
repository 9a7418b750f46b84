"""The shape a Microsoft Teams Workflows webhook accepts ("Post to a channel when a webhook
request is received"): a Bot Framework message whose one attachment is an Adaptive Card. The
fixture is the documented sample's shape; a payload passes when it has that shape, with only
elements Teams renders."""

import json
from pathlib import Path

SAMPLE = json.loads((Path(__file__).parent / "fixtures" / "teams_workflows_card.json").read_text())
BODY_ELEMENTS = {"TextBlock", "FactSet", "ColumnSet", "Container", "RichTextBlock"}
ACTIONS = {"Action.OpenUrl"}


def workflows_card(payload: dict) -> dict:
    """The Adaptive Card of a Workflows webhook payload; AssertionError when the shape is wrong."""
    assert set(payload) == set(SAMPLE), payload
    assert payload["type"] == SAMPLE["type"]
    [attachment] = payload["attachments"]
    [sample] = SAMPLE["attachments"]
    assert attachment["contentType"] == sample["contentType"]
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    for key in ("$schema", "type"):
        assert card[key] == sample["content"][key], key
    # Teams renders up to 1.5
    assert tuple(int(part) for part in card["version"].split(".")) <= (
        1,
        5,
    )
    assert card["body"] and all(element["type"] in BODY_ELEMENTS for element in card["body"])
    for element in card["body"]:
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
        if element["type"] == "FactSet":
            assert all(
                set(fact) == {"title", "value"} and isinstance(fact["value"], str)
                for fact in element["facts"]
            )
    for action in card.get("actions", []):
        assert (
            action["type"] in ACTIONS
            and action["url"].startswith(("http://", "https://"))
            and action["title"]
        )
    return card


def texts(card: dict) -> list[str]:
    """Every text a reader sees on the card, in order."""
    shown = []
    for element in card["body"]:
        if element["type"] == "TextBlock":
            shown.append(element["text"])
        if element["type"] == "FactSet":
            shown.extend(f"{fact['title']}: {fact['value']}" for fact in element["facts"])
    return shown
