from django.core.management.base import BaseCommand
from django.db import connection, transaction

from core.fields import encrypted_columns, rewrite_column, rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the first key of PORTAL_FIELD_KEYS / "
        "secret_fields.key. Add the new key first, run this, then drop the old key."
    )

    def handle(self, *args, **options):
        total = 0
        with transaction.atomic():
            for table, pk, column in encrypted_columns():
                count = rewrite_column(connection, table, pk, column, rotate)
                total += count
                self.stdout.write(f"{table}.{column}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"{total} values now under the first key."))
