"""Timeline events written before they had parameters: the English sentences the portal used to store
are read back into `data` (with `variant`) and their message keeps only the free text in them, so
incidents.timeline writes them in the reader's language. A message that matches none of the forms
(a note, a sentence stored in Korean, an edited form) stays as it is and is shown as it is."""

import re

from django.db import migrations

# Field names of an incident's edits whose stored value is a related row (the message held its name).
RELATED = {"service", "commander"}


def _status(match, data):
    return {}, ""


def _link(match, data):
    return {"variant": "link", "contact_name": match["contact"]}, ""


def _retriggered(match, data):
    return {"variant": "retriggered"}, match["reason"]


def _integration(match, data):
    return {"variant": "integration", "integration_name": match["name"]}, ""


def _backup(match, data):
    return {"variant": "backup_verified", "backup": int(match["id"]), "target_name": match["name"]}, ""


def _backup_partly(match, data):
    return {"variant": "backup_verified_partly", "backup": int(match["id"]), "target_name": match["name"]}, ""


def _title(match, data):
    return {"title": match["title"]}, ""


def _escalation(match, data):
    return {"names": [match["names"]]}, ""


def _nobody(match, data):
    return {}, ""


def _who(match, data):
    return {"who": match["who"]}, ""


def _reminder_who(match, data):
    return {"variant": "reminder", "who": match["who"]}, ""


def _change(match, data):
    changes = {name: dict(moved) for name, moved in (data.get("changes") or {}).items()}
    for part in match.string.split("; "):
        name, _sep, values = part.partition(": ")
        old, _arrow, new = values.partition(" → ")
        if name in RELATED and name in changes:
            changes[name].update({"from_shown": old, "to_shown": new})
    return {"changes": changes}, ""


def _postmortem(variant, key=None):
    def parse(match, data):
        return {"variant": variant, **({key: match[key]} if key else {})}, ""
    return parse


def _probe(variant, key=None):
    def parse(match, data):
        params = {"variant": variant}
        if "count" in match.groupdict():
            params["count"] = int(match["count"])
        if key:
            params[key] = match[key]
        return params, match.groupdict().get("message") or ""
    return parse


def _alert_firing(match, data):
    return {"variant": "firing", "integration_name": match["integration"], "title": match["title"],
            "fired_again": bool(match["again"])}, ""


def _alert(variant):
    def parse(match, data):
        params = {"variant": variant, **{k: v for k, v in match.groupdict().items() if k != "integration"}}
        if "count" in params:
            params["count"] = int(params["count"])
        if match.groupdict().get("integration"):
            params["integration_name"] = match["integration"]
        return params, ""
    return parse


def _variant(variant):
    def parse(match, data):
        return {"variant": variant, **match.groupdict()}, ""
    return parse


def _ticked(match, data):
    return {"variant": "ticked", "text": match["text"]}, match["note"] or ""


def _public_update(match, data):
    return {"variant": "public_update"}, match["text"]


