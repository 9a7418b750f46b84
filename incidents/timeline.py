"""Timeline events in the reader's language.

An event stores what happened as its kind plus parameters in `data` (`data["variant"]` picks the
sentence when one kind has several) and, in `message`, only free text: a note, a reason someone
typed, an error or a probe's own words. The sentence is written here, when the event is shown, in
the language of whoever reads it.

Adding a sentence is one entry in RENDERERS: (kind, variant) → a function of (data, message). Events
without an entry (a kind added elsewhere, rows written before this) show their stored message.
"""

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.display import choice_label, format_duration, format_value
from incidents.models import (
    ChannelKind,
    EventKind,
    Incident,
    PostmortemStatus,
    ReminderReason,
    Scope,
    Severity,
    Status,
)


def render(event) -> str:
    """The event's sentence in the active language; its stored message when no renderer knows it
    or its data lacks what the renderer needs (a row from before events had parameters)."""
    data = event.data if isinstance(event.data, dict) else {}
    renderer = RENDERERS.get((event.kind, data.get("variant", "")))
    if renderer is None:
        return event.message
    try:
        return renderer(data, event.message)
    except (KeyError, TypeError, ValueError):
        return event.message


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _with_detail(text: str, message: str) -> str:
    return _("%(text)s: %(detail)s") % {"text": text, "detail": message} if message else text


def _step(data) -> dict:
    return {"step": data["step"] + 1, "repeat": data.get("repeat") or 0}


def created(data, message):
    return _("Opened: %(title)s") % {"title": data["title"]}


def duplicate(data, message):
    return _("Repeated alert: %(title)s") % {"title": data["title"]}


def status(data, message):
    moved = _("%(from)s → %(to)s") % {
        "from": _label(Status, data["from"]),
        "to": _label(Status, data["to"]),
    }
    return _with_detail(moved, message)


def status_by_link(data, message):
    return _("%(from)s → %(to)s by %(contact)s (link in the page)") % {
        "from": _label(Status, data["from"]),
        "to": _label(Status, data["to"]),
        "contact": data["contact_name"],
    }


def status_retriggered(data, message):
    return _("re-triggered: %(reason)s") % {"reason": retriggered(data, message)}


def retriggered(data, message):
    cause = data.get("cause")
    if not cause:
        return message
    return ngettext(
        "%(count)d consecutive failure again, %(since)s after recovering: %(message)s",
        "%(count)d consecutive failures again, %(since)s after recovering: %(message)s",
        cause["count"],
    ) % {"count": cause["count"], "since": format_duration(cause["since"]), "message": message}


def status_by_integration(data, message):
    return _("Resolved by integration %(name)s") % {"name": data["integration_name"]}


def status_backup_verified(data, message):
    return _("Backup #%(id)s of %(name)s was verified.") % {
        "id": data["backup"],
        "name": data["target_name"],
    }


def escalation(data, message):
    names = ", ".join(data["names"])
    if data.get("repeat"):
        return _("Step %(step)d (repeat %(repeat)d): paging %(names)s.") % {
            **_step(data),
            "names": names,
        }
    return _("Step %(step)d: paging %(names)s.") % {**_step(data), "names": names}


def escalation_failed(data, message):
    if data.get("repeat"):
        return _("Step %(step)d (repeat %(repeat)d): nobody available to page.") % _step(data)
    return _("Step %(step)d: nobody available to page.") % _step(data)


def escalation_deliveries_failed(data, message):
    values = {**_step(data), "names": ", ".join(failure["who"] for failure in data["failures"])}
    text = (
        _("Step %(step)d (repeat %(repeat)d): every page failed (%(names)s).")
        if data.get("repeat")
        else _("Step %(step)d: every page failed (%(names)s).")
    ) % values
    if data.get("next_step") is not None:
        text += " " + _("Paging step %(step)d now.") % {"step": data["next_step"] + 1}
    return text


def _clock(value: str) -> str:
    return timezone.localtime(parse_datetime(value)).strftime("%H:%M")


