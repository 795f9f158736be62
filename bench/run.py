"""``make bench``: the cancellation engine against the naive Oscar loop, on PostgreSQL.

Both run in one process on the same generated data (each order is used once);
the two are interleaved in chunks so that neither gets a warmer cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["ORDERCANCEL_STRICT"] = "1"  # numbers are only meaningful on PostgreSQL
# As in production: the customer e-mail is a Celery task queued on commit (Redis broker).
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from oscar.apps.order.processing import EventHandler as CoreEventHandler  # noqa: E402

from bench.data import make_catalogue, make_orders  # noqa: E402
from tests import factories  # noqa: E402


class QueryCounter:
    """Counts the SQL statements sent while installed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def naive_cancel(order) -> None:
    """What a shop does by hand today: a status change and Oscar's stock release.

    Oscar's own ``EventHandler``, not the shop's: the package's order fork sends a
    status change to "Cancelled" through the engine, which is not the naive way.
    """
    handler = CoreEventHandler()
    handler.handle_order_status_change(order, "Cancelled", note_msg="Cancelled")
    handler.cancel_stock_allocations(order)


def run_pair(staff, engine_orders, naive_orders, chunk: int = 50) -> dict:
    """Time both ways over their orders, interleaved; return seconds and queries per way."""
    from oscar_ordercancel.services import cancel_order

    ways = {
        "engine": (engine_orders, lambda o: cancel_order(o, user=staff, reason="staff")),
        "naive": (naive_orders, naive_cancel),
    }
    totals = {name: {"seconds": 0.0, "queries": 0, "orders": 0} for name in ways}
    for start in range(0, len(engine_orders), chunk):
        for name, (orders, fn) in ways.items():
            counter = QueryCounter()
            batch = orders[start:start + chunk]
            with connection.execute_wrapper(counter):
                began = time.perf_counter()
                for order in batch:
                    fn(order)
                totals[name]["seconds"] += time.perf_counter() - began
            totals[name]["queries"] += counter.count
            totals[name]["orders"] += len(batch)
    return totals


def report(title: str, totals: dict) -> float:
    """Print one side-by-side table and return the engine/naive time ratio."""
    print(f"\n{title}")
    print(f"  {'':8} {'orders/s':>10} {'ms/order':>10} {'queries/order':>14}")
    for name, t in totals.items():
        per = t["seconds"] / t["orders"]
        print(f"  {name:8} {1 / per:10.1f} {per * 1000:10.2f} {t['queries'] / t['orders']:14.1f}")
    ratio = (totals["engine"]["seconds"] / totals["engine"]["orders"]) / (
        totals["naive"]["seconds"] / totals["naive"]["orders"])
    print(f"  ratio engine/naive time per order: {ratio:.2f}")
    return ratio


def purge_queued_emails() -> None:
    """Drop the e-mail tasks the benchmark queued (no worker runs during it)."""
    from celery import current_app

    current_app.control.purge()


