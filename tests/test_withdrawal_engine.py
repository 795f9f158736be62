"""Withdrawal (Art. 11a, Directive 2011/83/EU): the policy and the engine, as a consumer and a shop expect."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel.engine.withdrawal import content_digest, declaration_content
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.services import can_withdraw, declare_withdrawal
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("withdrawal_on")]

WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
CancelJob = get_model("oscar_ordercancel", "CancelJob")
ShippingEvent = get_model("order", "ShippingEvent")
ProductClass = get_model("catalogue", "ProductClass")
Source = get_model("payment", "Source")


def lines_of(order):
    return list(order.lines.select_related("stockrecord").order_by("pk"))


def shipped(order, line, quantity, *, event="Shipped", days_ago=0):
    """Ship (``event`` "Delivered" records the delivery) ``quantity`` of ``line`` ``days_ago``."""
    factories.ship(order, line, quantity, event=event)
    ShippingEvent.objects.filter(order=order).filter(pk=ShippingEvent.objects.filter(
        order=order).order_by("-pk").values("pk")[:1]).update(
        date_created=timezone.now() - timedelta(days=days_ago))


def nothing_recorded(order, before):
    assert factories.snapshot(order) == before
    assert not WithdrawalDeclaration.objects.filter(order=order).exists()


def test_a_guest_withdraws_from_an_unshipped_paid_order_it_is_cancelled_refunded_and_acknowledged(
        mailoutbox, django_capture_on_commit_callbacks):
    order = factories.place_order(None, [("10.00", 2), ("5.00", 1)], guest_email="guest@example.com")
    factories.pay(order, debited=order.total_incl_tax)
    assert can_withdraw(order)

    with django_capture_on_commit_callbacks(execute=True):
        declaration = declare_withdrawal(order, name="Greta Guest", email="guest@example.com")

    order.refresh_from_db()
    assert order.status == "Cancelled"
    assert [line.stockrecord.num_allocated for line in lines_of(order)] == [0, 0]
    source = Source.objects.get(order=order)
    assert source.amount_refunded == order.total_incl_tax
    assert declaration.state == "cancelled" and declaration.refund_due_by is None
    assert declaration.channel == "guest" and declaration.user is None
    assert declaration.cancellation.channel == "withdrawal"
    assert declaration.cancellation.reason == "withdrawal"
    assert declaration.cancellation.refund_amount == order.total_incl_tax
    assert [(wl.quantity, wl.outcome) for wl in declaration.lines.all()] == [
        (2, "cancelled"), (1, "cancelled")]
    assert declaration.content_digest == content_digest(declaration_content(declaration))
    assert declaration.reference.startswith("W-") and len(declaration.reference) == 11

    [mail] = mailoutbox  # the acknowledgement only (no second "order cancelled" e-mail)
    assert mail.to == ["guest@example.com"]
    assert declaration.reference in mail.subject
    for text in (mail.body, mail.alternatives[0][0]):
        for fact in (declaration.reference, "Greta Guest", "guest@example.com", order.number,
                     "Linen shirt", "Travel mug", "UTC", declaration.content_digest):
            assert fact in text
    declaration.refresh_from_db()
    assert declaration.date_acknowledged is not None
    assert order.communication_events.filter(event_type__code="ORDER_WITHDRAWAL_RECEIVED").exists()
    assert order.notes.filter(message__startswith=f"Withdrawal {declaration.reference} declared by "
                                                  "Greta Guest").exists()


def test_a_customer_withdraws_one_line_of_two_only_that_line_is_cancelled(order, customer):
    first, second = lines_of(order)

    declaration = declare_withdrawal(order, name="Cara Customer", email=customer.email,
                                     lines={second: 1}, user=customer)

    order.refresh_from_db()
    first, second = lines_of(order)
    assert order.status == "Pending"
    assert second.status == "Cancelled" and first.status != "Cancelled"
    assert first.stockrecord.num_allocated == 2 and second.stockrecord.num_allocated == 0
    assert declaration.channel == "account" and declaration.user == customer
    assert not declaration.cancellation.is_full
    # what is left can still be withdrawn; the withdrawn line cannot again
    assert can_withdraw(order, user=customer).quantities == {first.pk: 2}
    refusal = can_withdraw(order, user=customer, lines={second: 1})
    assert refusal.code == "quantity_not_withdrawable"


def test_a_shipped_line_waits_for_its_return_with_a_refund_due_date(order, customer, erp):
    first, second = lines_of(order)
    shipped(order, first, 2, days_ago=1)

    declaration = declare_withdrawal(order, name="Cara Customer", email=customer.email,
                                     user=customer)

    assert declaration.state == "awaiting_return"
    due = declaration.refund_due_by - declaration.date_declared
    assert due == timedelta(days=14)
    assert [(wl.line_id, wl.quantity, wl.outcome) for wl in declaration.lines.all()] == [
        (first.pk, 2, "awaiting_return"), (second.pk, 1, "cancelled")]
    second.refresh_from_db()
    assert second.status == "Cancelled"
    # the ERP hears of the declaration (and of the cancelled line, as of any cancellation)
    jobs = {job.payload["job"]: job for job in CancelJob.objects.all()}
    assert set(jobs) == {"OrderWithdrawal", "OrderCancel"}
    payload = jobs["OrderWithdrawal"].payload
    assert payload["parameters"] == {"OrderNumber": str(order.number),
                                     "WithdrawalReference": declaration.reference}
    assert [line["outcome"] for line in payload["lines"]] == ["awaiting_return", "cancelled"]
    assert jobs["OrderWithdrawal"].withdrawal == declaration
    assert jobs["OrderWithdrawal"].order == order and jobs["OrderCancel"].order == order


def test_the_period_runs_from_delivery_20_days_ago_refused_3_days_ago_accepted(customer):
    late = factories.place_order(customer, [("10.00", 1)])
    recent = factories.place_order(customer, [("10.00", 1)])
    shipped(late, lines_of(late)[0], 1, event="Delivered", days_ago=20)
    shipped(recent, lines_of(recent)[0], 1, event="Delivered", days_ago=3)
    before = factories.snapshot(late)

    refusal = can_withdraw(late, user=customer)
    assert not refusal and refusal.code == "withdrawal_period_passed"
    with pytest.raises(CancellationError) as caught:
        declare_withdrawal(late, name="Cara", email=customer.email, user=customer)
    assert caught.value.code == "withdrawal_period_passed"
    nothing_recorded(late, before)

    declaration = declare_withdrawal(recent, name="Cara", email=customer.email, user=customer)
    assert declaration.state == "awaiting_return"


def test_shipped_without_a_delivery_the_period_starts_after_the_transit_allowance(customer):
    order = factories.place_order(customer, [("10.00", 1)])
    shipped(order, lines_of(order)[0], 1, days_ago=20)  # 20 < 7 transit + 14 days
    assert can_withdraw(order, user=customer)
    ShippingEvent.objects.filter(order=order).update(date_created=timezone.now() - timedelta(days=22))
    assert can_withdraw(order, user=customer).code == "withdrawal_period_passed"


def test_an_excluded_product_class_is_refused_and_nothing_is_recorded(customer, settings):
    order = factories.place_order(customer, [("10.00", 1)])
    product_class = lines_of(order)[0].product.get_product_class()
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = (product_class.slug,)
    before = factories.snapshot(order)

    assert can_withdraw(order, user=customer).code == "withdrawal_excluded"
    with pytest.raises(CancellationError) as caught:
        declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
    assert caught.value.code == "withdrawal_excluded"
    nothing_recorded(order, before)


def test_an_excluded_line_beside_others_leaves_only_the_others_withdrawable(order, customer, settings):
    first, second = lines_of(order)
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = (
        first.product.get_product_class().slug,)
    if second.product.get_product_class() == first.product.get_product_class():
        second_class = ProductClass.objects.create(name="Books")
        second.product.product_class = second_class
        second.product.save()
    assert can_withdraw(order, user=customer).quantities == {second.pk: 1}
    assert can_withdraw(order, user=customer, lines={first: 1}).code == "withdrawal_excluded"


def test_disabled_another_customers_order_and_bad_quantities_are_refused(order, customer,
                                                                         other_customer, settings):
    first, __ = lines_of(order)
    before = factories.snapshot(order)
    assert can_withdraw(order, user=other_customer).code == "order_not_found"
    for lines, code in [({first: 3}, "quantity_not_withdrawable"), ({first: 0}, "invalid_quantity"),
                        ({first: -1}, "invalid_quantity"), ({first: True}, "invalid_quantity"),
                        ({first: "1"}, "invalid_quantity"), ({10**9: 1}, "unknown_line")]:
        assert can_withdraw(order, user=customer, lines=lines).code == code
        with pytest.raises(CancellationError):
            declare_withdrawal(order, name="Cara", email=customer.email, user=customer, lines=lines)
    for name, email, code in [("", customer.email, "withdrawal_name_required"),
                              ("x" * 256, customer.email, "withdrawal_name_required"),
                              ("Cara", "not an address", "withdrawal_email_invalid"),
                              (None, None, "withdrawal_name_required")]:
        with pytest.raises(CancellationError) as caught:
            declare_withdrawal(order, name=name, email=email, user=customer)
        assert caught.value.code == code
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
    assert can_withdraw(order, user=customer).code == "withdrawal_disabled"
    nothing_recorded(order, before)


def test_a_site_switch_overrides_the_django_setting(order, customer, settings):
    from django.contrib.sites.models import Site

    CancellationSettings = get_model("oscar_ordercancel", "CancellationSettings")
    row = CancellationSettings.objects.create(site=Site.objects.get_current(), withdrawal_enabled=False)
    assert can_withdraw(order, user=customer).code == "withdrawal_disabled"
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
    row.withdrawal_enabled = True
    row.save()
    assert can_withdraw(order, user=customer)


def test_the_same_confirmation_twice_records_one_declaration(order, customer):
    one = declare_withdrawal(order, name="Cara", email=customer.email, user=customer,
                             request_key="key-1")
    two = declare_withdrawal(order, name="Cara", email=customer.email, user=customer,
                             request_key="key-1")
    assert one.pk == two.pk
    assert WithdrawalDeclaration.objects.filter(order=order).count() == 1


def test_a_withdrawal_when_the_refund_fails_is_still_recorded_and_waits_for_staff(
        order, customer, settings):
    settings.OSCAR_ORDERCANCEL_PAYMENT_HANDLER = "tests.test_withdrawal_engine.FailingRefunds"
    factories.pay(order, debited=order.total_incl_tax)

    declaration = declare_withdrawal(order, name="Cara", email=customer.email, user=customer)

    order.refresh_from_db()
    assert order.status == "Pending"  # nothing cancelled half: the cancellation rolled back
    assert declaration.cancellation is None and declaration.state == "awaiting_return"
    assert {wl.outcome for wl in declaration.lines.all()} == {"awaiting_return"}
    assert Source.objects.get(order=order).amount_refunded == Decimal("0.00")


class FailingRefunds:
    """A payment handler whose gateway refuses every refund."""

    def __new__(cls):
        from oscar_ordercancel.exceptions import PaymentError
        from oscar_ordercancel.payment import DefaultPaymentHandler

        class Handler(DefaultPaymentHandler):
            def refund_source(self, source, amount, cancellation):
                raise PaymentError("gateway down")

        return Handler()


def test_declaring_costs_the_same_queries_for_one_line_and_for_twenty(
        customer, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (1, 20):
        order = factories.place_order(customer, [("1.00", 1)] * size)
        with CaptureQueriesContext(connection) as queries:
            declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
        counts.append(len(queries))
    assert counts[1] <= counts[0] + 3, counts


def test_staff_receive_the_goods_refund_them_and_close(order, customer, staff):
    from oscar_ordercancel import signals
    from oscar_ordercancel.services import (
        close_withdrawal,
        record_goods_received,
        refund_due,
        refund_withdrawal,
    )

    first, second = lines_of(order)
    factories.pay(order, debited=order.total_incl_tax)
    shipped(order, first, 2, days_ago=2)
    declaration = declare_withdrawal(order, name="Cara", email=customer.email, user=customer,
                                     lines={first: 2})
    assert declaration.state == "awaiting_return" and declaration.cancellation is None
    assert refund_due(declaration) == Decimal("20.00")  # a partial withdrawal: no delivery charge
    with pytest.raises(CancellationError) as caught:
        close_withdrawal(declaration, user=staff)
    assert caught.value.code == "withdrawal_not_closable"

    record_goods_received(declaration, user=staff)
    for amount in (Decimal("-1"), order.total_incl_tax + 1):
        with pytest.raises(CancellationError) as caught:
            refund_withdrawal(declaration, user=staff, amount=amount)
        assert caught.value.code == "withdrawal_refund_invalid"
    assert Source.objects.get(order=order).amount_refunded == 0
    refunds = []
    signals.withdrawal_refunded.connect(receiver := lambda sender, amount, **kw: refunds.append(amount))
    try:
        declaration = refund_withdrawal(declaration, user=staff)
    finally:
        signals.withdrawal_refunded.disconnect(receiver)
    assert refunds == [Decimal("20.00")]
    assert declaration.state == "refunded" and declaration.refund_amount == Decimal("20.00")
    assert declaration.date_goods_received and declaration.date_refunded
    assert Source.objects.get(order=order).amount_refunded == Decimal("20.00")
    assert order.payment_events.filter(reference=f"Withdrawal {declaration.reference}").exists()
    with pytest.raises(CancellationError) as caught:
        refund_withdrawal(declaration, user=staff)
    assert caught.value.code == "withdrawal_not_awaiting"
    assert Source.objects.get(order=order).amount_refunded == Decimal("20.00")

    declaration = close_withdrawal(declaration, user=staff, note="All done")
    assert declaration.state == "closed" and declaration.staff_note == "All done"


def test_a_whole_order_withdrawal_refunds_the_standard_delivery_charge_too(customer, staff):
    from oscar_ordercancel.services import refund_due, refund_withdrawal

    order = factories.place_order(customer, [("10.00", 1)], shipping_method=None)
    get_model("order", "Order").objects.filter(pk=order.pk).update(
        shipping_incl_tax=Decimal("4.95"), shipping_excl_tax=Decimal("4.95"),
        total_incl_tax=Decimal("14.95"), total_excl_tax=Decimal("14.95"))
    order.refresh_from_db()
    factories.pay(order, debited=Decimal("14.95"))
    shipped(order, lines_of(order)[0], 1)
    declaration = declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
    assert refund_due(declaration) == Decimal("14.95")
    refund_withdrawal(declaration, user=staff)
    assert Source.objects.get(order=order).amount_refunded == Decimal("14.95")


def test_staff_are_e_mailed_about_each_new_declaration(order, customer, staff, settings, mailoutbox,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        declaration = declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
    [to_staff] = [mail for mail in mailoutbox if mail.to == [staff.email]]
    assert declaration.reference in to_staff.subject and str(order.number) in to_staff.subject
    assert "Cara" in to_staff.body and customer.email in to_staff.body
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_STAFF_EMAILS = ()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        declare_withdrawal(factories.place_order(customer), name="Cara", email=customer.email,
                           user=customer)
    assert [mail.to for mail in mailoutbox] == [[customer.email]]  # the acknowledgement only
