"""Tell the customer about a cancellation (or a withdrawal) by e-mail, once the transaction
has committed.

The message is rendered and sent by a Celery task when Celery is configured
(a broker URL, or eager mode); otherwise it is sent in-process after commit.
"""

from __future__ import annotations

import logging
from functools import partial

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from oscar.core.loading import get_class, get_model

from oscar_ordercancel import grouping, queue
from oscar_ordercancel.conf import get_setting, staff_addresses
from oscar_ordercancel.statuses import cached_status_names

logger = logging.getLogger(__name__)

ORDER_CANCELLED = "ORDER_CANCELLED"
ORDER_CANCELLATION_REQUESTED = "ORDER_CANCELLATION_REQUESTED"
ORDER_CANCELLATION_REJECTED = "ORDER_CANCELLATION_REJECTED"
#: The acknowledgement of a withdrawal (Art. 11a(3): on a durable medium, without delay).
ORDER_WITHDRAWAL_RECEIVED = "ORDER_WITHDRAWAL_RECEIVED"
#: The staff e-mail about a new withdrawal declaration.
WITHDRAWAL_DECLARED_STAFF = "WITHDRAWAL_DECLARED_STAFF"
#: The reminder an unpaid order's customer gets before the order expires.
ORDER_EXPIRY_REMINDER = "ORDER_EXPIRY_REMINDER"
EVENT_TYPE_NAMES = {
    ORDER_CANCELLED: "Order cancelled",
    ORDER_CANCELLATION_REQUESTED: "Order cancellation requested",
    ORDER_CANCELLATION_REJECTED: "Order cancellation declined",
    ORDER_WITHDRAWAL_RECEIVED: "Withdrawal received (acknowledgement)",
    WITHDRAWAL_DECLARED_STAFF: "Withdrawal declared (staff e-mail)",
    ORDER_EXPIRY_REMINDER: "Unpaid order: reminder before expiry",
}


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
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")

    cancellation = (
        OrderCancellation.objects.select_related("order", "order__user", "order__site")
        .prefetch_related("lines__line")
        .get(pk=cancellation_id)
    )
    order = cancellation.order
    context = {
        "order": order,
        "cancellation": cancellation,
        "cancelled_lines": list(cancellation.lines.all()),
        "user": order.user,
        "status_path": status_path(order),
    }
    messages = _render(event_code, context, order.site if order.site_id else None)
    get_class("order.utils", "OrderDispatcher")(logger=logger).dispatch_order_messages(
        order, messages, event_code)


def deliver(cancellation_id: int, event_code: str) -> None:
    """Hand the e-mail to Celery, or send it now; a failure never undoes the cancellation."""
    try:
        if queue.celery_configured():
            queue.send_task(queue.SEND_CUSTOMER_EMAIL, (cancellation_id, event_code))
        else:
            send_cancellation_email(cancellation_id, event_code)
    except Exception:  # noqa: BLE001 - the cancellation has committed; log and go on
        logger.exception("Could not send the %s e-mail for cancellation #%s",
                         event_code, cancellation_id)


def deliver_many(items: list[tuple[int, str]]) -> None:
    """Hand many e-mails to Celery as one task (a batch chunk), or send them now."""
    try:
        if queue.celery_configured():
            queue.send_task(queue.SEND_CUSTOMER_EMAILS, (items,))
            return
    except Exception:  # noqa: BLE001 - fall back to one task per e-mail
        logger.exception("Could not queue %d cancellation e-mails together", len(items))
    for cancellation_id, event_code in items:
        deliver(cancellation_id, event_code)


def _notify(order, cancellation, notify_customer, event_code: str) -> None:
    notify = notify_customer
    if notify is None:
        notify = get_setting("OSCAR_ORDERCANCEL_NOTIFY_CUSTOMER")
    if not notify or not (order.user_id or order.guest_email):
        return
    if not grouping.defer(deliver_many, (cancellation.pk, event_code)):
        transaction.on_commit(partial(deliver, cancellation.pk, event_code))


def on_order_cancelled(sender, order, cancellation, notify_customer=None, **kwargs) -> None:
    """``order_cancelled`` receiver: the cancellation e-mail, after commit."""
    _notify(order, cancellation, notify_customer, ORDER_CANCELLED)


def on_cancellation_pending(sender, order, cancellation, notify_customer=None, **kwargs) -> None:
    """``order_cancellation_pending`` receiver: "we received your request", after commit."""
    _notify(order, cancellation, notify_customer, ORDER_CANCELLATION_REQUESTED)


def on_cancellation_rejected(sender, order, cancellation, **kwargs) -> None:
    """``order_cancellation_rejected`` receiver: "your request was declined", after commit."""
    _notify(order, cancellation, cancellation.notify_customer, ORDER_CANCELLATION_REJECTED)