# (kind, pattern, parse(match, data) -> (params to add to data, the message's free text)); first match wins.
FORMS = [
    ("created", r"Opened: (?P<title>.*)", _title),
    ("duplicate", r"Repeated alert: (?P<title>.*)", _title),
    ("status", r"(?P<from>[a-z]+) → (?P<to>[a-z]+)", _status),
    ("status", r"[a-z]+ → acknowledged by (?P<contact>.+) \(link in the page\)", _link),
    ("status", r"re-triggered: (?P<reason>.*)", _retriggered),
    ("status", r"Resolved by integration (?P<name>.+)", _integration),
    ("status", r"Backup #(?P<id>\d+) of (?P<name>.+) was verified\.", _backup),
    ("note", r"Backup #(?P<id>\d+) of (?P<name>.+) was verified\. Other problems reported here need their "
             r"own fix\.", _backup_partly),
    ("note", r"Marked public on the status page\.", _variant("public")),
    ("note", r"Public update \([^)]*\): (?P<text>.*)", _public_update),
    ("escalation", r"Step \d+(?: \(repeat \d+\))?: paging (?P<names>.+)\.", _escalation),
    ("escalation_failed", r"Step \d+(?: \(repeat \d+\))?: nobody available to page\.", _nobody),
    ("notification_sent", r"Reminder \(.+\) sent to (?P<who>.+)\.", _reminder_who),
    ("notification_sent", r".+? sent to (?P<who>.+)\.", _who),
    ("notification_failed", r"Reminder to (?P<who>.+?) failed: .*", _reminder_who),
    ("notification_failed", r".+? to (?P<who>.+) failed after \d+ attempts: .*", _who),
    ("change", r"[a-z_]+: .* → .*", _change),
    ("postmortem", r"Postmortem draft started: (?P<title>.*)", _postmortem("draft", "title")),
    ("postmortem", r"Postmortem submitted for review\.", _postmortem("moved")),
    ("postmortem", r"Postmortem published\.", _postmortem("moved")),
    ("postmortem", r"Every action item is done: postmortem closed\.", _postmortem("moved")),
    ("postmortem", r"Action item done: (?P<item>.*)", _postmortem("item_done", "item")),
    ("probe", r"(?P<count>\d+) consecutive failures: (?P<message>.*)", _probe("failing")),
    ("probe", r"Recovered: (?P<count>\d+) consecutive successes \((?P<message>.*)\)", _probe("recovered")),
    ("probe", r"Recovered: the agent of (?P<host_name>.+) reports again", _probe("agent_back", "host_name")),
    ("probe", r"no report from the agent since (?P<since>\S+)", _probe("agent_silent", "since")),
    ("alert", r"Alert firing \((?P<integration>.+?)\): (?P<title>.*?)"
              r"(?P<again> · fired again after incident #\d+ was resolved)?", _alert_firing),
    ("alert", r"Still firing: (?P<title>.*) \((?P<count>\d+) deliveries\)", _alert("still_firing")),
    ("alert", r"Alert resolved: (?P<title>.*) \((?P<count>\d+) of the group still firing\)",
     _alert("resolved_in_group")),
    ("alert", r"Alert resolved: (?P<title>.*)", _alert("resolved")),
    ("alert", r"Resolved at the source \((?P<integration>.+)\); left open: a person holds this incident\.",
     _alert("kept_open")),
    ("checklist", r"Checklist started: (?P<name>.*)", _variant("started")),
    ("checklist", r"Checklist completed: (?P<name>.*)", _variant("completed")),
    ("checklist", r"Checklist item failed: (?P<text>.*) \((?P<name>[^()]*)\)", _variant("item_failed")),
    ("checklist", r"(?P<text>.*): (?:open|done|failed|skipped|not applicable|undone)(?: — (?P<note>.*))?",
     _ticked),
]
COMPILED = [(kind, re.compile(pattern, re.DOTALL), parse) for kind, pattern, parse in FORMS]
# What each form needs already in data (the writers stored it next to the sentence).
NEEDS = {"status": ("from", "to"), "escalation": ("step",), "escalation_failed": ("step",),
         "notification_sent": ("kind",), "notification_failed": ("kind",), "change": ("changes",),
         "postmortem": ("postmortem",), "checklist": ("run",)}


def parse(kind: str, message: str, data: dict) -> tuple[dict, str] | None:
    """The event's data with the parameters its English sentence held, and the message's free text;
    None when the sentence is none of the known forms."""
    if not isinstance(data, dict) or data.get("variant"):
        return None
    for form_kind, pattern, parse_form in COMPILED:
        if form_kind != kind:
            continue
        match = pattern.fullmatch(message)
        if match is None:
            continue
        params, text = parse_form(match, data)
        merged = {**data, **params}
        if any(key not in merged for key in NEEDS.get(kind, ())):
            return None
        return merged, text
    return None


def forwards(apps, schema_editor):
    TimelineEvent = apps.get_model("incidents", "TimelineEvent")
    kinds = {kind for kind, _pattern, _parse in FORMS}
    rows = TimelineEvent.objects.filter(kind__in=kinds).exclude(message="").only("id", "kind", "message", "data")
    batch = []
    for event in rows.iterator(chunk_size=2000):
        parsed = parse(event.kind, event.message, event.data)
        if parsed is None:
            continue
        event.data, event.message = parsed
        batch.append(event)
        if len(batch) >= 1000:
            TimelineEvent.objects.bulk_update(batch, ["data", "message"])
            batch = []
    if batch:
        TimelineEvent.objects.bulk_update(batch, ["data", "message"])


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0014_i26_resolution_notices"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
