"""The cancellation engine: one transaction from row locks to the ``order_cancelled`` signal."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.apps.order.exceptions import InvalidOrderStatus
from oscar.core.loading import get_class, get_model

from oscar_ordercancel import signals
from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.conf import get_setting, reason_choices, reason_label
from oscar_ordercancel.engine.payment import get_payment_handler
from oscar_ordercancel.engine.stock import release_allocations
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.policy import actor_role, evaluate, load_context, message_for


def _resolve_channel(user, channel: str | None) -> str:
    if channel:
        return str(channel)
    return Channel.SYSTEM if user is None else Channel.CODE


def _validate_reason(reason: str) -> None:
    if reason and reason not in dict(reason_choices()):
        raise CancellationError("invalid_reason", message_for("invalid_reason"))


def _note_text(cancellation, lines_by_id: dict, quantities: dict[int, int], full: bool) -> str:
    if full:
        text = _("Order cancelled")
    else:
        items = ", ".join(
            f"{qty} × {lines_by_id[pk].title}" for pk, qty in quantities.items()
        )
        text = _("Cancelled %(items)s") % {"items": items}
    details = [text]
    if cancellation.reason:
        details.append(_("reason: %(reason)s") % {"reason": reason_label(cancellation.reason)})
    if cancellation.forced:
        details.append(_("forced"))
    if cancellation.refund_amount:
        details.append(_("refunded %(amount)s") % {"amount": cancellation.refund_amount})
    if cancellation.note:
        details.append(cancellation.note)
    return " — ".join(str(d) for d in details)


def _apply_line_statuses(lines_by_id, quantities, ctx) -> list:
    """Mark lines whose whole remaining quantity is cancelled; return the changed lines."""
    line_status = get_setting("OSCAR_ORDERCANCEL_LINE_CANCELLED_STATUS")
    changed = []
    for pk, qty in quantities.items():
        line = lines_by_id[pk]
        whole = ctx.cancelled.get(pk, 0) + qty >= line.quantity
        if whole and line.status != line_status:
            line._ordercancel_old_status = line.status
            line.status = line_status
            changed.append(line)
    return changed


def _set_order_status(order, lines, handler, new_status: str, note: str) -> None:
    """Move the order through Oscar's pipeline with the (possibly forked) EventHandler."""
    # set_status() cascades over order.lines.all(): serve it the locked lines.
    order._prefetched_objects_cache = {"lines": lines}
    try:
        handler.handle_order_status_change(order, new_status, note_msg=note)
    except InvalidOrderStatus as exc:
        raise CancellationError("status_transition_invalid", str(exc)) from exc
    finally:
        order._prefetched_objects_cache = {}


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
):
    """Cancel ``order`` (or ``lines``: ``{line: qty}``) in one transaction; return the record."""
    from oscar_ordercancel.models import OrderCancellation, OrderCancellationLine

    Order = get_model("order", "Order")
    Line = get_model("order", "Line")
    EventHandler = get_class("order.processing", "EventHandler")
    channel = _resolve_channel(user, channel)
    _validate_reason(reason)
    if len(comment) > 1000:
        raise CancellationError("comment_too_long", _("Comments are limited to 1,000 characters."))

    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        ctx = load_context(locked, lock=True)
        decision = evaluate(ctx, user, lines=lines, force=force, channel=channel)
        if not decision:
            raise CancellationError(decision.code, decision.message)
        lines_by_id = ctx.lines_by_id
        quantities, full = decision.quantities, decision.full
        requested = get_setting("OSCAR_ORDERCANCEL_MODE") == "request"
        signals.order_cancellation_requested.send(
            sender=Order, order=locked, user=user,
            quantities={lines_by_id[pk]: qty for pk, qty in quantities.items()},
            full=full, reason=reason, channel=channel, force=force, refund=refund,
        )

        now = timezone.now()
        cancellation = OrderCancellation.objects.create(
            order=locked,
            is_full=full,
            state=OrderCancellation.State.REQUESTED if requested else OrderCancellation.State.COMPLETED,
            reason=reason, comment=comment, note=note,
            user=user if getattr(user, "is_authenticated", False) else None,
            on_behalf_of=on_behalf_of, channel=channel,
            forced=bool(force), refund_requested=bool(refund),
            previous_status=locked.status,
            date_completed=None if requested else now,
        )
        records = [
            OrderCancellationLine(cancellation=cancellation, line=lines_by_id[pk], quantity=qty)
            for pk, qty in quantities.items()
        ]
        handler = EventHandler(user if getattr(user, "is_authenticated", False) else None)
        if requested:
            OrderCancellationLine.objects.bulk_create(records)
            _set_order_status(
                locked, ctx.lines, handler, get_setting("OSCAR_ORDERCANCEL_REQUESTED_STATUS"),
                _("Cancellation requested — waiting for confirmation"),
            )
        else:
            _complete(locked, ctx, cancellation, records, quantities, full, refund, handler, Line)

        order.status = locked.status
        signals.order_cancelled.send(
            sender=Order, order=locked, cancellation=cancellation, user=user,
            notify_customer=notify_customer, role=actor_role(user, channel),
        )
    return cancellation


def _complete(order, ctx, cancellation, records, quantities, full, refund, handler, Line) -> None:
    """Apply a cancellation: lines, stock, payment, record, order status and note."""
    lines_by_id = ctx.lines_by_id
    changed = _apply_line_statuses(lines_by_id, quantities, ctx)
    released = release_allocations(lines_by_id, quantities)
    touched = {lines_by_id[pk] for pk in released} | set(changed)
    if touched:
        Line.objects.bulk_update(
            sorted(touched, key=lambda line: line.pk),
            ["status", "num_allocated", "allocation_cancelled"],
        )
    for record in records:
        record.stock_released = released.get(record.line_id, 0)
    from oscar_ordercancel.models import OrderCancellationLine

    OrderCancellationLine.objects.bulk_create(records)

    outcome = get_payment_handler().apply(
        order, ctx.sources, lines_by_id, quantities, full=full, refund=refund,
        cancellation=cancellation,
    )
    cancellation.void_amount = outcome.voided
    cancellation.refund_amount = outcome.refunded
    if outcome.voided or outcome.refunded:
        cancellation.save(update_fields=["void_amount", "refund_amount"])

    _send_line_status_signals(changed)
    note = _note_text(cancellation, lines_by_id, quantities, full)
    if full:
        _set_order_status(
            order, ctx.lines, handler, get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS"), note
        )
    else:
        handler.create_note(order, note)


def _send_line_status_signals(changed) -> None:
    """Tell Oscar's receivers about line status changes made in bulk."""
    from oscar.apps.order.signals import order_line_status_changed

    for line in changed:
        order_line_status_changed.send(
            sender=line, line=line, old_status=line._ordercancel_old_status, new_status=line.status
        )