def _render(event_code: str, context: dict, site) -> dict:
    """Render the event type's messages for ``context``, on ``site`` (the order's, not the current one).

    Oscar records an order's ``CommunicationEvent`` only if the type exists (a migration
    creates it, but staff may have deleted it): it is made again to keep the audit trail.
    """
    CommunicationEventType = get_model("communication", "CommunicationEventType")
    CommunicationEventType.objects.get_or_create(
        code=event_code, defaults={"name": EVENT_TYPE_NAMES.get(event_code, event_code)})
    dispatcher = get_class("communication.utils", "Dispatcher")(logger=logger)
    context = dispatcher.get_base_context(**context)
    if site is not None:  # a shop with several sites links each customer to their own
        context["site"] = site
    # A template may show statuses ({{ order.status|status_display }}): read the mappings once.
    with cached_status_names():
        return CommunicationEventType.objects.get_and_render(event_code, context)


def send_expiry_reminder(order, expires_at) -> None:
    """E-mail the customer the ``ORDER_EXPIRY_REMINDER``: the order, the amount due, and when
    it will be cancelled if the payment does not arrive (in the shop's time zone)."""
    local = timezone.localtime(expires_at)
    context = {"order": order, "user": order.user, "amount_due": order.total_incl_tax,
               "expires_at": local, "time_zone": local.tzname(),
               "status_path": status_path(order)}
    messages = _render(ORDER_EXPIRY_REMINDER, context, order.site if order.site_id else None)
    get_class("order.utils", "OrderDispatcher")(logger=logger).dispatch_order_messages(
        order, messages, ORDER_EXPIRY_REMINDER)


def withdrawal_context(declaration) -> dict:
    """What the acknowledgement, the done page and the receipt show of a declaration."""
    from oscar_ordercancel.engine.withdrawal import declaration_content

    declared = timezone.localtime(declaration.date_declared)
    return {
        "declaration": declaration,
        "order": declaration.order,
        "withdrawn_lines": list(declaration.lines.all()),
        "content": declaration_content(declaration),
        "declared_at": declared,
        "time_zone": declared.tzname(),
        "status_path": status_path(declaration.order),
    }


def send_withdrawal_acknowledgement(declaration) -> bool:
    """E-mail the declarant the ``ORDER_WITHDRAWAL_RECEIVED`` acknowledgement, once; True if sent."""
    WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
    with transaction.atomic():
        claimed = WithdrawalDeclaration.objects.filter(
            pk=declaration.pk, date_acknowledged__isnull=True).update(date_acknowledged=timezone.now())
        if not claimed:
            return False  # already sent (a retried task, a second worker)
        order = declaration.order
        messages = _render(ORDER_WITHDRAWAL_RECEIVED, withdrawal_context(declaration),
                           order.site if order.site_id else None)
        dispatcher = get_class("communication.utils", "Dispatcher")(logger=logger)
        sent = dispatcher.dispatch_direct_messages(declaration.email, messages)
        event_type = get_model("communication", "CommunicationEventType").objects.get(
            code=ORDER_WITHDRAWAL_RECEIVED)
        if sent:
            get_model("order", "CommunicationEvent").objects.create(order=order, event_type=event_type)
    return True


def withdrawal_staff_recipients() -> list[str]:
    """``OSCAR_ORDERCANCEL_WITHDRAWAL_STAFF_EMAILS``, else every active staff user's address."""
    return staff_addresses("OSCAR_ORDERCANCEL_WITHDRAWAL_STAFF_EMAILS")


def send_withdrawal_staff_email(declaration) -> None:
    """E-mail staff the ``WITHDRAWAL_DECLARED_STAFF`` message about a new declaration."""
    from django.conf import settings

    recipients = withdrawal_staff_recipients()
    if not recipients:
        return
    order = declaration.order
    messages = _render(WITHDRAWAL_DECLARED_STAFF, withdrawal_context(declaration),
                       order.site if order.site_id else None)
    email = EmailMultiAlternatives(messages["subject"], messages["body"],
                                   from_email=settings.OSCAR_FROM_EMAIL, to=recipients)
    if messages.get("html"):
        email.attach_alternative(messages["html"], "text/html")
    email.send()


def send_withdrawal_emails(declaration_id: int) -> None:
    """The acknowledgement (first: the law asks for it without delay), then the staff e-mail."""
    declaration = (get_model("oscar_ordercancel", "WithdrawalDeclaration").objects
                   .select_related("order", "order__site").prefetch_related("lines__line")
                   .get(pk=declaration_id))
    if send_withdrawal_acknowledgement(declaration):
        try:
            send_withdrawal_staff_email(declaration)
        except Exception:  # noqa: BLE001 - the acknowledgement went out; staff see the list
            logger.exception("Could not e-mail staff about withdrawal %s", declaration.reference)


def deliver_withdrawal_emails(declaration_id: int) -> None:
    """Hand the withdrawal's e-mails to Celery, or send them now; a failure is logged."""
    try:
        if queue.celery_configured():
            queue.send_task(queue.SEND_WITHDRAWAL_EMAILS, (declaration_id,))
        else:
            send_withdrawal_emails(declaration_id)
    except Exception:  # noqa: BLE001 - the declaration has committed; log and go on
        logger.exception("Could not send the e-mails of withdrawal declaration #%s", declaration_id)


def on_withdrawal_declared(sender, declaration, **kwargs) -> None:
    """``withdrawal_declared`` receiver: the acknowledgement and the staff e-mail, after commit."""
    transaction.on_commit(partial(deliver_withdrawal_emails, declaration.pk))
