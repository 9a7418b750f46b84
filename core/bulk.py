"""Many rows written in a fixed number of statements (the escalation sweep's notifications,
timeline events and moved cursors).

`insert` and `update` take rows as the ORM does (Python values, foreign keys by id) and have
two paths that write the same rows (tests/core/test_bulk.py holds them to it):

- plain: the ORM's bulk_create and bulk_update;
- fast: the same statements built from the models' _meta, because the ORM compiles every value
  of every row, and bulk_update adds a CASE WHEN per row. Each value object is prepared once
  (the rows of a batch share their time, event data and channel targets, and an encrypted
  column costs a Fernet encryption per value). SQLite gets one prepared INSERT run with executemany
  and one UPDATE … FROM (VALUES …); PostgreSQL one INSERT … SELECT FROM unnest(arrays) and one
  UPDATE … FROM unnest(arrays), with the arrays bound on the server in binary (see _cursor).

Only quoted identifiers and column types from _meta go into the SQL text; every value is a
parameter. The plain path is taken where it meets the sweep's budget (one second for the worst
minute, README "Performance"): for a few rows, such as one new incident's first page. A sweep of
thousands of due incidents misses it by an order of magnitude on the plain path.
"""

from contextlib import contextmanager

from django.db import connection, models
from django.db.models.constants import OnConflict

# From this many rows on, `insert` and `update` take the fast path.
FAST_FROM_ROWS = 50


def insert(
    model,
    names: tuple[str, ...],
    rows: list[tuple],
    *,
    ignore_conflicts: bool = False,
    fast: bool | None = None,
) -> None:
    """Insert `rows`, each a tuple of values for the fields `names` (in that order)."""
    if not rows:
        return
    if not _fast(fast, rows):
        attnames = [model._meta.get_field(name).attname for name in names]
        model.objects.bulk_create(
            [model(**dict(zip(attnames, row, strict=True))) for row in rows],
            batch_size=len(rows),
            ignore_conflicts=ignore_conflicts,
        )
        return
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    fields = [model._meta.get_field(name) for name in names]
    columns = _columns(fields, rows)
    ops, qn = connection.ops, connection.ops.quote_name
    head = (
        f"{ops.insert_statement(on_conflict=on_conflict)} {qn(model._meta.db_table)} "
        f"({', '.join(qn(f.column) for f in fields)})"
    )
    tail = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    with _cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{head} SELECT * FROM {_unnest(fields)}{tail}", columns)  # noqa: S608
        else:
            cursor.executemany(
                f"{head} VALUES ({', '.join(['%s'] * len(fields))}){tail}",
                list(zip(*columns, strict=True)),
            )


def update(model, names: tuple[str, ...], rows: list[tuple], *, fast: bool | None = None) -> None:
    """Set the fields names[1:] of each row whose primary key is its first value."""
    if not rows:
        return
    if not _fast(fast, rows):
        attnames = [model._meta.get_field(name).attname for name in names]
        model.objects.bulk_update(
            [model(**dict(zip(attnames, row, strict=True))) for row in rows],
            attnames[1:],
            batch_size=len(rows),
        )
        return
    fields = [model._meta.get_field(name) for name in names]
    columns = _columns(fields, rows)
    qn = connection.ops.quote_name
    if connection.vendor == "postgresql":
        source = (
            f"{_unnest(fields)} AS v({', '.join(f'column{n}' for n in range(1, len(fields) + 1))})"
        )
        params = columns
    else:  # SQLite ≥ 3.33 has UPDATE … FROM; its VALUES columns are named column1, column2 …
        source = (
            f"(VALUES {', '.join(['(' + ', '.join(['%s'] * len(fields)) + ')'] * len(rows))}) AS v"
        )
        params = [value for row in zip(*columns, strict=True) for value in row]
    table = qn(model._meta.db_table)
    assignments = ", ".join(
        f"{qn(f.column)} = v.column{n}" for n, f in enumerate(fields[1:], start=2)
    )
    with _cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {source} "  # noqa: S608
            f"WHERE {table}.{qn(fields[0].column)} = v.column1",
            params,
        )


def _fast(fast: bool | None, rows: list[tuple]) -> bool:
    return len(rows) >= FAST_FROM_ROWS if fast is None else fast


# Field classes (exactly these: a subclass may prepare its own way, as the encrypted text does)
# whose preparation of an exact int or str is one known step. Django's get_db_prep_save of an int
# is the backend's adapt_integerfield_value (psycopg's Int2/Int4/Int8 on PostgreSQL, the int itself
# on SQLite), or validate_autopk_value for a primary key; of a str, the str itself. Taking that
# step directly is what makes a sweep's ids and counts cheap; tests/core/test_bulk.py holds it
# equal to get_db_prep_save, to the type, on both backends.
INTEGER_FIELDS = {
    models.IntegerField,
    models.SmallIntegerField,
    models.BigIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField,
}
AUTO_FIELDS = {models.AutoField, models.SmallAutoField, models.BigAutoField}
TEXT_FIELDS = {models.CharField, models.TextField}


def _direct(field):
    """(exact value type, its preparation) where a column can skip Django's per-value path."""
    target = field.target_field if type(field) is models.ForeignKey else field
    if type(target) in INTEGER_FIELDS:
        internal, adapt = target.get_internal_type(), connection.ops.adapt_integerfield_value
        return int, lambda value: adapt(value, internal)
    if type(target) in AUTO_FIELDS:
        return int, connection.ops.validate_autopk_value
    if type(target) in TEXT_FIELDS:
        return str, lambda value: value
    return None, None


def _columns(fields, rows: list[tuple]) -> list[list]:
    """The rows' values in their database form, column by column. Ids, counts and plain text take
    their backend's step directly (see INTEGER_FIELDS); any other value object is prepared once:
    the rows of a batch share them (the sweep's time, a channel's target, an event's data)."""
    columns = []
    for field, values in zip(fields, zip(*rows, strict=True), strict=True):
        kind, direct = _direct(field)
        memo = {}  # id → prepared value; the rows keep every value alive, so an id is never reused
        column = []
        for value in values:
            if type(value) is kind:
                column.append(direct(value))
                continue
            if id(value) not in memo:
                memo[id(value)] = field.get_db_prep_save(value, connection)
            column.append(memo[id(value)])
        columns.append(column)
    return columns


def _unnest(fields) -> str:
    # One typed array parameter per column, sent in binary (%b, see _cursor): a column of
    # NULLs stays typed, and the statement is the same whatever the row count.
    return f"unnest({', '.join(f'%b::{f.db_type(connection)}[]' for f in fields)})"


@contextmanager
def _cursor():
    """Django's cursor, except on PostgreSQL: one of Django's cursors that binds parameters on the
    server, so that the unnest() arrays travel in psycopg's binary format. Django's default binds
    on the client, quoting every value of every array into the statement's text."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    raw = ServerBindingCursor(connection.connection)
    with (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw) as cursor
    ):
        yield cursor
