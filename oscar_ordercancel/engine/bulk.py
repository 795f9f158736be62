"""Bulk writes that stay fast for thousands of rows (Django's ``bulk_update`` builds a CASE per row).

Rows that get the same values are written with one ``UPDATE … WHERE id IN``; rows
with many different values are joined to a ``VALUES`` list on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connections, router

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
    casts = [pk_field.rel_db_type(connection) if pk_field.is_relation else pk_field.db_type(connection)]
    casts = ["integer" if "serial" in casts[0] else casts[0]]
    casts += [f.rel_db_type(connection) if f.is_relation else f.db_type(connection) for f in columns]
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


def bulk_insert(objs: Sequence) -> None:
    """Insert unsaved instances of one model whose primary keys nobody needs back.

    On PostgreSQL: one ``INSERT … SELECT * FROM unnest(…)`` with an array per
    column, instead of ``bulk_create``'s placeholder per value (thousands of
    rows per statement are then cheap to send). Every concrete field is written,
    with its default and ``pre_save`` (``auto_now_add``) applied, so a forked
    model with extra fields keeps working. Elsewhere, ``bulk_create``.
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
    fields = insert_fields(model)
    quote = connection.ops.quote_name
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in fields)
    columns = ", ".join(quote(f.column) for f in fields)
    params = [list(column) for column in zip(*(insert_values(obj, fields, connection)
                                               for obj in objs), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
                       f"SELECT * FROM unnest({arrays})", params)


def insert_fields(model) -> list:
    """The fields an INSERT of ``model`` writes: all concrete ones but a database-made key."""
    return [f for f in model._meta.local_concrete_fields
            if not (f.primary_key and f.db_returning) and not getattr(f, "generated", False)]


def insert_values(obj, fields, connection) -> list:
    """The database values of ``fields`` for a new ``obj``: defaults and ``pre_save`` applied."""
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
