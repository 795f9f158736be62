"""Bulk writes that stay fast for thousands of rows (Django's ``bulk_update`` builds a CASE per row).

Rows that get the same values are written with one ``UPDATE … WHERE id IN``; rows
with many different values are joined to a ``VALUES`` list on PostgreSQL.

The PostgreSQL statements work with both drivers Django supports, psycopg 3 and
psycopg2: every parameter carries an explicit cast (so neither driver has to
infer the type of an empty or all-NULL list), and ``COPY`` data is written in
PostgreSQL's text format by :func:`copy_text`, then sent with whichever copy
call the driver has.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import json.encoder as json_encoder
import uuid
from collections.abc import Callable, Mapping, Sequence

from django.db import connections, models, router
from django.db.models import Func

#: Up to this many distinct value sets are written as one UPDATE each.
MAX_GROUPS = 3


def bulk_set(objs: Sequence, fields: Sequence[str]) -> None:
    """Save ``fields`` of ``objs`` (instances of one model) in as few queries as possible."""
    objs = list(objs)
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    groups: dict[tuple, tuple[tuple, list]] = {}
    for obj in objs:
        values = tuple(getattr(obj, field.attname) for field in columns)
        groups.setdefault(tuple(map(_hashable, values)), (values, []))[1].append(obj.pk)
    manager = model._base_manager
    if len(groups) <= MAX_GROUPS:
        for values, pks in groups.values():
            manager.filter(pk__in=pks).update(**{f.attname: v for f, v in zip(columns, values, strict=True)})
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        manager.bulk_update(objs, fields, batch_size=500)
        return
    quote = connection.ops.quote_name
    pk_field = meta.pk
    casts = [sql_type(f, connection) for f in (pk_field, *columns)]
    sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
    names = ", ".join([quote("pk"), *(quote(f.column) for f in columns)])
    with connection.cursor() as cursor:
        for start in range(0, len(objs), 1000):
            chunk = objs[start:start + 1000]
            rows, params = [], []
            for obj in chunk:
                rows.append("(" + ", ".join(f"%s::{cast}" for cast in casts) + ")")
                params.append(obj.pk)
                params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {sets} FROM (VALUES {', '.join(rows)}) "
                f"AS v({names}) WHERE t.{quote(pk_field.column)} = v.{quote('pk')}", params)


def _hashable(value):
    """``value`` as a key to group equal values by (a JSON field's dict or list is not hashable)."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


#: A JSON column of an insert: its values as one JSON array, made a ``jsonb[]`` in order
#: (a value ``None`` is SQL NULL, as the ORM writes it).
_JSON_COLUMN = ("ARRAY(SELECT NULLIF(oc_value, 'null'::jsonb) FROM jsonb_array_elements(%s::jsonb) "
                "WITH ORDINALITY AS oc_json(oc_value, oc_index) ORDER BY oc_index)")


def bulk_insert(objs: Sequence, *, returning: bool = False) -> None:
    """Insert unsaved instances of one model with one statement.

    On PostgreSQL: one ``INSERT … SELECT … FROM unnest(…)`` with an array per
    column (a column with the same value in every row sends it once), instead
    of ``bulk_create``'s placeholder per value (thousands of rows per statement
    are then cheap to send, and the statement's parameters are as many as the
    columns, whatever the number of rows). Every concrete field is written,
    with its default and ``pre_save`` (``auto_now_add``) applied, so a forked
    model with extra fields keeps working. With ``returning``, the statement
    also returns the primary keys the database made and sets them on ``objs``
    (in their order, as ``bulk_create`` does). Elsewhere, ``bulk_create``
    (which sets the keys where the database returns them).
    """
    objs = list(objs)
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._base_manager.using(alias).bulk_create(objs)
        return
    columns = [(f, [f.pre_save(obj, True) for obj in objs], False) for f in insert_fields(model)]
    pks = _unnest_insert(connection, model, columns, len(objs), returning=returning)
    for obj, pk in zip(objs, pks or (), strict=False):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, alias


def insert_rows(model, rows: Sequence[dict], *, same: dict | None = None,
                returning: bool = False) -> list | None:
    """Insert rows given as ``{field name or attname: value}`` dicts (all with the same keys).

    ``same`` holds values shared by every row. The model's other fields get
    their default (``auto_now_add`` applied), worked out once: no model
    instance is made per row. One statement, as :func:`bulk_insert` writes
    it; with ``returning``, returns the new primary keys in the rows' order.
    Elsewhere, ``bulk_create``.
    """
    if not rows:
        return [] if returning else None
    same = same or {}
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        made = model._base_manager.using(alias).bulk_create([model(**same, **row) for row in rows])
        return [obj.pk for obj in made] if returning else None
    by_name = {key: f for f in model._meta.concrete_fields for key in (f.name, f.attname)}
    given = {by_name[name]: name for name in rows[0]}
    blank = model(**same)  # the shared values, the defaults, and pre_save's (auto_now_add) values
    columns = []
    for f in insert_fields(model):
        if f in given:
            name = given[f]
            columns.append((f, [row[name] for row in rows], False))
        else:
            columns.append((f, f.pre_save(blank, True), True))
    return _unnest_insert(connection, model, columns, len(rows), returning=returning)


def _unnest_insert(connection, model, columns, count: int, *, returning: bool) -> list | None:
    """``INSERT … SELECT … FROM unnest(…)`` of ``count`` rows; ``columns`` are ``(field, values,
    same)``: ``values`` a list (one per row, ``pre_save`` applied) or, with ``same``, one value."""
    quote = connection.ops.quote_name
    select, scalars, arrays, array_params, names = [], [], [], [], []
    for index, (f, values, same) in enumerate(columns):
        cast = sql_type(f, connection)
        if same:
            select.append(f"%s::{cast}")
            scalars.append(f.get_db_prep_save(values, connection))
            continue
        if isinstance(f, models.JSONField):
            # One JSON document for the column: the drivers would escape every quote of
            # every value to write a jsonb[] literal, which costs more than the insert.
            arrays.append(_JSON_COLUMN)
            array_params.append(json.dumps([f.get_prep_value(v) for v in values], cls=f.encoder))
        else:
            prepared = [f.get_db_prep_save(v, connection) for v in values]
            first = prepared[0]
            if all(type(v) is type(first) and v == first for v in prepared):
                select.append(f"%s::{cast}")  # the same in every row: sent once
                scalars.append(first)
                continue
            arrays.append(f"%s::{cast}[]")
            array_params.append(prepared)
        name = f"oc_{index}"
        select.append(name)
        names.append(name)
    if arrays:
        source = f"unnest({', '.join(arrays)}) AS oc_rows ({', '.join(names)})"
    else:
        source, array_params = "generate_series(1, %s)", [count]
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f, *__ in columns)}) "
           f"SELECT {', '.join(select)} FROM {source}")
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, scalars + array_params)
        return [pk for (pk,) in cursor.fetchall()] if returning else None