def main() -> int:
    """Build a throwaway database, run the benchmarks, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--goal", type=float, default=0.75)
    parser.add_argument("--goal-three", type=float, default=0.35,
                        help="engine at most this times the naive time on three-line orders")
    parser.add_argument("--goal-one", type=float, default=0.8,
                        help="engine at most this times the naive time on one-line orders")
    parser.add_argument("--max-queries", type=float, default=10,
                        help="engine at most this many queries per order (one- and three-line)")
    parser.add_argument("--jobs", type=int, default=5000, help="cancel jobs to drain")
    parser.add_argument("--batch-goal", type=float, default=25.0,
                        help="batch path at least this many times the naive loop's orders/s")
    parser.add_argument("--expiry-goal", type=float, default=25.0,
                        help="expiry sweep at least this many times the naive loop's orders/s")
    parser.add_argument("--only", choices=("engine", "delivery", "batches", "preview", "report",
                                           "expiry"),
                        default=None,
                        help="run one part only (default: all)")
    args = parser.parse_args()
    settings.DATABASES["default"]["TEST"]["NAME"] = f"bench_ordercancel_{os.getpid()}"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # As in production (and as Django's test runner does): no per-query debug log.
    settings.DEBUG = False
    # As the deployment docs recommend: workers keep their database connection.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    engine, delivery = None, None
    try:
        staff = factories.create_user("bench-staff@example.com", is_staff=True,
                                      perms=["oscar_ordercancel.cancel_order"])
        customer = factories.create_user("bench-customer@example.com")
        records = make_catalogue()
        print(f"PostgreSQL {connection.pg_version}, {os.cpu_count()} cores; "
              f"engine = services.cancel_order (lock, policy, record, signals, e-mail queued); "
              f"naive = EventHandler.handle_order_status_change + cancel_stock_allocations")
        n = args.orders
        engine, batch_ok, processors_ok, preview_ok, report_ok = None, True, True, True, True
        expiry_ok = True
        if args.only in (None, "engine"):
            engine = run_engine(staff, customer, records, n)
        if args.only in (None, "delivery"):
            from bench import delivery as delivery_bench

            [order] = make_orders(customer, records, 1, 1, "D1")
            delivery = delivery_bench.run(order, jobs=args.jobs)
        if args.only in (None, "batches", "preview"):
            from bench import batches

            if args.only != "preview":
                batch_ok = batches.report_throughput(
                    batches.throughput(staff, customer, records, QueryCounter, naive_cancel),
                    args.batch_goal)
                processors_ok = batches.report_processors(
                    batches.with_processors(staff, customer, records, QueryCounter))
            rows, seconds, megabytes, floor = batches.preview_100k(staff, customer, records)
            preview_ok = seconds <= 3 * floor and megabytes < 150
            print(f"\nPreview of a {rows:,}-row line-item CSV: {seconds:.1f} s, {seconds / floor:.1f}x "
                  f"the floor of {floor:.2f} s (csv module, one query for its orders and lines, one COPY "
                  f"of its rows; goal <= 3x), peak memory growth {megabytes:.0f} MB (goal < 150 MB)")
        if args.only in (None, "report"):
            from bench import report as report_bench

            report_ok = report_bench.run(staff, customer, records, QueryCounter)["ok"]
        if args.only in (None, "expiry"):
            from bench import expiry as expiry_bench

            expiry_ok = expiry_bench.run(customer, records, QueryCounter, naive_cancel,
                                         goal=args.expiry_goal)["ok"]
    finally:
        # Worker threads keep their connections (CELERY_DB_REUSE_MAX): end them first.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        connection.creation.destroy_test_db(old_name, verbosity=0)
        purge_queued_emails()
    engine_ok = True
    if engine is not None:
        print()
        engine_ok = engine_verdict(engine, args)
    ok = (engine_ok and batch_ok and processors_ok and preview_ok and report_ok and expiry_ok
          and (delivery is None or delivery["ok"]))
    if args.only in (None, "batches"):
        print(f"Goal: batch path >= {args.batch_goal:g}x the naive loop: {'OK' if batch_ok else 'MISSED'}; "
              f"with a webhook >= 0.8x the speed and <= +0.1 queries/order of none: "
              f"{'OK' if processors_ok else 'MISSED'}; "
              f"preview <= 3x its floor and under 150 MB: {'OK' if preview_ok else 'MISSED'}")
    return 0 if ok else 1


def run_engine(staff, customer, records, n: int) -> dict:
    """The single-order engine against the naive loop, on three-line and one-line orders.

    Returns ``{"three": (ratio, queries/order), "one": (ratio, queries/order)}`` of the
    first two tables (the goals); the others show the e-mail sent inline and query growth.
    """
    # First use in this process (the staff user's permission cache, Celery's connection to
    # its broker) is not what an order costs: warm both ways up on a few orders.
    run_pair(staff, make_orders(customer, records, 5, 3, "EW"), make_orders(customer, records, 5, 3, "NW"))
    figures = {}
    for key, n_lines, words in (("three", 3, "three-line"), ("one", 1, "one-line")):
        totals = run_pair(staff, make_orders(customer, records, n, n_lines, f"E{n_lines}"),
                          make_orders(customer, records, n, n_lines, f"N{n_lines}"))
        figures[key] = (report(f"{n} {words} orders, one by one", totals),
                        totals["engine"]["queries"] / totals["engine"]["orders"])
    from celery import current_app

    current_app.conf.task_always_eager = True
    report(
        f"{n // 5} three-line orders, e-mail rendered and sent inline (eager Celery)",
        run_pair(staff, make_orders(customer, records, n // 5, 3, "EI"),
                 make_orders(customer, records, n // 5, 3, "NI")),
    )
    current_app.conf.task_always_eager = False
    report(
        f"{n // 10} 10-line orders (query growth with lines)",
        run_pair(staff, make_orders(customer, records, n // 10, 10, "E10"),
                 make_orders(customer, records, n // 10, 10, "N10")),
    )
    return figures


def engine_verdict(figures: dict, args) -> bool:
    """Print the engine's goals with their figures; return whether all are met."""
    ok = True
    for key, words, goal in (("three", "three-line", args.goal_three),
                             ("one", "one-line", args.goal_one)):
        ratio, queries = figures[key]
        met = ratio <= goal and queries <= args.max_queries
        ok = ok and met
        print(f"Goal: engine on {words} orders at most {goal:.2f}x the naive time and at most "
              f"{args.max_queries:g} queries/order: {'OK' if met else 'MISSED'} "
              f"({ratio:.2f}x, {queries:.2f} queries/order)")
    three = figures["three"][0]
    print(f"Goal: engine at most {args.goal:.2f}x the naive time per order (three-line): "
          f"{'OK' if three <= args.goal else 'ABOVE GOAL'} ({three:.2f})")
    return ok and three <= args.goal


if __name__ == "__main__":
    sys.exit(main())
