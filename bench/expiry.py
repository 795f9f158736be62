"""Expiry benchmark (issue 17): the sweep over 10,000 expired three-line orders, without and
with a webhook processor, beside the naive loop a shop would write, in the same run.

The naive loop is a cron script: for each unpaid order placed too long ago, ask
``is_paid`` and change its status with Oscar's ``EventHandler`` and release its stock.
Beside them lie 100,000 completed orders (a shop's history), so that the selection is as
selective as in a shop. The naive loop runs first on its own orders (young ones, which
the sweep does not select), then the
sweep cancels its orders; the webhook run repeats the sweep on as many new orders with a
webhook processor configured (its jobs are written, not delivered: delivery is
benchmarked apart). ``EXPLAIN`` of the selection shows the index it uses.
Scaled with ``ORDERCANCEL_BENCH_SCALE`` as the other benchmarks.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone
from oscar.core.loading import get_model

from bench.data import make_orders

SCALE = float(os.environ.get("ORDERCANCEL_BENCH_SCALE", "1"))
Order = get_model("order", "Order")


def _backdate(orders, hours: int) -> None:
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        date_placed=timezone.now() - timedelta(hours=hours))


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _sweep(counter_cls, n: int) -> tuple[float, int, int]:
    from oscar_ordercancel.expiry import sweep

    counter = counter_cls()
    with connection.execute_wrapper(counter):
        began = time.perf_counter()
        result = sweep()
        seconds = time.perf_counter() - began
    assert len(result.expired) == n and not result.failed, (len(result.expired), result.failed[:3])
    return seconds, counter.count, len(result.expired)


def run(customer, records, counter_cls, naive_cancel, *, goal: float = 25.0) -> dict:
    """Time the naive loop, the sweep, and the sweep with a webhook; print the figures."""
    from oscar_ordercancel.expiry import due_orders
    from oscar_ordercancel.models import CancelJob
    from oscar_ordercancel.payment import is_paid
    from tests.erp import FakeERP

    n = max(int(10_000 * SCALE), 10)
    n_naive = max(int(1_000 * SCALE), 10)
    n_history = max(int(100_000 * SCALE), 10)
    lifetime = timedelta(hours=24)
    with override_settings(OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER=lifetime,
                           OSCAR_ORDERCANCEL_PROCESSORS=[]):
        # A shop's history: most orders are old and done, a few wait for payment. The orders
        # the other benchmarks left pending join it (else they would be due too).
        leftovers = Order.objects.filter(status="Pending").update(status="Complete")
        history = make_orders(customer, records, n_history, 1, "HE")
        Order.objects.filter(pk__in=[o.pk for o in history]).update(
            status="Complete", date_placed=timezone.now() - timedelta(days=30))
        naive_orders = make_orders(customer, records, n_naive, 3, "NE")
        _backdate(naive_orders, 2)  # young: the sweep leaves them to the naive loop
        swept = make_orders(customer, records, n, 3, "SE")
        _backdate(swept, 48)
        _analyze()
        cutoff = timezone.now() - timedelta(hours=1)
        counter = counter_cls()
        with connection.execute_wrapper(counter):
            began = time.perf_counter()
            for order in Order.objects.filter(pk__in=[o.pk for o in naive_orders], status="Pending",
                                              date_placed__lt=cutoff).order_by("pk"):
                if not is_paid(order):
                    naive_cancel(order)
            naive_seconds = time.perf_counter() - began
        naive_queries = counter.count
        assert Order.objects.filter(pk__in=[o.pk for o in naive_orders], status="Cancelled").count() \
            == n_naive
        with transaction.atomic():  # the sweep's chunk query, as it runs
            plan = due_orders().select_for_update(skip_locked=True, of=("self",)).values_list(
                "pk", flat=True)[:200].explain()
        seconds, queries, expired = _sweep(counter_cls, n)

        webhook_orders = make_orders(customer, records, n, 3, "WE")
        _backdate(webhook_orders, 48)
        _analyze()
        with FakeERP() as erp, override_settings(
                OSCAR_ORDERCANCEL_PROCESSORS=[erp.processor_entry(name="erp")]):
            w_seconds, w_queries, w_expired = _sweep(counter_cls, n)
        jobs = CancelJob.objects.filter(cancellation__order__number__startswith="WE").count()
        assert jobs == n, jobs

    rate = {"naive": n_naive / naive_seconds, "sweep": expired / seconds,
            "webhook": w_expired / w_seconds}
    print("\nExpire unpaid three-line orders: the sweep (expire_unpaid_orders) vs the naive loop")
    print(f"  {'':16} {'orders':>7} {'orders/s':>10} {'queries/order':>14}")
    for name, count, spent_queries in (("naive loop", n_naive, naive_queries),
                                       ("sweep", expired, queries),
                                       ("sweep + webhook", w_expired, w_queries)):
        key = {"naive loop": "naive", "sweep": "sweep", "sweep + webhook": "webhook"}[name]
        print(f"  {name:16} {count:7d} {rate[key]:10.1f} {spent_queries / count:14.2f}")
    print(f"  ({jobs:,} webhook jobs written, delivered apart)")
    uses_index = "ordercancel_order_expiry" in plan
    print(f"  EXPLAIN of the sweep's chunk query (due orders, FOR UPDATE SKIP LOCKED, LIMIT 200; "
          f"{n_history + leftovers:,} completed orders beside them):")
    for line in plan.splitlines():
        print(f"    {line}")
    speedup, w_speedup = rate["sweep"] / rate["naive"], rate["webhook"] / rate["naive"]
    ok = speedup >= goal and w_speedup >= goal and uses_index
    print(f"  sweep / naive: {speedup:.1f}x, with a webhook: {w_speedup:.1f}x (goal >= {goal:g}x); "
          f"selection uses the index ordercancel_order_expiry: {'yes' if uses_index else 'NO'}: "
          f"{'OK' if ok else 'MISSED'}")
    return {"ok": ok, "speedup": speedup, "webhook_speedup": w_speedup,
            "queries_per_order": queries / expired, "webhook_queries_per_order": w_queries / w_expired}
