"""Issue 21: one RPO watcher. The backup_freshness probe kind paged a second time for what the
backups app's own freshness check (dedup key backup:<target>) already reports, so the kind is gone.
Its probes are deleted with their results; an incident one of them still holds open gets a note
that the backups app watches the target now, and is left for a person to resolve."""

from django.db import migrations

NOTE = ("The backup freshness probe that opened this incident was retired (issue 21): the backups app "
        "watches the target's RPO on its own and opens its own incident when a backup is late. "
        "Resolve this one once the target has a fresh verified backup.")


def retire(apps, schema_editor):
    Probe = apps.get_model("probes", "Probe")
    Incident = apps.get_model("incidents", "Incident")
    TimelineEvent = apps.get_model("incidents", "TimelineEvent")
    retired = list(Probe.objects.filter(kind="backup_freshness").values_list("pk", flat=True))
    if not retired:
        return
    for incident in Incident.objects.filter(dedup_key__in=[f"probe:{pk}" for pk in retired],
                                            status__in=["triggered", "acknowledged", "mitigated"]):
        TimelineEvent.objects.create(incident=incident, kind="note", message=NOTE)
    ProbeResult = apps.get_model("probes", "ProbeResult")
    ProbeResult.objects.filter(probe__in=retired).delete()
    Probe.objects.filter(pk__in=retired).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("probes", "0010_result_index_covers_order"),
        ("incidents", "0012_i26_retriggered"),
    ]

    operations = [migrations.RunPython(retire, migrations.RunPython.noop)]
