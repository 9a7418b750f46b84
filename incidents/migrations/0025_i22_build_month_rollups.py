from django.db import migrations


def build(apps, schema_editor):
    from incidents.rollups import rebuild_months

    rebuild_months(
        rollup_model=apps.get_model("incidents", "IncidentRollup"),
        month_model=apps.get_model("incidents", "IncidentMonthRollup"),
    )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0024_i22_month_rollups")]

    operations = [migrations.RunPython(build, migrations.RunPython.noop)]
