"""The engine: what a shop owner expects of a cancellation, whole or partial."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oscar.core.loading import get_class, get_model

from oscar_ordercancel import signals
from oscar_ordercancel.exceptions import CancellationError, CancellationVetoed, PaymentError
from oscar_ordercancel.models import OrderCancellation
from oscar_ordercancel.payment import DefaultPaymentHandler
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = pytest.mark.django_db
StockRecord = get_model("partner", "StockRecord")
Source = get_model("payment", "Source")
StockAlert = get_model("partner", "StockAlert")


def lines_of(order):
    return list(order.lines.select_related("stockrecord").order_by("pk"))


def test_full_cancel_sets_statuses_releases_stock_and_records_it(order, staff):
    first, second = lines_of(order)
    assert first.stockrecord.num_allocated == 2 and second.stockrecord.num_allocated == 1

    cancellation = cancel_order(order, user=staff, reason="inventory", note="Supplier out")

    order.refresh_from_db()
    first, second = lines_of(order)
    assert order.status == "Cancelled"
    assert [first.status, second.status] == ["Cancelled", "Cancelled"]
    assert first.stockrecord.num_allocated == 0 and second.stockrecord.num_allocated == 0
    assert first.allocation_cancelled and second.allocation_cancelled
    assert cancellation.is_full and cancellation.state == "completed"
    assert cancellation.user == staff and cancellation.reason == "inventory"
    assert {(cl.line_id, cl.quantity, cl.stock_released) for cl in cancellation.lines.all()} == {
        (first.pk, 2, 2), (second.pk, 1, 1)}
    assert order.status_changes.filter(old_status="Pending", new_status="Cancelled").exists()
    note = order.notes.get()
    assert "Order cancelled" in note.message and "Out of stock" in note.message
    assert "Supplier out" in note.message


def test_partial_cancel_leaves_the_rest_of_the_order_alone(order, staff):
    first, second = lines_of(order)

    cancellation = cancel_order(order, user=staff, lines={first: 1})

    order.refresh_from_db()
    first, second = lines_of(order)
    assert order.status == "Pending"
    assert first.status == "Pending" and first.num_allocated == 1
    assert first.stockrecord.num_allocated == 1
    assert second.stockrecord.num_allocated == 1
    assert not cancellation.is_full
    assert "Cancelled 1 ×" in order.notes.get().message


def test_cancelling_the_last_remaining_quantity_cancels_the_order(order, staff):
    first, second = lines_of(order)
    cancel_order(order, user=staff, lines={first: 2})
    first.refresh_from_db()
    assert first.status == "Cancelled"

    last = cancel_order(order, user=staff, lines={second.pk: 1})

    order.refresh_from_db()
    assert last.is_full and order.status == "Cancelled"


def test_totals_are_never_rewritten_and_nothing_is_deleted(order, staff):
    totals = (order.total_incl_tax, order.total_excl_tax, order.num_lines)
    cancel_order(order, user=staff)
    order.refresh_from_db()
    assert (order.total_incl_tax, order.total_excl_tax, order.num_lines) == totals
    assert order.lines.count() == 2


def test_stock_is_released_exactly_once(order, staff):
    first, __ = lines_of(order)
    cancel_order(order, user=staff, lines={first: 1})
    cancel_order(order, user=staff, lines={first: 1})
    first.refresh_from_db()
    assert first.stockrecord.num_allocated == 0 and first.allocation_cancelled

    # Oscar's own release afterwards finds nothing left to release.
    get_class("order.processing", "EventHandler")().cancel_stock_allocations(order)
    first.stockrecord.refresh_from_db()
    assert first.stockrecord.num_allocated == 0
    assert first.stockrecord.num_in_stock == 20


def test_only_allocated_unshipped_quantity_is_released(customer, staff):
    order = factories.place_order(customer, [("10.00", 3)])
    line = order.lines.get()
    factories.ship(order, line, 1)
    line.refresh_from_db()
    assert line.num_allocated == 2

    cancellation = cancel_order(order, user=staff, lines={line: 2})

    line.refresh_from_db()
    line.stockrecord.refresh_from_db()
    assert cancellation.lines.get().stock_released == 2
    assert line.num_allocated == 0 and line.stockrecord.num_allocated == 0
    assert line.status == "Pending"  # one unit shipped: the line is not wholly cancelled
    order.refresh_from_db()
    assert order.status == "Pending"


def test_shipped_quantity_cannot_be_cancelled(customer, staff):
    order = factories.place_order(customer, [("10.00", 3)])
    line = order.lines.get()
    factories.ship(order, line, 2)

    with pytest.raises(CancellationError) as err:
        cancel_order(order, user=staff, lines={line: 2})
    assert err.value.code == "quantity_not_cancellable"
    assert "only 1 of" in err.value.message

    with pytest.raises(CancellationError) as err:
        cancel_order(order, user=staff)
    assert err.value.code == "quantity_not_cancellable"


def test_line_in_processing_cannot_be_cancelled(order, staff):
    first, __ = lines_of(order)
    first.set_status("Being processed")
    with pytest.raises(CancellationError) as err:
        cancel_order(order, user=staff, lines={first: 1})
    assert err.value.code == "quantity_not_cancellable"


@pytest.mark.parametrize(
    ("make_lines", "code"),
    [
        (lambda order, other: {999999: 1}, "unknown_line"),
        (lambda order, other: {order.lines.order_by("pk")[0]: 3}, "quantity_not_cancellable"),
        (lambda order, other: {order.lines.order_by("pk")[0]: 0}, "invalid_quantity"),
        (lambda order, other: {order.lines.order_by("pk")[0]: -1}, "invalid_quantity"),
        (lambda order, other: {order.lines.order_by("pk")[0]: 1.5}, "invalid_quantity"),
        (lambda order, other: {other.lines.get(): 1}, "line_not_in_order"),
        (lambda order, other: {other.lines.get().pk: 1}, "line_not_in_order"),
        (lambda order, other: {}, "nothing_to_cancel"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(order, staff, customer, make_lines, code):
    other = factories.place_order(customer)
    before = factories.snapshot(order)
    with pytest.raises(CancellationError) as err:
        cancel_order(order, user=staff, lines=make_lines(order, other))
    assert err.value.code == code and err.value.message
    assert factories.snapshot(order) == before


def test_unknown_reason_is_refused(order, staff):
    before = factories.snapshot(order)
    with pytest.raises(CancellationError) as err:
        cancel_order(order, user=staff, reason="bored")
    assert err.value.code == "invalid_reason"
    assert factories.snapshot(order) == before


def test_order_not_in_a_cancellable_status_is_refused(order, staff):
    order.set_status("Being processed")
    before = factories.snapshot(order)
    with pytest.raises(CancellationError) as err:
        cancel_order(order, user=staff)
    assert err.value.code == "not_cancellable_status"
    assert factories.snapshot(order) == before


def test_the_same_order_cannot_be_cancelled_twice(order, staff):
    cancel_order(order, user=staff)
    with pytest.raises(CancellationError) as err:
        cancel_order(order, user=staff)
    assert err.value.code == "already_cancelled"
    assert OrderCancellation.objects.filter(order=order).count() == 1


def test_a_veto_changes_nothing(order, staff):
    def veto(sender, **kwargs):
        raise CancellationVetoed("fraud_review", "Under fraud review")

    signals.order_cancellation_requested.connect(veto)
    before = factories.snapshot(order)
    try:
        with pytest.raises(CancellationVetoed) as err:
            cancel_order(order, user=staff)
    finally:
        signals.order_cancellation_requested.disconnect(veto)
    assert err.value.code == "fraud_review"
    assert factories.snapshot(order) == before


class ExplodingPaymentHandler(DefaultPaymentHandler):
    def apply(self, *args, **kwargs):
        raise PaymentError(message="Gateway unavailable")


def test_an_error_late_in_the_engine_rolls_everything_back(order, staff, settings):
    factories.pay(order)
    settings.OSCAR_ORDERCANCEL_PAYMENT_HANDLER = "tests.test_engine.ExplodingPaymentHandler"
    before = factories.snapshot(order)
    with pytest.raises(PaymentError):
        cancel_order(order, user=staff)
    assert factories.snapshot(order) == before


def test_an_authorised_payment_is_voided(order, staff):
    source = factories.pay(order)
    cancellation = cancel_order(order, user=staff)
    source.refresh_from_db()
    assert source.amount_allocated == 0
    assert cancellation.void_amount == order.total_incl_tax
    assert source.transactions.filter(txn_type="Void", amount=order.total_incl_tax).exists()
    assert order.payment_events.get().event_type.name == "Voided"


def test_partial_cancel_voids_the_value_of_the_cancelled_quantity(order, staff):
    source = factories.pay(order)
    first, __ = lines_of(order)
    cancellation = cancel_order(order, user=staff, lines={first: 1})
    source.refresh_from_db()
    assert cancellation.void_amount == Decimal("10.00")
    assert source.amount_allocated == order.total_incl_tax - Decimal("10.00")


def test_a_paid_order_needs_force(order, staff):
    factories.pay(order, debited=order.total_incl_tax)
    before = factories.snapshot(order)
    with pytest.raises(CancellationError) as err:
        cancel_order(order, user=staff)
    assert err.value.code == "paid_needs_force"
    assert factories.snapshot(order) == before


def test_forced_cancel_without_refund_keeps_the_money(order, staff):
    source = factories.pay(order, debited=order.total_incl_tax)
    cancellation = cancel_order(order, user=staff, force=True)
    source.refresh_from_db()
    assert cancellation.forced and cancellation.refund_amount == 0
    assert source.amount_refunded == 0


def test_forced_cancel_with_refund_refunds_the_cancelled_quantity(order, staff):
    source = factories.pay(order, debited=order.total_incl_tax)
    first, __ = lines_of(order)
    cancellation = cancel_order(order, user=staff, lines={first: 1}, force=True, refund=True)
    source.refresh_from_db()
    assert cancellation.refund_amount == Decimal("10.00")
    assert source.amount_refunded == Decimal("10.00")
    event = order.payment_events.get()
    assert event.event_type.name == "Refunded" and event.amount == Decimal("10.00")
    assert list(event.line_quantities.values_list("line_id", "quantity")) == [(first.pk, 1)]


def test_full_forced_refund_gives_everything_back(order, staff):
    source = factories.pay(order, debited=order.total_incl_tax)
    cancellation = cancel_order(order, user=staff, force=True, refund=True)
    source.refresh_from_db()
    assert cancellation.refund_amount == order.total_incl_tax == source.amount_refunded


def test_order_cancelled_is_sent_inside_the_transaction(order, staff):
    seen = []

    def receiver(sender, order, cancellation, **kwargs):
        seen.append((sender, order.status, cancellation.pk, connection.in_atomic_block))

    signals.order_cancelled.connect(receiver)
    try:
        cancellation = cancel_order(order, user=staff)
    finally:
        signals.order_cancelled.disconnect(receiver)
    assert seen == [(get_model("order", "Order"), "Cancelled", cancellation.pk, True)]


def test_the_shops_event_handler_is_used(order, staff, monkeypatch):
    EventHandler = get_class("order.processing", "EventHandler")
    calls = []
    original = EventHandler.handle_order_status_change

    def spy(self, order, new_status, note_msg=None):
        calls.append(new_status)
        return original(self, order, new_status, note_msg)

    monkeypatch.setattr(EventHandler, "handle_order_status_change", spy)
    cancel_order(order, user=staff)
    assert calls == ["Cancelled"]


def test_the_customer_is_emailed_after_commit(order, customer, mailoutbox,
                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cancel_order(order, user=customer, channel="customer", reason="customer")
    assert mailoutbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["customer@example.com"]
    assert str(order.number) in mail.subject and "cancelled" in mail.subject
    assert "Reason: At your request" in mail.body
    assert order.communication_events.filter(event_type__code="ORDER_CANCELLED").exists()


def test_partial_cancel_email_lists_the_lines(order, staff, mailoutbox,
                                              django_capture_on_commit_callbacks):
    first, __ = lines_of(order)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order, user=staff, lines={first: 1})
    body = mailoutbox[0].body
    assert first.title in body and "quantity: 1" in body


def test_notification_can_be_switched_off(order, staff, mailoutbox, settings,
                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order, user=staff, notify_customer=False)
    settings.OSCAR_ORDERCANCEL_NOTIFY_CUSTOMER = False
    other = factories.place_order(order.user)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(other, user=staff)
    assert mailoutbox == []


def _paid_order(customer, n_lines):
    order = factories.place_order(customer, [("1.00", 1)] * n_lines)
    factories.pay(order)
    return order


def test_query_count_does_not_grow_with_lines(customer, staff, django_assert_max_num_queries):
    small, large = _paid_order(customer, 1), _paid_order(customer, 50)
    with CaptureQueriesContext(connection) as one_line:
        cancel_order(small, user=staff, notify_customer=False)
    with django_assert_max_num_queries(len(one_line)):
        cancel_order(large, user=staff, notify_customer=False)
    large.refresh_from_db()
    assert large.status == "Cancelled"
    assert not StockRecord.objects.filter(pk__in=large.lines.values("stockrecord"),
                                          num_allocated__gt=0).exists()


def test_the_email_is_recorded_even_if_staff_deleted_its_event_type(
        order, staff, mailoutbox, django_capture_on_commit_callbacks):
    get_model("communication", "CommunicationEventType").objects.filter(
        code="ORDER_CANCELLED").delete()
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order, user=staff)
    assert len(mailoutbox) == 1
    assert order.communication_events.filter(event_type__code="ORDER_CANCELLED").count() == 1


def test_releasing_allocations_closes_low_stock_alerts(customer, staff):
    order = factories.place_order(customer, [("10.00", 4)], num_in_stock=5)
    record = order.lines.get().stockrecord
    record.low_stock_threshold = 2
    record.save()  # Oscar's receiver opens an alert: 5 in stock - 4 allocated = 1 < 2
    assert StockAlert.objects.filter(stockrecord=record, status=StockAlert.OPEN).count() == 1

    cancel_order(order, user=staff)

    record.refresh_from_db()
    assert record.num_allocated == 0
    assert not StockAlert.objects.filter(stockrecord=record, status=StockAlert.OPEN).exists()
    assert StockAlert.objects.filter(stockrecord=record, status=StockAlert.CLOSED).count() == 1
