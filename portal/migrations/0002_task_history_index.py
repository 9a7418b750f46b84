"""An index on django-q2's task table (a third-party model, so by hand): the task
history API lists newest first and would otherwise sort the whole table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS portal_task_stopped ON django_q_task (stopped DESC, id DESC)",
            "DROP INDEX IF EXISTS portal_task_stopped",
        ),
    ]
