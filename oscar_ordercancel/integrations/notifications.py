"""Tell the customer about a cancellation, by e-mail, once the transaction has committed."""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from oscar.core.loading import get_class

from oscar_ordercancel.conf import get_setting

logger = logging.getLogger(__name__)

ORDER_CANCELLED = "ORDER_CANCELLED"


def status_path(order) -> str:
    """The customer's (or guest's) order page for ``order``, or ''."""
    try:
        if order.user_id:
            return reverse("customer:order", kwargs={"order_number": order.number})
        return reverse(
            "customer:anon-order",
            kwargs={"order_number": order.number, "hash": order.verification_hash()},
        )
    except NoReverseMatch:
        return ""


def send_cancellation_email(cancellation_id: int, event_code: str = ORDER_CANCELLED) -> None:
    """Render the event type's messages and send them through Oscar's order dispatcher."""
    from oscar_ordercancel.models import OrderCancellation

    cancellation = (
        OrderCancellation.objects.select_related("order", "order__user")
        .prefetch_related("lines__line")
        .get(pk=cancellation_id)
    )
    order = cancellation.order
    OrderDispatcher = get_class("order.utils", "OrderDispatcher")
    dispatcher = OrderDispatcher(logger=logger)
    context = {
        "order": order,
        "cancellation": cancellation,
        "cancelled_lines": list(cancellation.lines.all()),
        "user": order.user,
        "status_path": status_path(order),
    }
    messages = dispatcher.dispatcher.get_messages(event_code, context)
    dispatcher.dispatch_order_messages(order, messages, event_code)


def on_order_cancelled(sender, order, cancellation, notify_customer=None, **kwargs) -> None:
    """``order_cancelled`` receiver: queue the customer e-mail for after commit."""
    notify = notify_customer
    if notify is None:
        notify = get_setting("OSCAR_ORDERCANCEL_NOTIFY_CUSTOMER")
    if not notify or not (order.user_id or order.guest_email):
        return
    transaction.on_commit(partial(_send_safely, cancellation.pk))


def _send_safely(cancellation_id: int) -> None:
    # The cancellation has committed; a mail server failure must not undo it.
    try:
        send_cancellation_email(cancellation_id)
    except Exception:  # noqa: BLE001
        logger.exception("Could not send the cancellation e-mail for #%s", cancellation_id)
