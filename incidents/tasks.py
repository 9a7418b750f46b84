"""django-q2 entry points: thin, id-based, each calling one function of incidents.services."""

from incidents import reminders, services


def escalate() -> int:
    """Every minute: fire the escalation steps that are due."""
    return services.escalate_due()


def escalate_incident(incident_id: int) -> bool:
    """Right after an incident opens: fire its first step without waiting for the sweep."""
    return services.escalate_incident(incident_id=incident_id)


def send_notifications(incident_ids: list[int] | None = None) -> int:
    """After a sweep batch commits: send its pending notifications (None: every due message)."""
    return services.send_pending(incident_ids=incident_ids)


def retry_notifications() -> int:
    """Every minute: resend the notifications whose retry time has come."""
    return services.retry_notifications()


def send_reminders() -> int:
    """Daily: remind owners of missing postmortems and overdue action items."""
    return reminders.send_reminders()
