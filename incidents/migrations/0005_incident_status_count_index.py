from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0004_remove_incident_escalation_claim'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='incident',
            index=models.Index(fields=['status'], name='incident_status'),
        ),
    ]
