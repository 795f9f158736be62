"""The engine's shared steps: one request shape, the same records from the single and the batch
path, Oscar's own status cascade, no attributes left on Oscar's objects, few queries."""

import inspect
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from oscar.apps.order.signals import order_line_status_changed, order_status_changed
from oscar.core.loading import get_class, get_model

from oscar_ordercancel import services
from oscar_ordercancel.engine import steps
from oscar_ordercancel.engine.batch import CancelRequest as BatchCancelRequest
from oscar_ordercancel.services import CancelRequest, cancel_many, cancel_order
from tests import factories

pytestmark = pytest.mark.django_db
StockAlert = get_model("partner", "StockAlert")
StockRecord = get_model("partner", "StockRecord")
Source = get_model("payment", "Source")


def lines_of(order):
    return list(order.lines.select_related("stockrecord").order_by("pk"))


def written(order):
    """Everything a cancellation writes for ``order``, without ids that differ between orders."""
    order.refresh_from_db()
    lines = lines_of(order)
    index = {line.pk: i for i, line in enumerate(lines)}
    cancellation = order.cancellations.get()
    return {
        "status": order.status,
        "lines": [(line.status, line.num_allocated, line.allocation_cancelled) for line in lines],
        "stock": [line.stockrecord.num_allocated for line in lines],
        "record": {field: getattr(cancellation, field) for field in (
            "is_full", "state", "reason", "note", "comment", "user_id", "on_behalf_of_id",
            "channel", "forced", "refund_requested", "notify_customer", "refund_amount",
            "void_amount", "previous_status", "batch_id")},
        "record_lines": sorted((index[r.line_id], r.quantity, r.stock_released)
                               for r in cancellation.lines.all()),
        "notes": [(n.message, n.note_type, n.user_id) for n in order.notes.order_by("pk")],
        "changes": [(c.old_status, c.new_status) for c in order.status_changes.order_by("pk")],
        "sources": list(Source.objects.filter(order=order).values_list(
            "amount_allocated", "amount_debited", "amount_refunded")),
        "payment_events": [(e.event_type.name, e.amount) for e in order.payment_events.all()],
    }


def test_cancel_order_keeps_its_signature_and_shares_the_batch_request_shape():
    assert list(inspect.signature(cancel_order).parameters) == [
        "order", "user", "lines", "reason", "note", "comment", "force", "refund", "channel",
        "on_behalf_of", "notify_customer", "batch"]
    assert CancelRequest is BatchCancelRequest is steps.CancelRequest
    request_fields = set(inspect.signature(CancelRequest).parameters)
    assert set(inspect.signature(cancel_order).parameters) - {"order"} <= request_fields
    with pytest.raises(TypeError):
        CancelRequest(1)  # keyword fields only


@pytest.mark.parametrize("partial", [False, True], ids=["whole order", "some lines"])
def test_a_single_cancel_and_a_batch_of_one_write_the_same_records(customer, staff, partial):
    single, batched = (factories.place_order(customer, [("10.00", 2), ("5.00", 1)]) for __ in "ab")
    for order in (single, batched):
        factories.pay(order)

    def request(order):
        return {"user": staff, "reason": "inventory", "note": "Supplier out",
                "comment": "Call me", "force": True, "channel": "dashboard",
                "on_behalf_of": customer, "notify_customer": False,
                "lines": {lines_of(order)[0]: 1} if partial else None}

    cancel_order(single, **request(single))
    [outcome] = cancel_many([CancelRequest(order_id=batched.pk, **request(batched))])

    assert outcome.ok, outcome.error
    expected = written(single)
    assert expected["record"]["comment"] == "Call me" and expected["record"]["on_behalf_of_id"]
    assert expected["record"]["void_amount"] > 0
    assert written(batched) == expected


@pytest.mark.parametrize("status", ["Being processed", "Cancelled"])
def test_the_engine_moves_orders_as_oscars_set_status_does(customer, status):
    """Oscar's own cascade (``order.cascade``, ``line.available_statuses()``), written in bulk for
    many orders at once: the same statuses, status changes and signals as ``Order.set_status``
    on the same orders."""
    orders = [factories.place_order(customer, [("10.00", 1), ("5.00", 1), ("1.00", 1)])
              for __ in range(2)]
    for order in orders:  # a line on its way and a shipped one: the cascade passes them by
        first, second, __ = lines_of(order)
        first.set_status("Being processed")
        second.set_status("Being processed")
        second.set_status("Shipped")
    sent = []

    def receiver(sender, order, old_status, new_status, **kwargs):
        sent.append((order.pk, old_status, new_status))

    def moved():
        for order in orders:
            order.refresh_from_db()
        return [(order.status, [line.status for line in lines_of(order)],
                 [(c.old_status, c.new_status) for c in order.status_changes.all()])
                for order in orders], sent[:]

    assert steps.writes_in_bulk(steps.event_handler(None))
    order_status_changed.connect(receiver)
    try:
        with transaction.atomic():
            for order in orders:
                order.set_status(status)
            by_oscar = moved()
            transaction.set_rollback(True)
        sent.clear()
        before = moved()
        steps.move_orders([
            steps.StatusMove(order=orders[0], status=status, note="", lines=lines_of(orders[0])),
            steps.StatusMove(order=orders[1], status=status, note=""),  # lines read when needed
        ])
        by_engine = moved()
    finally:
        order_status_changed.disconnect(receiver)

    assert by_oscar[0][0][1] != before[0][0][1]  # something cascaded
    assert by_engine == by_oscar


