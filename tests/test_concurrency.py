"""Row locks on PostgreSQL: many simultaneous cancels of one order give exactly one."""

import threading

import pytest
from django.db import connection

from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.models import OrderCancellation, OrderCancellationLine
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(workers, target):
    barrier = threading.Barrier(len(workers))
    results, errors = [], []

    def run(arg):
        try:
            barrier.wait()
            results.append(target(arg))
        except CancellationError as exc:
            errors.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_twenty_threads_cancelling_one_order_give_one_cancellation():
    customer = factories.create_user("race@example.com")
    staff = factories.create_user("racer@example.com", is_staff=True,
                                  perms=["oscar_ordercancel.cancel_order"])
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 3)])
    records = [line.stockrecord for line in order.lines.all()]
    assert [r.num_allocated for r in records] == [2, 3]

    results, errors = _race(range(20), lambda i: cancel_order(order, user=staff,
                                                             notify_customer=False))

    assert len(results) == 1
    assert len(errors) == 19 and set(errors) == {"already_cancelled"}
    assert OrderCancellation.objects.filter(order=order).count() == 1
    assert order.notes.count() == 1
    released = sorted(OrderCancellationLine.objects.values_list("stock_released", flat=True))
    assert released == [2, 3]
    for record in records:
        record.refresh_from_db()
        assert record.num_allocated == 0
        assert record.num_in_stock == 20


def test_concurrent_partial_cancels_never_exceed_the_line_quantity():
    customer = factories.create_user("race2@example.com")
    staff = factories.create_user("racer2@example.com", is_staff=True,
                                  perms=["oscar_ordercancel.cancel_order"])
    order = factories.place_order(customer, [("10.00", 5), ("1.00", 1)])
    line = order.lines.order_by("pk").first()

    results, errors = _race(range(10), lambda i: cancel_order(
        order, user=staff, lines={line.pk: 1}, notify_customer=False))

    assert len(results) == 5
    assert set(errors) == {"quantity_not_cancellable"}
    line.refresh_from_db()
    assert line.status == "Cancelled" and line.stockrecord.num_allocated == 0
