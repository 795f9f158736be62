"""Release stock allocations of cancelled quantities, exactly once, in constant queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from django.db import connections, router
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel.db.bulk import bulk_set


def releasable(line, quantity: int, *, tracks_stock: bool) -> int:
    """How much of ``quantity`` is still allocated on the line (0 if untracked or released).

    ``tracks_stock``: whether the line's product class tracks stock, as the policy's
    facts say (``CancellationContext.tracks_stock(line)``).
    """
    if not tracks_stock or line.allocation_cancelled or not line.stockrecord_id:
        return 0
    return min(quantity, line.num_allocated or 0)


def release_allocations(lines_by_id: dict, quantities: dict[int, int], *,
                        stock_tracked: Collection[int]) -> dict[int, int]:
    """Lower the lines' and stock records' allocations; return the released quantity per line.

    ``stock_tracked``: the ids of the lines whose product class tracks stock. The
    lines must already be locked (:func:`release_stock_records` locks the stock
    records). The caller saves the lines (``num_allocated`` / ``allocation_cancelled``).
    """
    released: dict[int, int] = {}
    per_record: dict[int, int] = defaultdict(int)
    for pk, qty in quantities.items():
        line = lines_by_id[pk]
        amount = releasable(line, qty, tracks_stock=pk in stock_tracked)
        if amount <= 0:
            continue
        released[pk] = amount
        line.num_allocated = (line.num_allocated or 0) - amount
        if line.num_allocated == 0:
            line.allocation_cancelled = True
        per_record[line.stockrecord_id] += amount
    if per_record:
        release_stock_records(per_record)
    return released


def release_stock_records(amounts: dict[int, int]) -> None:
    """Lower ``num_allocated`` of stock records (``{id: amount}``, never below 0), and open or
    close their low-stock alerts as Oscar's ``post_save`` receiver would.

    The records are locked in primary-key order, so that concurrent cancellations
    sharing products cannot deadlock. On PostgreSQL one statement locks, writes and
    reads back the records with their open alerts; elsewhere a query locks and reads
    them, ``bulk_set`` writes them and one query reads their alerts.
    """
    StockRecord = get_model("partner", "StockRecord")
    alias = router.db_for_write(StockRecord)
    if connections[alias].vendor == "postgresql":
        records, open_alerts = _release_returning(StockRecord, alias, amounts)
        _sync_alerts(records, open_alerts)
        return
    records = list(
        StockRecord.objects.select_for_update().filter(pk__in=amounts).order_by("pk"))
    for record in records:
        record.num_allocated = max((record.num_allocated or 0) - amounts[record.pk], 0)
    bulk_set(records, ["num_allocated"])
    sync_stock_alerts(records)


#: The stock record fields read back after the release (what ``is_below_threshold`` reads).
_READ_BACK = ("num_in_stock", "num_allocated", "low_stock_threshold")


def _release_returning(StockRecord, alias: str, amounts: dict[int, int]) -> tuple[list, dict]:
    """PostgreSQL: lock (in primary-key order), lower and read back the records in one statement."""
    StockAlert = get_model("partner", "StockAlert")
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta, alert_meta = StockRecord._meta, StockAlert._meta
    pk = quote(meta.pk.column)
    pk_type = meta.pk.rel_db_type(connection)
    allocated = quote(meta.get_field("num_allocated").column)
    fields = [f for f in meta.concrete_fields if f.primary_key or f.name in _READ_BACK]
    alert_pk, alert_record = quote(alert_meta.pk.column), quote(alert_meta.get_field("stockrecord").column)
    sql = (
        f"WITH locked AS MATERIALIZED (SELECT {pk} FROM {quote(meta.db_table)} "
        f"WHERE {pk} = ANY(%s::{pk_type}[]) ORDER BY {pk} FOR UPDATE), "
        f"amounts AS (SELECT * FROM unnest(%s::{pk_type}[], %s::integer[]) AS a(id, amount)) "
        f"UPDATE {quote(meta.db_table)} AS t "
        f"SET {allocated} = GREATEST(COALESCE(t.{allocated}, 0) - amounts.amount, 0) "
        f"FROM locked JOIN amounts ON amounts.id = locked.{pk} WHERE t.{pk} = locked.{pk} "
        f"RETURNING {', '.join(f't.{quote(f.column)}' for f in fields)}, "
        f"(SELECT a.{alert_pk} FROM {quote(alert_meta.db_table)} AS a WHERE a.{alert_record} = t.{pk} "
        f"AND a.{quote(alert_meta.get_field('status').column)} = %s ORDER BY a.{alert_pk} LIMIT 1)"
    )
    ids = sorted(amounts)
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, ids, [amounts[pk] for pk in ids], StockAlert.OPEN])
        rows = cursor.fetchall()
    names = [f.attname for f in fields]
    records = [StockRecord.from_db(alias, names, row[:-1]) for row in rows]
    open_alerts = {row[0]: row[-1] for row in rows if row[-1] is not None}
    return sorted(records, key=lambda record: record.pk), open_alerts


def sync_stock_alerts(records: list) -> None:
    """Open or close low-stock alerts of ``records`` as Oscar's ``post_save`` receiver would.

    The records were updated in bulk, so that receiver did not run; this does its
    work for all of them in one query (plus one write when an alert changes).
    """
    StockAlert = get_model("partner", "StockAlert")
    _sync_alerts(records, dict(StockAlert.objects.filter(
        stockrecord__in=records, status=StockAlert.OPEN).values_list("stockrecord_id", "pk")))


def _sync_alerts(records: list, open_alerts: dict[int, int]) -> None:
    """Open an alert for each record below its threshold without one; close the open alerts
    (``{record id: alert id}``) of records no longer below it."""
    StockAlert = get_model("partner", "StockAlert")
    to_open = [StockAlert(stockrecord=record, threshold=record.low_stock_threshold)
               for record in records if record.is_below_threshold and record.pk not in open_alerts]
    to_close = [open_alerts[record.pk] for record in records
                if not record.is_below_threshold and record.pk in open_alerts]
    if to_open:
        StockAlert.objects.bulk_create(to_open)
    if to_close:
        StockAlert.objects.filter(pk__in=to_close).update(status=StockAlert.CLOSED,
                                                          date_closed=timezone.now())
