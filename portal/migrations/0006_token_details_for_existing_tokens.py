from django.db import migrations


def add_details(apps, schema_editor):
    # Tokens issued before expiry existed keep working (no expiry) and now show on the managers' page.
    Token = apps.get_model("authtoken", "Token")
    TokenDetails = apps.get_model("portal", "TokenDetails")
    TokenDetails.objects.bulk_create(
        [TokenDetails(token=token, created_at=token.created) for token in Token.objects.filter(details__isnull=True)]
    )


class Migration(migrations.Migration):
    dependencies = [("portal", "0005_token_details")]

    operations = [migrations.RunPython(add_details, migrations.RunPython.noop)]
