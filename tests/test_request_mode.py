"""Request mode: the order waits in a requested state until confirmed or declined."""

import pytest

from oscar_ordercancel import signals
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.policy import can_cancel
from oscar_ordercancel.services import cancel_order, confirm_cancellation, reject_cancellation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("request_mode")]


def lines_of(order):
    return list(order.lines.select_related("stockrecord").order_by("pk"))


def test_a_request_reserves_but_releases_nothing(order, customer, mailoutbox,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        cancellation = cancel_order(order, user=customer, channel="customer", reason="customer")
    order.refresh_from_db()
    assert cancellation.state == "requested"
    assert order.status == "Cancellation requested"
    assert [line.stockrecord.num_allocated for line in lines_of(order)] == [2, 1]
    assert "received your request" in mailoutbox[0].subject
    assert can_cancel(order, customer, channel="customer").code == "cancellation_pending"


def test_confirming_applies_the_cancellation(order, customer, mailoutbox,
                                             django_capture_on_commit_callbacks):
    cancellation = cancel_order(order, user=customer, channel="customer")
    seen = []
    signals.order_cancelled.connect(receiver := lambda sender, **kw: seen.append(kw["cancellation"]))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            confirm_cancellation(cancellation)
    finally:
        signals.order_cancelled.disconnect(receiver)
    order.refresh_from_db()
    cancellation.refresh_from_db()
    assert cancellation.state == "completed" and cancellation.date_completed
    assert order.status == "Cancelled"
    assert [line.stockrecord.num_allocated for line in lines_of(order)] == [0, 0]
    assert [line.status for line in lines_of(order)] == ["Cancelled", "Cancelled"]
    assert seen == [cancellation]
    assert "has been cancelled" in mailoutbox[-1].subject


def test_a_confirmed_partial_request_returns_the_order_to_its_status(order, staff):
    first, __ = lines_of(order)
    cancellation = cancel_order(order, user=staff, lines={first: 2})
    confirm_cancellation(cancellation)
    order.refresh_from_db()
    first.refresh_from_db()
    assert order.status == "Pending"
    assert first.status == "Cancelled" and first.stockrecord.num_allocated == 0


def test_rejecting_restores_the_order(order, customer, mailoutbox,
                                      django_capture_on_commit_callbacks):
    cancellation = cancel_order(order, user=customer, channel="customer")
    with django_capture_on_commit_callbacks(execute=True):
        reject_cancellation(cancellation, reason="Already packed")
    order.refresh_from_db()
    cancellation.refresh_from_db()
    assert cancellation.state == "rejected"
    assert order.status == "Pending"
    assert [line.stockrecord.num_allocated for line in lines_of(order)] == [2, 1]
    assert "could not be cancelled" in mailoutbox[-1].subject
    assert "Already packed" in mailoutbox[-1].body
    # the rejected quantities are free to cancel again
    assert can_cancel(order, customer, channel="customer")


def test_a_settled_request_cannot_be_settled_again(order, staff):
    cancellation = cancel_order(order, user=staff)
    confirm_cancellation(cancellation)
    with pytest.raises(CancellationError) as err:
        reject_cancellation(cancellation, reason="late")
    assert err.value.code == "not_requested"
