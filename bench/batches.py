"""Batch benchmarks: the batch engine against the naive loop and a set-based SQL floor, the batch
with a webhook processor against the same batch without, and the preview against a floor.

Sizes follow issues 9 and 14 (10,000 three-line orders; a 100,000-row preview) and
can be scaled with ``ORDERCANCEL_BENCH_SCALE`` (e.g. ``0.1``) on a slow machine.
"""

from __future__ import annotations

import cProfile
import csv
import io
import json
import os
import resource
import time
import traceback
from contextlib import contextmanager

from django.db import connection, connections, transaction
from django.test.utils import override_settings
from oscar.core.loading import get_model

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


@contextmanager
def counted_wake_ups(counter: list):
    """Count the outbox's wake-ups (``deliver_cancel_jobs`` publishes) and the job ids in them."""
    from oscar_ordercancel import queue

    send_task = queue.send_task

    def counting(name, args=(), kwargs=None, **options):
        if name == queue.DELIVER_CANCEL_JOBS:
            counter[0] += 1
            counter[1] += len(args[0])
        return send_task(name, args, kwargs, **options)

    queue.send_task = counting
    try:
        yield
    finally:
        queue.send_task = send_task


def with_processors(staff, customer, records, counter_cls) -> dict:
    """The batch path with a webhook processor configured against the same batch without any.

    The webhook points at a real HTTP server on 127.0.0.1 (``tests.erp.FakeERP``,
    which verifies the signatures). No worker runs while the batches are timed:
    the wake-ups are published to the broker (as in production, one per
    ``OSCAR_ORDERCANCEL_DISPATCH_BATCH`` jobs of a chunk) and purged at the end;
    delivery is not timed. The two batches are interleaved chunk by chunk: after
    each chunk of the batch with the processor (``run_batch``'s progress
    callback) a chunk of the batch without runs, timed and counted apart.
    Afterwards a sample of the jobs is delivered to the server, untimed, to show
    that what was written is what the receiver accepts.
    """
    from oscar_ordercancel.batches.preview import create_batch
    from oscar_ordercancel.batches.runner import run_batch, run_chunk, start_batch
    from oscar_ordercancel.conf import get_setting
    from oscar_ordercancel.jobs import delivery
    from oscar_ordercancel.models import CancelJob, CancellationBatch
    from tests.erp import FakeERP

    n = max(int(10_000 * SCALE), 10)
    size = int(get_setting("OSCAR_ORDERCANCEL_BATCH_CHUNK_SIZE"))
    webhook_orders = make_orders(customer, records, n, 3, "W3")
    plain_orders = make_orders(customer, records, n, 3, "X3")
    analyze()
    batches = {}
    for name, orders in (("webhook", webhook_orders), ("none", plain_orders)):
        batch = create_batch(_csv("order_number", (o.number for o in orders)), f"{name}.csv",
                             "orders", staff, reason="staff")
        assert batch.valid_rows == n, batch.valid_rows
        batches[name] = start_batch(batch, enqueue=False)
    # The batch without processors is run chunk by chunk from the other's progress callback:
    # mark it running as run_batch's claim does.
    CancellationBatch.objects.filter(pk=batches["none"].pk).update(state=CancellationBatch.State.RUNNING)
    plain = {"seconds": 0.0, "queries": 0}
    excluded = [0.0, 0]
    wake_ups = [0, 0]

    def plain_chunk(batch, done) -> None:
        inner = counter_cls()
        with override_settings(OSCAR_ORDERCANCEL_PROCESSORS=[]), connection.execute_wrapper(inner):
            began = time.perf_counter()
            run_chunk(batches["none"].pk, staff, size)
            spent = time.perf_counter() - began
        plain["seconds"] += spent
        plain["queries"] += inner.count
        excluded[0] += spent
        excluded[1] += inner.count

    with FakeERP() as erp:
        entry = erp.processor_entry(name="erp")
        with override_settings(OSCAR_ORDERCANCEL_PROCESSORS=[entry]):
            counter = counter_cls()
            with counted_wake_ups(wake_ups), connection.execute_wrapper(counter):
                began = time.perf_counter()
                done = run_batch(batches["webhook"].pk, on_progress=plain_chunk)
                seconds = time.perf_counter() - began - excluded[0]
            assert done.succeeded_rows == n, (done.succeeded_rows, done.failed_rows)
            while run_chunk(batches["none"].pk, staff, size)[1]:  # (none left, normally)
                pass
            # Only this batch's jobs: the delivery benchmark before it left jobs of its own.
            job_ids = list(CancelJob.objects.filter(cancellation__batch_id=batches["webhook"].pk)
                           .order_by("pk").values_list("pk", flat=True))
            jobs = len(job_ids)
            assert jobs == n, jobs
            sample = min(100, n)
            outcomes = delivery.deliver(job_ids[:sample])  # untimed: the receiver accepts them
        delivered = sum(1 for o in outcomes if o.outcome == "succeeded")
        accepted, bad = sum(erp.accepted.values()), erp.bad_signatures
    none = CancellationBatch.objects.get(pk=batches["none"].pk)
    assert none.succeeded_rows == n, (none.succeeded_rows, none.failed_rows)
    return {
        "webhook": (n, seconds, counter.count - excluded[1]),
        "none": (n, plain["seconds"], plain["queries"]),
        "jobs": jobs, "wake_ups": wake_ups[0], "woken": wake_ups[1],
        "delivered": (sample, delivered, accepted, bad),
    }


