from django.db import migrations


def build(apps, schema_editor):
    from incidents.rollups import rebuild

    rebuild(incident_model=apps.get_model("incidents", "Incident"),
            rollup_model=apps.get_model("incidents", "IncidentRollup"))


class Migration(migrations.Migration):
    dependencies = [("incidents", "0021_i22_incident_rollups")]

    operations = [migrations.RunPython(build, migrations.RunPython.noop)]