def escalation_summary(data, message):
    paged = "; ".join(
        _("%(name)s (step %(step)d, %(time)s)") % {**page, "time": _clock(page["at"])}
        for page in data["paged"]
    ) or _("nobody")
    if data.get("acknowledged_at"):
        acked = _("acknowledged by %(who)s at %(time)s") % {
            "who": data["acknowledged_by"],
            "time": _clock(data["acknowledged_at"]),
        }
    else:
        acked = _("not acknowledged")
    return _("Paged %(who)s; %(acked)s.") % {"who": paged, "acked": acked}


def notification_sent(data, message):
    return _("%(channel)s sent to %(who)s.") % {
        "channel": _label(ChannelKind, data["kind"]),
        "who": data["who"],
    }


def notification_failed(data, message):
    values = {
        "channel": _label(ChannelKind, data["kind"]),
        "who": data["who"],
        "attempts": data["attempts"],
        "error": data["error"],
    }
    if data.get("timed_out"):
        return (
            _(
                "%(channel)s to %(who)s failed after %(attempts)d attempts (the first timed out "
                "and was tried once more): %(error)s"
            )
            % values
        )
    return _("%(channel)s to %(who)s failed after %(attempts)d attempts: %(error)s") % values


def reminder_sent(data, message):
    return _("Reminder (%(reason)s) sent to %(who)s.") % {
        "reason": _label(ReminderReason, data["reason"]),
        "who": data["who"],
    }


def reminder_failed(data, message):
    return _("Reminder to %(who)s failed: %(error)s") % {"who": data["who"], "error": data["error"]}


# The fields an edit can move, their choices and how their stored values read.
CHANGE_CHOICES = {"severity": Severity, "scope": Scope}


def change(data, message):
    parts = []
    for name, moved in sorted(data["changes"].items()):
        field = Incident._meta.get_field(name)
        parts.append(
            _("%(field)s: %(from)s → %(to)s")
            % {
                "field": field.verbose_name,
                "from": _changed_value(name, moved, "from"),
                "to": _changed_value(name, moved, "to"),
            }
        )
    return "; ".join(parts)


def _changed_value(name, moved, end):
    # a related row's name as it was then (a service, a commander)
    shown = moved.get(f"{end}_shown")
    if shown is not None:
        return shown
    choices = CHANGE_CHOICES.get(name)
    value = moved[end]
    if choices is not None and value in choices.values:
        return _label(choices, value)
    if name.endswith("_at") and value:
        return format_value(parse_datetime(value))
    text = format_value(value)
    return text if len(text) <= 80 else text[:79] + "…"


def postmortem_draft(data, message):
    return _("Postmortem draft started: %(title)s") % {"title": data["title"]}


def postmortem_moved(data, message):
    sentences = {
        PostmortemStatus.IN_REVIEW: _("Postmortem submitted for review."),
        PostmortemStatus.PUBLISHED: _("Postmortem published."),
        PostmortemStatus.CLOSED: _("Every action item is done: postmortem closed."),
    }
    return sentences[data["to"]]


def action_item_done(data, message):
    return _("Action item done: %(item)s") % {"item": data["item"]}


def note_backup_verified_partly(data, message):
    return _("%(reason)s Other problems reported here need their own fix.") % {
        "reason": status_backup_verified(data, message)
    }


def note_public(data, message):
    return _("Marked public on the status page.")


def note_public_update(data, message):
    return _("Public update (%(status)s): %(text)s") % {
        "status": choice_label(data["status"], "status.PublicUpdate.status"),
        "text": message,
    }


def note_notice(data, message):
    return _("Notice “%(kind)s” queued for %(count)d recipients of status page %(page)s.") % {
        "kind": choice_label(data["kind"], "status.Notice.kind"),
        "count": data["count"],
        "page": data["page"],
    }


def probe_failing(data, message):
    return ngettext(
        "%(count)d consecutive failure: %(message)s",
        "%(count)d consecutive failures: %(message)s",
        data["count"],
    ) % {"count": data["count"], "message": message}


def probe_recovered(data, message):
    return ngettext(
        "Recovered: %(count)d consecutive success (%(message)s)",
        "Recovered: %(count)d consecutive successes (%(message)s)",
        data["count"],
    ) % {"count": data["count"], "message": message}


def probe_agent_silent(data, message):
    return _("no report from the agent since %(at)s") % {
        "at": format_value(parse_datetime(data["since"]))
    }


def probe_agent_back(data, message):
    return _("Recovered: the agent of %(host)s reports again") % {"host": data["host_name"]}


