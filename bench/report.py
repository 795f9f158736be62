"""The cancellation report on 100,000 cancellations: the page and its CSV, time and queries.

The data is bulk-loaded (not made through the engine, which ``bench.run``'s other parts
measure): orders and lines as ``bench.data.make_orders`` makes them, then one completed
cancellation per order for two orders in three, spread over the last 30 days, with its
cancelled line and a cancel job. The page is rendered through Django's test ``Client`` as a
staff user, as a browser would get it. Goal: under one second on PostgreSQL, in a number
of queries that does not grow with the data. ``ORDERCANCEL_BENCH_SCALE`` scales the size.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from decimal import Decimal
from itertools import cycle

from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from bench.data import make_orders

SCALE = float(os.environ.get("ORDERCANCEL_BENCH_SCALE", "1"))
CANCELLATIONS = int(100_000 * SCALE)
GOAL_SECONDS = 1.0
REASONS = ("customer", "inventory", "fraud", "declined", "staff", "other", "unpaid", "withdrawal")
CHANNELS = ("customer", "dashboard", "batch", "api", "admin_api", "cli", "withdrawal", "expiry")
JOB_STATES = ("succeeded", "succeeded", "succeeded", "failed", "pending", "rejected")
CHUNK = 5000


def make_cancellations(staff, customer, records, n: int) -> None:
    """``n`` completed cancellations (2 of 3 of the orders made) over the last 30 days, bulk-loaded."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")
    CancelJob = get_model("oscar_ordercancel", "CancelJob")
    Line = get_model("order", "Line")
    now = timezone.now()
    orders = make_orders(customer, records, n * 3 // 2, 1, "R")
    with connection.cursor() as cursor:  # orders placed over the last 30 days
        cursor.execute("UPDATE order_order SET date_placed = %s - (id %% 30) * interval '1 day' "
                       "- (id %% 23) * interval '1 hour' WHERE number LIKE 'R%%'", [now])
    line_of = dict(Line.objects.filter(order__number__startswith="R").values_list("order_id", "pk"))
    reasons, channels, states = cycle(REASONS), cycle(CHANNELS), cycle(JOB_STATES)
    cancelled = [order for index, order in enumerate(orders) if index % 3 != 2][:n]
    for start in range(0, len(cancelled), CHUNK):
        chunk = cancelled[start:start + CHUNK]
        made = OrderCancellation.objects.bulk_create([
            OrderCancellation(
                order=order, is_full=index % 4 != 0, state="completed", reason=next(reasons),
                channel=next(channels), user=staff, refund_amount=Decimal("10.00") if index % 2 else 0,
                date_created=now, date_completed=now - timedelta(
                    days=(start + index) % 29, hours=(start + index) % 19, minutes=(start + index) % 60))
            for index, order in enumerate(chunk)])
        OrderCancellationLine.objects.bulk_create([
            OrderCancellationLine(cancellation=cancellation, line_id=line_of[cancellation.order_id],
                                  quantity=1, stock_released=1) for cancellation in made])
        CancelJob.objects.bulk_create([
            CancelJob(cancellation=cancellation, processor="erp", state=next(states),
                      idempotency_key=f"bench-report-{cancellation.pk}", payload={})
            for cancellation in made])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after a load


def timed(client: Client, url: str, params: dict, counter_cls, runs: int = 5) -> tuple[float, int, int]:
    """The best of ``runs`` requests (seconds, whole body read), its queries and the status."""
    best, queries, status = float("inf"), 0, 0
    for __ in range(runs):
        counter = counter_cls()
        with connection.execute_wrapper(counter):
            began = time.perf_counter()
            response = client.get(url, params)
            if response.streaming:
                b"".join(response.streaming_content)
            else:
                response.content  # noqa: B018 - the page is rendered by now; read it as a client would
            seconds = time.perf_counter() - began
        if seconds < best:
            best, queries, status = seconds, counter.count, response.status_code
    return best, queries, status


def run(staff, customer, records, counter_cls) -> dict:
    """Load the data, render the report page and its CSV, print the figures; ``ok`` if under 1 s."""
    began = time.perf_counter()
    make_cancellations(staff, customer, records, CANCELLATIONS)
    print(f"\nCancellation report: {CANCELLATIONS:,} cancellations loaded in "
          f"{time.perf_counter() - began:.0f} s")
    client = Client()
    client.force_login(staff)
    url = reverse("ordercancel_dashboard:ordercancel-cancellation-report")
    client.get(url)  # first use: templates compiled, permissions cached
    page, page_queries, page_status = timed(client, url, {}, counter_cls)
    csv_s, csv_queries, csv_status = timed(client, url, {"format": "csv"}, counter_cls)
    year, year_queries, __ = timed(client, url, {"date_from": (timezone.localdate() - timedelta(
        days=364)).isoformat()}, counter_cls, runs=3)
    ok = page_status == 200 and csv_status == 200 and page < GOAL_SECONDS and csv_s < GOAL_SECONDS
    print(f"  report page, last 30 days: {page * 1000:.0f} ms, {page_queries} queries (HTTP {page_status})")
    print(f"  CSV, last 30 days:         {csv_s * 1000:.0f} ms, {csv_queries} queries (HTTP {csv_status})")
    print(f"  report page, last 365 days: {year * 1000:.0f} ms, {year_queries} queries")
    print(f"Goal: report page and CSV under {GOAL_SECONDS:g} s with {CANCELLATIONS:,} cancellations: "
          f"{'OK' if ok else 'MISSED'}")
    return {"ok": ok, "page_seconds": page, "page_queries": page_queries, "csv_seconds": csv_s,
            "csv_queries": csv_queries}