def report_processors(results: dict, speed_goal: float = 0.8, query_goal: float = 0.1) -> bool:
    """Print the table and the verdict; return whether both goals are met."""
    print("\nCancel three-line orders in a batch: a webhook processor configured vs none")
    print(f"  {'':10} {'orders':>7} {'orders/s':>10} {'queries/order':>14}")
    rate, per = {}, {}
    for name in ("webhook", "none"):
        n, seconds, queries = results[name]
        rate[name], per[name] = n / seconds, queries / n
        print(f"  {name:10} {n:7d} {rate[name]:10.1f} {per[name]:14.3f}")
    speed = rate["webhook"] / rate["none"]
    extra = per["webhook"] - per["none"]
    sample, delivered, accepted, bad = results["delivered"]
    print(f"  {results['jobs']:,} jobs written, {results['wake_ups']} wake-ups for "
          f"{results['woken']:,} jobs; {delivered}/{sample} sampled jobs delivered to the webhook "
          f"on 127.0.0.1 ({accepted} accepted, {bad} bad signatures), untimed")
    ok = speed >= speed_goal and extra <= query_goal
    print(f"  webhook / none speed: {speed:.2f}x (goal >= {speed_goal:g}x); extra queries/order: "
          f"{extra:+.3f} (goal <= +{query_goal:g}): {'OK' if ok else 'MISSED'}")
    return ok


def _rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def preview_floor(data: bytes, staff) -> tuple[int, int]:
    """What any preview must at least do, written plainly: read the file with ``csv``, fetch all
    its orders and their lines with one set-based query, and store a row per file row (its
    cells, order and quantity) with one ``COPY``, committed. Returns the lines fetched and the
    batch made (for the caller to delete, untimed)."""
    from oscar_ordercancel.db.bulk import copy_from

    CancellationBatch = get_model("oscar_ordercancel", "CancellationBatch")
    CancellationBatchRow = get_model("oscar_ordercancel", "CancellationBatchRow")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.id, o.number, o.status, o.user_id, o.site_id, o.total_incl_tax, l.id, "
            "l.partner_sku, l.upc, l.quantity, l.status, l.num_allocated, l.stockrecord_id "
            "FROM order_order AS o JOIN order_line AS l ON l.order_id = o.id "
            "WHERE o.number = ANY(%s)", [list({row["order_number"] for row in rows})])
        found = cursor.fetchall()
    order_ids = {number: str(pk) for pk, number, *__ in found}
    null = "\\N"
    with transaction.atomic():
        batch = CancellationBatch.objects.create(user=staff, file_name="floor.csv", kind="lines")
        text = "".join(
            f"{batch.pk}\t{number}\t{json.dumps(row)}\t{row['order_number']}\t"
            f"{order_ids.get(row['order_number'], null)}\t{row['sku']}\t{row['quantity']}\t{{}}\t"
            "will_cancel\t\t\tpending\t\t\n"
            for number, row in enumerate(rows, start=2))
        copy_from(connection, CancellationBatchRow._meta.db_table,
                  ["batch_id", "row_number", "raw", "order_number", "order_id", "sku", "quantity",
                   "options", "preview_status", "preview_code", "preview_message", "status", "code",
                   "message"], text)
    return len(found), batch.pk


def _in_child(work) -> list[str]:
    """Run ``work()`` in a forked child with a fresh connection; return the words it wrote."""
    connections.close_all()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.write(write, " ".join(str(word) for word in work()).encode())
        except BaseException:  # noqa: BLE001 - say what went wrong; the parent then fails
            traceback.print_exc()
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    words = os.read(read, 400).decode().split()
    os.close(read)
    return words


def preview_100k(staff, customer, records) -> tuple[int, float, float, float]:
    """Preview a line-item CSV of 100,000 rows in a forked child: rows, seconds, peak MB growth,
    and the floor's seconds (:func:`preview_floor`, measured before and after, in children too)."""
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

    def floor():
        began = time.perf_counter()
        lines, batch = preview_floor(data, staff)
        seconds = time.perf_counter() - began
        get_model("oscar_ordercancel", "CancellationBatch").objects.filter(pk=batch).delete()
        return [lines, seconds]

    def preview():  # the child: a fresh connection, its own peak memory
        start = _rss_kb()
        profile = os.environ.get("ORDERCANCEL_BENCH_PROFILE")  # a file for cProfile's figures
        profiler = cProfile.Profile() if profile else None
        began = time.perf_counter()
        if profiler:
            profiler.enable()
        batch = create_batch(io.BytesIO(data), "preview.csv", "lines", staff)
        seconds = time.perf_counter() - began
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return [batch.total_rows, batch.valid_rows, seconds, (peak - start) / 1024]

    floors = []
    lines, seconds = _in_child(floor)
    floors.append(float(seconds))
    total, valid, seconds, megabytes = _in_child(preview)
    lines, floor_seconds = _in_child(floor)
    floors.append(float(floor_seconds))
    assert int(valid) == int(total) == n_rows, (total, valid)
    assert int(lines) >= n_rows, lines
    return int(total), float(seconds), float(megabytes), sum(floors) / len(floors)
