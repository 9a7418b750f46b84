# The sweep no longer marks the incidents it takes: PostgreSQL locks them
# (SKIP LOCKED) and on SQLite the batch holds the write lock from its first read.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0003_list_and_dashboard_indexes'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='incident',
            name='escalation_claim',
        ),
    ]