def sql_type(field, connection) -> str:
    """The SQL type a parameter of ``field`` is cast to (``%s::type``) in the package's statements.

    The one way the package casts: the column's type as ``CAST`` writes it (an
    auto field is its integer type, not ``serial``; a foreign key is its
    target's type). Explicit casts let psycopg 3 and psycopg2 alike send lists
    and NULLs without guessing their type.
    """
    return field.cast_db_type(connection)


def insert_fields(model) -> list:
    """The fields an INSERT of ``model`` writes: all concrete ones but a database-made key."""
    return [f for f in model._meta.local_concrete_fields
            if not (f.primary_key and f.db_returning) and not getattr(f, "generated", False)]


def insert_values(obj, fields, connection) -> list:
    """The database values of ``fields`` for a new ``obj``: defaults and ``pre_save`` applied."""
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


def copy_insert(model, values: Sequence[dict]) -> None:
    """Insert rows given as ``{field name or attname: value}`` dicts (all with the same keys),
    as :func:`copy_columns` does."""
    if values:
        copy_columns(model, {name: [row[name] for row in values] for name in values[0]})


def copy_columns(model, columns: Mapping[str, Sequence]) -> None:
    """Insert rows given column by column: ``{field name or attname: values}``, one value per
    row in every column.

    On PostgreSQL one ``COPY … FROM STDIN`` (with psycopg 3 or psycopg2); the
    model's other concrete fields get their defaults (``auto_now_add`` applied).
    Elsewhere, ``bulk_create``.
    """
    copy_columns_later(model, columns)()


def copy_columns_later(model, columns: Mapping[str, Sequence]) -> Callable[[], None]:
    """:func:`copy_columns` in two steps: the rows are made ready now (on PostgreSQL, the text
    ``COPY`` reads), and the returned function writes them (for a caller that writes from
    another thread while it goes on: ``db.overlap.alongside``)."""
    names = list(columns)
    count = len(columns[names[0]]) if names else 0
    if not count:
        return lambda: None
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(names, row, strict=True))) for row in zip(*columns.values(), strict=True)]
        return lambda: model._base_manager.using(alias).bulk_create(objs, batch_size=2000) and None
    meta = model._meta
    by_name = {key: f for f in meta.concrete_fields for key in (f.name, f.attname)}
    fields = [by_name[name] for name in names]
    defaults = [f for f in meta.concrete_fields
                if not (f.primary_key and f.db_returning) and f not in fields
                and not getattr(f, "generated", False)]
    blank = model()  # the other fields' defaults, and pre_save's (auto_now_add) values
    cells = [_copy_column(f, columns[name], connection) for f, name in zip(fields, names, strict=True)]
    cells += [[copy_text(f, f.pre_save(blank, True), connection)] * count for f in defaults]
    data = "".join(["\t".join(row) + "\n" for row in zip(*cells, strict=True)])
    columns_sent = [f.column for f in fields + defaults]
    # The connection of the alias where the rows are written (a helper thread has its own alias
    # entry pointed at the caller's connection).
    return lambda: copy_from(connections[alias], meta.db_table, columns_sent, data)


