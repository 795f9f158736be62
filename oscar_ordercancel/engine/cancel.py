"""The single path of the engine: one transaction from row locks to the ``order_cancelled`` signal.

``cancel_order`` builds a :class:`~oscar_ordercancel.engine.steps.CancelRequest`
and takes it through the engine's steps (``engine/steps.py``, shared with the
batch path). In ``"request"`` mode it only records a *requested* cancellation
(quantities reserved, order in the requested status); ``confirm_cancellation``
later applies it and ``reject_cancellation`` gives the order back its status.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel import signals
from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.db.transactions import cancellation_transaction
from oscar_ordercancel.engine import steps
from oscar_ordercancel.engine.steps import CancelRequest
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.policy import load_context
from oscar_ordercancel.policy.pipeline import cancel_target_status, request_mode

Order = get_model("order", "Order")
OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")


def cancel_order(
    order,
    *,
    user,
    lines: Mapping | None = None,
    reason: str = "",
    note: str = "",
    comment: str = "",
    force: bool = False,
    refund: bool = False,
    channel: str | None = None,
    on_behalf_of=None,
    notify_customer: bool | None = None,
    batch=None,
):
    """Cancel ``order`` (or ``lines``: ``{line: qty}``) in one transaction; return the record."""
    cancellation = cancel(CancelRequest(
        order_id=order.pk, user=user, lines=lines, reason=reason, note=note, comment=comment,
        force=force, refund=refund, channel=channel, on_behalf_of=on_behalf_of,
        notify_customer=notify_customer, batch=batch))
    order.status = cancellation.order.status
    return cancellation


def cancel(request: CancelRequest):
    """Take one :class:`~oscar_ordercancel.engine.steps.CancelRequest` through the engine; return
    the record (``cancellation.order`` is the order as locked and changed).

    Raises ``CancellationError`` (or a receiver's or the payment handler's
    exception) and changes nothing when refused or when any step fails.
    """
    steps.check_arguments(request=request)
    requested = request_mode()
    user = request.user
    with cancellation_transaction():
        locked = Order.objects.select_for_update().get(pk=request.order_id)
        ctx = load_context(locked, lock=True)
        accepted = steps.decide(order=locked, ctx=ctx, request=request, requested=requested)
        steps.announce(accepted=accepted)
        cancellation = steps.new_cancellation(accepted=accepted, now=timezone.now(),
                                              requested=requested)
        cancellation.save(force_insert=True)
        item = steps.Cancelling(
            order=locked, ctx=ctx, cancellation=cancellation, cancelled_before=ctx.cancelled,
            records=steps.cancellation_lines(cancellation=cancellation, accepted=accepted),
            user=user)
        if requested:
            steps.save_cancellation_lines([item])
            steps.move_orders([steps.StatusMove(
                order=locked, status=cancel_target_status(requested=True), user=user,
                note=_("Cancellation requested — waiting for confirmation"), lines=ctx.lines)])
            signals.order_cancellation_pending.send(
                sender=Order, order=locked, cancellation=cancellation,
                **steps.receiver_kwargs(user=user, notify_customer=request.notify_customer,
                                        channel=cancellation.channel))
            return cancellation
        steps.complete([item])
        steps.save_cancellation_lines([item])
        steps.send_cancelled(order=locked, cancellation=cancellation, user=user,
                             notify_customer=request.notify_customer, channel=cancellation.channel)
    return cancellation


def _lock_requested(cancellation):
    locked_order = Order.objects.select_for_update().get(pk=cancellation.order_id)
    locked = OrderCancellation.objects.select_for_update().get(pk=cancellation.pk)
    if locked.state != OrderCancellation.State.REQUESTED:
        raise CancellationError(
            "not_requested", _("This cancellation is already %(state)s.")
            % {"state": locked.get_state_display().lower()})
    return locked_order, locked


def confirm_cancellation(cancellation, *, user=None, note: str = ""):
    """Apply a requested cancellation (request mode), e.g. when the ERP confirms it."""
    with cancellation_transaction():
        order, cancellation = _lock_requested(cancellation)
        ctx = load_context(order, lock=True)
        records = list(cancellation.lines.all())
        before = dict(ctx.cancelled)
        for record in records:  # this request's own quantities are in ctx.cancelled
            before[record.line_id] = before.get(record.line_id, 0) - record.quantity
        steps.require_transition(
            order=order, status=cancel_target_status(requested=False) if cancellation.is_full
            else cancellation.previous_status)
        cancellation.state = OrderCancellation.State.COMPLETED
        cancellation.date_completed = timezone.now()
        if note:
            cancellation.note = "\n".join(filter(None, [cancellation.note, note]))
        cancellation.save(update_fields=["state", "date_completed", "note"])
        steps.complete([steps.Cancelling(order=order, ctx=ctx, cancellation=cancellation,
                                         records=records, cancelled_before=before, user=user)],
                       status_after_partial=cancellation.previous_status)
        OrderCancellationLine.objects.bulk_update(records, ["stock_released"])
        steps.send_cancelled(order=order, cancellation=cancellation, user=user,
                             notify_customer=cancellation.notify_customer, channel=Channel.SYSTEM)
    return cancellation


def reject_cancellation(cancellation, *, reason: str, user=None):
    """Decline a requested cancellation: the order returns to the status it had."""
    with cancellation_transaction():
        order, cancellation = _lock_requested(cancellation)
        steps.require_transition(order=order, status=cancellation.previous_status)
        cancellation.state = OrderCancellation.State.REJECTED
        cancellation.rejection_reason = reason
        cancellation.date_completed = timezone.now()
        cancellation.save(update_fields=["state", "rejection_reason", "date_completed"])
        note = _("Cancellation declined: %(reason)s") % {"reason": reason}
        steps.move_orders([steps.StatusMove(order=order, status=cancellation.previous_status,
                                            note=note, user=user)])
        signals.order_cancellation_rejected.send(
            sender=Order, order=order, cancellation=cancellation, reason=reason, user=user)
    return cancellation