def alert_firing(data, message):
    text = _("Alert firing (%(integration)s): %(title)s") % {
        "integration": data["integration_name"],
        "title": data["title"],
    }
    if data.get("fired_again"):
        text += " · " + _("fired again after incident #%(id)d was resolved") % {
            "id": data["previous_incident"]
        }
    return text


def alert_still_firing(data, message):
    return _("Still firing: %(title)s (%(count)d deliveries)") % {
        "title": data["title"],
        "count": data["count"],
    }


def alert_resolved(data, message):
    return _("Alert resolved: %(title)s") % {"title": data["title"]}


def alert_resolved_in_group(data, message):
    return _("Alert resolved: %(title)s (%(count)d of the group still firing)") % {
        "title": data["title"],
        "count": data["count"],
    }


def alert_kept_open(data, message):
    return _(
        "Resolved at the source (%(integration)s); left open: a person holds this incident."
    ) % {"integration": data["integration_name"]}


def checklist_started(data, message):
    return _("Checklist started: %(name)s") % {"name": data["name"]}


def checklist_ticked(data, message):
    state = (
        _("undone") if data.get("undo") else choice_label(data["state"], "checklists.RunItem.state")
    )
    text = _("%(item)s: %(state)s") % {"item": data["text"], "state": state}
    return f"{text} — {message}" if message else text


def checklist_completed(data, message):
    return _("Checklist completed: %(name)s") % {"name": data["name"]}


def checklist_item_failed(data, message):
    return _("Checklist item failed: %(text)s (%(run)s)") % {
        "text": data["text"],
        "run": data["name"],
    }


RENDERERS = {
    (EventKind.CREATED, ""): created,
    (EventKind.DUPLICATE, ""): duplicate,
    (EventKind.STATUS, ""): status,
    (EventKind.STATUS, "link"): status_by_link,
    (EventKind.STATUS, "retriggered"): status_retriggered,
    (EventKind.STATUS, "integration"): status_by_integration,
    (EventKind.STATUS, "backup_verified"): status_backup_verified,
    (EventKind.ESCALATION, ""): escalation,
    (EventKind.ESCALATION_FAILED, ""): escalation_failed,
    (EventKind.ESCALATION_FAILED, "deliveries_failed"): escalation_deliveries_failed,
    (EventKind.ESCALATION_SUMMARY, ""): escalation_summary,
    (EventKind.NOTIFICATION_SENT, ""): notification_sent,
    (EventKind.NOTIFICATION_SENT, "reminder"): reminder_sent,
    (EventKind.NOTIFICATION_FAILED, ""): notification_failed,
    (EventKind.NOTIFICATION_FAILED, "reminder"): reminder_failed,
    (EventKind.CHANGE, ""): change,
    (EventKind.POSTMORTEM, "draft"): postmortem_draft,
    (EventKind.POSTMORTEM, "moved"): postmortem_moved,
    (EventKind.POSTMORTEM, "item_done"): action_item_done,
    (EventKind.RETRIGGERED, ""): retriggered,
    (EventKind.NOTE, "backup_verified_partly"): note_backup_verified_partly,
    (EventKind.NOTE, "public"): note_public,
    (EventKind.NOTE, "public_update"): note_public_update,
    (EventKind.NOTE, "notice"): note_notice,
    (EventKind.PROBE, "failing"): probe_failing,
    (EventKind.PROBE, "recovered"): probe_recovered,
    (EventKind.PROBE, "agent_silent"): probe_agent_silent,
    (EventKind.PROBE, "agent_back"): probe_agent_back,
    (EventKind.ALERT, "firing"): alert_firing,
    (EventKind.ALERT, "still_firing"): alert_still_firing,
    (EventKind.ALERT, "resolved"): alert_resolved,
    (EventKind.ALERT, "resolved_in_group"): alert_resolved_in_group,
    (EventKind.ALERT, "kept_open"): alert_kept_open,
    (EventKind.CHECKLIST, "started"): checklist_started,
    (EventKind.CHECKLIST, "ticked"): checklist_ticked,
    (EventKind.CHECKLIST, "completed"): checklist_completed,
    (EventKind.CHECKLIST, "item_failed"): checklist_item_failed,
}
