"""Every message is a row of the one outbox: status-page notices are marked as such, and each
Reminder row becomes a Notification row with the same key, so a reminder already sent today is
not sent again and a pending one is still sent (and now retried)."""

from django.conf import settings
from django.db import migrations
from django.urls import reverse


def forward(apps, schema_editor):
    Notification = apps.get_model("incidents", "Notification")
    Reminder = apps.get_model("incidents", "Reminder")
    Notification.objects.filter(notice__isnull=False).update(purpose="notice")
    rows = []
    for reminder in Reminder.objects.select_related("incident__service", "action_item").iterator():
        incident = reminder.incident
        url = settings.BASE_URL + reverse("incidents:postmortem", args=[incident.pk])
        if reminder.reason == "postmortem_due":
            subject = f"[Postmortem due] #{incident.pk} {incident.title}"
        else:
            subject = f"[Action item overdue] {reminder.action_item.description[:80]}"
        text = f"{subject}\n{url}"
        message = {"subject": subject, "text": text, "url": url, "severity": incident.severity,
                   "language": settings.LANGUAGE_CODE,
                   "fields": {"notice": True, "subject": subject, "text": text, "url": url, "reminder": reminder.reason,
                              "incident": incident.pk, "title": incident.title, "service": incident.service.name,
                              "action_item": reminder.action_item_id, "link_label": ""}}
        # A row claimed by a worker that never came back is offered again.
        rows.append(Notification(
            purpose="reminder", notice=f"reminder:{reminder.subject}:{reminder.day.isoformat()}",
            recipient=f"channel:{reminder.channel_id}" if reminder.channel_id else f"reminder:{reminder.pk}",
            incident_id=reminder.incident_id, contact_id=reminder.contact_id, channel_id=reminder.channel_id,
            kind=reminder.kind, target=reminder.target, status=reminder.status, attempts=reminder.attempts,
            last_error=reminder.last_error, created_at=reminder.created_at, sent_at=reminder.sent_at,
            step=0, condition="not_resolved", message=message))
    Notification.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0016_i15_one_outbox_routes")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
