"""Release stock allocations of cancelled quantities, exactly once, in constant queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

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
    lines must already be locked. Stock records are locked in primary-key order
    so that concurrent cancellations sharing products cannot deadlock. The
    caller saves the lines (``num_allocated`` / ``allocation_cancelled``).
    """
    StockRecord = get_model("partner", "StockRecord")
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
        records = list(
            StockRecord.objects.select_for_update().filter(pk__in=per_record).order_by("pk")
        )
        for record in records:
            record.num_allocated = max((record.num_allocated or 0) - per_record[record.pk], 0)
        bulk_set(records, ["num_allocated"])
        sync_stock_alerts(records)
    return released


def sync_stock_alerts(records: list) -> None:
    """Open or close low-stock alerts of ``records`` as Oscar's ``post_save`` receiver would.

    The records were updated in bulk, so that receiver did not run; this does its
    work for all of them in one query (plus one write when an alert changes).
    """
    StockAlert = get_model("partner", "StockAlert")
    open_alerts = {alert.stockrecord_id: alert for alert in
                   StockAlert.objects.filter(stockrecord__in=records, status=StockAlert.OPEN)}
    to_open = [StockAlert(stockrecord=record, threshold=record.low_stock_threshold)
               for record in records if record.is_below_threshold and record.pk not in open_alerts]
    to_close = [open_alerts[record.pk].pk for record in records
                if not record.is_below_threshold and record.pk in open_alerts]
    if to_open:
        StockAlert.objects.bulk_create(to_open)
    if to_close:
        StockAlert.objects.filter(pk__in=to_close).update(status=StockAlert.CLOSED,
                                                          date_closed=timezone.now())
