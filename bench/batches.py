"""Batch benchmarks: the batch engine against the naive loop and a set-based SQL floor; preview speed.

Sizes follow issue 9 (10,000 three-line orders; a 100,000-row preview) and can be
scaled with ``ORDERCANCEL_BENCH_SCALE`` (e.g. ``0.1``) on a slow machine.
"""

from __future__ import annotations

import io
import os
import resource
import time

from django.db import connection, connections

from bench.data import make_orders

SCALE = float(os.environ.get("ORDERCANCEL_BENCH_SCALE", "1"))


def analyze() -> None:
    """Refresh PostgreSQL's planner statistics after bulk-loading, as autovacuum would."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _csv(header: str, rows) -> io.BytesIO:
    return io.BytesIO((header + "\n" + "\n".join(rows) + "\n").encode())


def sql_floor(orders) -> None:
    """Only what must change: order and line statuses, line and stock allocations, set-based."""
    ids = [o.pk for o in orders]
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            cursor.execute(
                "UPDATE partner_stockrecord AS sr SET num_allocated = sr.num_allocated - agg.qty "
                "FROM (SELECT stockrecord_id, SUM(num_allocated) AS qty FROM order_line "
                "WHERE order_id = ANY(%s) AND NOT allocation_cancelled GROUP BY stockrecord_id) agg "
                "WHERE sr.id = agg.stockrecord_id", [chunk])
            cursor.execute("UPDATE order_line SET status = 'Cancelled', num_allocated = 0, "
                           "allocation_cancelled = true WHERE order_id = ANY(%s)", [chunk])
            cursor.execute("UPDATE order_order SET status = 'Cancelled' WHERE id = ANY(%s)", [chunk])


def throughput(staff, customer, records, counter_cls, naive_cancel) -> dict:
    """Orders/s and queries/order of the batch path, the naive loop and the SQL floor.

    The batch and the naive loop are interleaved: after each chunk of the batch
    (``run_batch``'s progress callback), a slice of the naive orders is
    cancelled, timed and counted apart. So a machine that gets busier or
    quieter during the run slows both alike, as in the engine benchmark.
    """
    from oscar_ordercancel.batches.preview import create_batch
    from oscar_ordercancel.batches.runner import run_batch, start_batch
    from oscar_ordercancel.conf import get_setting

    n_batch = max(int(10_000 * SCALE), 10)
    n_naive = max(int(1_000 * SCALE), 10)
    results = {}

    batch_orders = make_orders(customer, records, n_batch, 3, "B3")
    naive_orders = make_orders(customer, records, n_naive, 3, "NB")
    floor_orders = make_orders(customer, records, n_batch, 3, "F3")
    analyze()
    batch = create_batch(_csv("order_number", (o.number for o in batch_orders)), "bench.csv",
                         "orders", staff, reason="staff")
    assert batch.valid_rows == n_batch, batch.valid_rows
    start_batch(batch, enqueue=False)
    chunks = -(-n_batch // int(get_setting("OSCAR_ORDERCANCEL_BATCH_CHUNK_SIZE")))
    per_chunk = -(-n_naive // chunks)
    pending = list(naive_orders)
    naive = {"seconds": 0.0, "queries": 0, "orders": 0}

    def naive_slice(batch, done) -> None:
        """Between two chunks: the next naive orders, timed and counted on their own."""
        orders, pending[:per_chunk] = pending[:per_chunk], []
        inner = counter_cls()
        began = time.perf_counter()
        with connection.execute_wrapper(inner):
            for order in orders:
                naive_cancel(order)
        spent = time.perf_counter() - began
        naive["seconds"] += spent
        naive["queries"] += inner.count
        naive["orders"] += len(orders)
        excluded[0] += spent
        excluded[1] += inner.count

    excluded = [0.0, 0]
    counter = counter_cls()
    with connection.execute_wrapper(counter):
        began = time.perf_counter()
        batch = run_batch(batch.pk, on_progress=naive_slice)
        seconds = time.perf_counter() - began - excluded[0]
    assert batch.succeeded_rows == n_batch, (batch.succeeded_rows, batch.failed_rows)
    results["batch"] = (n_batch, seconds, counter.count - excluded[1])
    while pending:  # (when the scale leaves more naive orders than there were chunks)
        naive_slice(None, 0)
    results["naive"] = (naive["orders"], naive["seconds"], naive["queries"])

    counter = counter_cls()
    with connection.execute_wrapper(counter):
        began = time.perf_counter()
        sql_floor(floor_orders)
        seconds = time.perf_counter() - began
    results["sql floor"] = (n_batch, seconds, counter.count)
    return results


def report_throughput(results: dict, goal: float) -> bool:
    """Print the table and both ratios; return whether the batch path meets ``goal`` × naive."""
    print("\nCancel three-line orders: batch path vs naive loop vs set-based SQL floor")
    print(f"  {'':10} {'orders':>7} {'orders/s':>10} {'queries/order':>14}")
    rate = {}
    for name, (n, seconds, queries) in results.items():
        rate[name] = n / seconds
        print(f"  {name:10} {n:7d} {rate[name]:10.1f} {queries / n:14.2f}")
    speedup = rate["batch"] / rate["naive"]
    share = rate["batch"] / rate["sql floor"]
    print(f"  batch / naive: {speedup:.1f}x (goal >= {goal:g}x); batch / SQL floor: {share:.2f}")
    return speedup >= goal


def _rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def preview_100k(staff, customer, records) -> tuple[int, float, float]:
    """Preview a line-item CSV of 100,000 rows in a forked child: rows, seconds, peak MB growth."""
    from oscar_ordercancel.batches.preview import create_batch

    n_rows = max(int(100_000 * SCALE), 30)
    orders = make_orders(customer, records, (n_rows + 2) // 3, 3, "P3")
    skus = [record.partner_sku for record in records]
    rows = []
    for index, order in enumerate(orders):
        for j in range(3):
            if len(rows) < n_rows:
                rows.append(f"{order.number},{skus[(index + j) % len(skus)]},1")
    data = ("order_number,sku,quantity\n" + "\n".join(rows) + "\n").encode()
    del rows, orders
    analyze()
    connections.close_all()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh connection, its own peak memory
        os.close(read)
        start = _rss_kb()
        began = time.perf_counter()
        batch = create_batch(io.BytesIO(data), "preview.csv", "lines", staff)
        seconds = time.perf_counter() - began
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        os.write(write, f"{batch.total_rows} {batch.valid_rows} {seconds} {(peak - start) / 1024}".encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    total, valid, seconds, megabytes = os.read(read, 200).decode().split()
    assert int(valid) == int(total) == n_rows, (total, valid)
    return int(total), float(seconds), float(megabytes)