def copy_from(connection, table: str, columns: Sequence[str], data: str) -> None:
    """``COPY table (columns) FROM STDIN`` with ``data`` in the text format, on either driver."""
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if hasattr(raw, "copy"):  # psycopg 3
            with raw.copy(sql) as copy:
                copy.write(data)
        else:  # psycopg2
            raw.copy_expert(sql, io.StringIO(data))


def copy_escape(text: str) -> str:
    """``text`` with the characters PostgreSQL's COPY text format escapes with a backslash
    (``str.replace`` four times is many times faster than ``str.translate``)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _json_cell(text: str) -> str:
    """JSON text as a COPY cell: ``json`` escapes tabs and line breaks itself, so only the
    backslashes are left to double."""
    return text.replace("\\", "\\\\")


_TEXT_FIELDS = frozenset({models.CharField, models.TextField})
_INTEGER_FIELDS = frozenset({models.IntegerField, models.PositiveIntegerField, models.BigIntegerField,
                             models.SmallIntegerField, models.PositiveSmallIntegerField,
                             models.PositiveBigIntegerField, models.AutoField, models.BigAutoField})


def _copy_column(field, values: list, connection) -> list[str]:
    """The cells of one column, as :func:`copy_text` writes them (faster for Django's plain text,
    integer and JSON fields)."""
    if type(field) in _TEXT_FIELDS:
        return ["\\N" if v is None else copy_escape(v) if isinstance(v, str)
                else copy_text(field, v, connection) for v in values]
    if type(field) in _INTEGER_FIELDS or (
            type(field) is models.ForeignKey and isinstance(field.target_field, models.IntegerField)):
        return ["\\N" if v is None else str(v) if type(v) is int else copy_text(field, v, connection)
                for v in values]
    if type(field) is models.JSONField:
        encode = _column_encoder(field.encoder)
        return ["\\N" if v is None else _json_cell(encode(v)) for v in values]
    return [copy_text(field, v, connection) for v in values]


def _column_encoder(encoder: type[json.JSONEncoder] | None) -> Callable[[object], str]:
    """A function that writes values as JSON, for a whole column of values.

    ``json.dumps`` and ``JSONEncoder.encode`` set up the C encoder again for every
    value; for Django's default encoder, one C encoder is made per column and reused
    (about twice as fast), after checking that it writes what ``json.dumps`` writes.
    Any other encoder, or a Python whose ``json`` differs, gets ``encoder().encode``.
    """
    slow = (encoder or json.JSONEncoder)().encode
    if encoder not in (None, json.JSONEncoder) or json_encoder.c_make_encoder is None:
        return slow
    try:
        once = json_encoder.c_make_encoder(
            None, json.JSONEncoder().default, json_encoder.encode_basestring_ascii, None,
            ": ", ", ", False, False, True)
        sample = {"a": [1, 2.5, None, True, "é\t\\"], "b": {"c": ""}}
        if "".join(once(sample, 0)) != json.dumps(sample):
            return slow
    except TypeError:  # another signature in another Python version
        return slow
    return lambda value: "".join(once(value, 0))


def copy_text(field, value, connection) -> str:
    """``value`` of ``field`` as a cell of PostgreSQL's ``COPY`` text format (``\\N`` is NULL).

    The same text for psycopg 3 and psycopg2: values are prepared by the field
    (``get_db_prep_save``) except JSON (dumped with the field's encoder) and
    bytes, which each driver wraps in an object of its own.
    """
    if value is None:
        return "\\N"
    if isinstance(field, models.JSONField):
        return _json_cell(json.dumps(field.get_prep_value(value), cls=field.encoder))
    if isinstance(field, models.BinaryField):
        return "\\\\x" + bytes(value).hex()
    value = field.get_db_prep_save(value, connection)
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, float):
        return {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}.get(repr(value), repr(value))
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    if isinstance(value, str):
        return copy_escape(value)
    raise TypeError(f"COPY cannot write the {type(value).__name__} value of {field}")


class AnyOf(Func):
    """``expression = ANY(%s)``: one array parameter where ``__in`` sends one per value (for
    thousands of values, binding them costs more than the query). PostgreSQL only; see
    :func:`in_values`."""

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, expression, values: Sequence, db_type: str) -> None:
        super().__init__(expression)
        self.values, self.db_type = list(values), db_type

    def as_sql(self, compiler, connection, **extra):
        """``<expression> = ANY(%s::<type>[])`` with the values as one array."""
        sql, params = compiler.compile(self.source_expressions[0])
        return f"{sql} = ANY(%s::{self.db_type}[])", (*params, self.values)


def in_values(queryset, field: str, values):
    """``queryset`` filtered to rows whose ``field`` is one of ``values``: one array parameter on
    PostgreSQL, ``field__in`` elsewhere."""
    values = list(values)
    if connections[queryset.db].vendor != "postgresql":
        return queryset.filter(**{f"{field}__in": values})
    target = queryset.model._meta.get_field(field)
    db_type = "bigint" if isinstance(target, models.IntegerField | models.ForeignKey) else "text"
    return queryset.filter(AnyOf(models.F(field), values, db_type))
