from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0017_i15_reminders_into_outbox")]

    operations = [migrations.DeleteModel(name="Reminder")]