def test_the_engine_says_when_it_moves_a_status_itself(order, staff, monkeypatch):
    """A shop's own EventHandler is called for the change; the order fork lets it through."""
    EventHandler = get_class("order.processing", "EventHandler")
    original = EventHandler.handle_order_status_change
    seen = []

    def shops_own(self, order, new_status, note_msg=None):
        seen.append((new_status, services.is_applying(order)))
        return original(self, order, new_status, note_msg)

    monkeypatch.setattr(EventHandler, "handle_order_status_change", shops_own)
    assert not services.is_applying(order)
    cancellation = cancel_order(order, user=staff)

    assert seen == [("Cancelled", True)]
    assert not services.is_applying(order)
    assert order.cancellations.count() == 1 and cancellation.order.status == "Cancelled"
    assert not [name for name in vars(cancellation.order) if name.startswith("_ordercancel")]


def test_the_engine_leaves_no_attributes_on_oscars_objects(order, staff):
    changed_lines = []

    def receiver(sender, line, **kwargs):
        changed_lines.append(line)

    order_line_status_changed.connect(receiver)
    try:
        cancellation = cancel_order(order, user=staff)
    finally:
        order_line_status_changed.disconnect(receiver)

    locked = cancellation.order
    assert len(changed_lines) == 2
    for obj in (locked, *changed_lines):
        assert not [name for name in vars(obj) if name.startswith("_ordercancel")], obj
    assert "lines" not in getattr(locked, "_prefetched_objects_cache", {})


@pytest.mark.parametrize("n_lines", [1, 3])
def test_a_cancellation_costs_a_fixed_small_number_of_queries(
        customer, staff, n_lines, django_assert_max_num_queries):
    """Lock the order; lock its lines with their facts (settings and payment sources included);
    record; stock; lines; order status; status change; note; record lines. (Whether the order
    used a voucher or an offer is among the facts: without any, giving them back costs nothing.)
    On PostgreSQL the stock records are locked, written and read back in one statement
    (elsewhere three)."""
    cancel_order(factories.place_order(customer), user=staff)  # the user's permissions, cached
    order = factories.place_order(customer, [("1.00", 1)] * n_lines)
    engine = 9 if connection.vendor == "postgresql" else 11
    with django_assert_max_num_queries(engine + 2):  # + the test transaction's savepoint, released
        cancel_order(order, user=staff)
    order.refresh_from_db()
    assert order.status == "Cancelled"


def test_stock_of_several_records_is_released_at_once_with_oscars_low_stock_alerts(customer, staff):
    order = factories.place_order(customer, [("10.00", 3), ("5.00", 1), ("1.00", 2)], num_in_stock=5)
    first, second, third = (line.stockrecord for line in lines_of(order))
    first.low_stock_threshold = 4
    first.save()  # Oscar's receiver opens an alert: 5 in stock - 3 allocated = 2 < 4
    StockRecord.objects.filter(pk=second.pk).update(low_stock_threshold=10)  # no alert yet
    StockRecord.objects.filter(pk=third.pk).update(num_allocated=6)  # another order's 4 too

    with CaptureQueriesContext(connection) as queries:
        cancel_order(order, user=staff)

    for record in (first, second, third):
        record.refresh_from_db()
    assert [first.num_allocated, second.num_allocated, third.num_allocated] == [0, 0, 4]
    alerts = {(a.stockrecord_id, a.status) for a in StockAlert.objects.all()}
    # as Oscar's post_save receiver: closed once above the threshold, opened while below it
    assert alerts == {(first.pk, StockAlert.CLOSED), (second.pk, StockAlert.OPEN)}
    table = connection.ops.quote_name(StockRecord._meta.db_table)
    stock_statements = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(
        ("WITH locked", f"UPDATE {table}", f"SELECT {table}."))]
    if connection.vendor == "postgresql":  # locked, written and read back in one statement
        assert len(stock_statements) == 1, stock_statements


def test_stock_is_released_only_for_products_that_track_it(customer, staff):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    untracked = lines_of(order)[0]
    product = untracked.stockrecord.product
    product.product_class = get_model("catalogue", "ProductClass").objects.create(
        name="Gift cards", track_stock=False)
    product.save()

    cancellation = cancel_order(order, user=staff)

    released = {r.line_id: r.stock_released for r in cancellation.lines.all()}
    assert released[untracked.pk] == 0 and sum(released.values()) == 1
    assert written(order)["stock"][0] == 2


def test_the_single_and_batch_paths_share_the_policys_target_status(order, staff, settings):
    from oscar_ordercancel.conf import get_setting
    from oscar_ordercancel.policy.pipeline import cancel_target_status

    settings.OSCAR_ORDERCANCEL_MODE = "request"
    assert cancel_target_status() == get_setting("OSCAR_ORDERCANCEL_REQUESTED_STATUS")
    assert cancel_target_status(requested=False) == "Cancelled"
    cancellation = cancel_order(order, user=staff, lines={lines_of(order)[0]: 1})
    order.refresh_from_db()
    assert cancellation.state == "requested" and order.status == cancel_target_status()
    assert order.notes.get().message == "Cancellation requested — waiting for confirmation"
    assert Decimal(cancellation.void_amount or 0) == 0
