"""Credentials encrypted at rest: one field type for every model that holds one.

`cryptography`'s MultiFernet (authenticated encryption, and rotation built in):
settings.FIELD_KEYS, the first key encrypts, every key decrypts, so a new key is
added first and `manage.py rotate_field_keys` re-encrypts the rows before the
old key is dropped. Ciphertext is random per write, so the database can neither
search nor sort these columns; only `isnull` is offered as a lookup, and the
admin and the API never list them in search or ordering.

The value in Python is the clear text: code that uses the credential (a probe,
a backup, a send) reads it as before; what people see goes through
core.secrets' masks.
"""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.lookups import IsNull


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_KEYS))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "An encrypted field cannot be read with the keys in PORTAL_FIELD_KEYS / "
            "secret_fields.key: a key in use was removed or the value was never encrypted."
        ) from None


def rotate(token: str) -> str:
    """The same clear text under the first key."""
    return fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """Text kept encrypted in the database; clear in Python. Not searchable, not orderable."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def get_lookup(self, lookup_name):
        return IsNull if lookup_name == "isnull" else None

    def get_transform(self, lookup_name):
        return None


class EncryptedJSONField(models.TextField):
    """A JSON value kept encrypted in the database; a dict (or list…) in Python."""

    empty_values = [None]

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return json.loads(decrypt(value))

    def to_python(self, value):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def get_prep_value(self, value):
        if value is None:
            return value
        return encrypt(json.dumps(value))

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj))

    def get_lookup(self, lookup_name):
        return IsNull if lookup_name == "isnull" else None

    def get_transform(self, lookup_name):
        return None

    def formfield(self, **kwargs):
        # bounded nesting; parsers imports DRF, which needs settings
        from core.parsers import (
            JSONFormField,
        )

        return super(models.TextField, self).formfield(**{"form_class": JSONFormField, **kwargs})


def rewrite_column(connection, table: str, pk: str, column: str, change) -> int:
    """Pass every non-empty value of one column through `change` (encrypt, decrypt, rotate),
    in SQL: a migration or a rotation works on what is stored, not on the model's view of it."""
    quote = connection.ops.quote_name
    # Table and column names come from the portal's own models, quoted; values are parameters.
    select = (
        f"SELECT {quote(pk)}, {quote(column)} FROM {quote(table)} "  # noqa: S608
        f"WHERE {quote(column)} <> ''"
    )
    update = f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(select)
        rows = cursor.fetchall()
        for row_id, value in rows:
            cursor.execute(update, [change(value), row_id])
    return len(rows)


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary key, column) of every encrypted field of every installed model, history
    included."""
    from django.apps import apps

    return [
        (model._meta.db_table, model._meta.pk.column, field.column)
        for model in apps.get_models()
        if not model._meta.proxy
        for field in model._meta.local_fields
        if isinstance(field, EncryptedTextField | EncryptedJSONField)
    ]


def encrypt_columns(*columns: tuple[str, str, str]):
    """A migration step that encrypts the values already in (table, primary key, column),
    and decrypts them when the migration is reversed."""
    from django.db import migrations

    def convert(schema_editor, change):
        for table, pk, column in columns:
            rewrite_column(schema_editor.connection, table, pk, column, change)

    return migrations.RunPython(
        lambda apps, schema_editor: convert(schema_editor, encrypt),
        lambda apps, schema_editor: convert(schema_editor, decrypt),
        elidable=False,
    )
