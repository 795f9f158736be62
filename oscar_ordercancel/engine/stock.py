"""Release stock allocations of cancelled quantities, exactly once, in constant queries."""

from __future__ import annotations

from collections import defaultdict

from oscar.core.loading import get_model


def releasable(line, quantity: int) -> int:
    """How much of ``quantity`` is still allocated on the line (0 if untracked or released)."""
    if line.allocation_cancelled or not line.stockrecord_id:
        return 0
    tracks = getattr(line, "_tracks_stock", None)
    if tracks is None:  # a line not loaded by load_context
        tracks = line.stockrecord is not None and line.stockrecord.can_track_allocations
    if not tracks:
        return 0
    return min(quantity, line.num_allocated or 0)


def release_allocations(lines_by_id: dict, quantities: dict[int, int]) -> dict[int, int]:
    """Lower the lines' and stock records' allocations; return the released quantity per line.

    The lines must already be locked. Stock records are locked in primary-key
    order so that concurrent cancellations sharing products cannot deadlock.
    The caller saves the lines (``num_allocated`` / ``allocation_cancelled``).
    """
    StockRecord = get_model("partner", "StockRecord")
    released: dict[int, int] = {}
    per_record: dict[int, int] = defaultdict(int)
    for pk, qty in quantities.items():
        line = lines_by_id[pk]
        amount = releasable(line, qty)
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
        StockRecord.objects.bulk_update(records, ["num_allocated"])
    return released
