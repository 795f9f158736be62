"""The cancellation engine: one transaction from row locks to the ``order_cancelled`` signal.

In ``"request"`` mode ``cancel_order`` only records a *requested* cancellation
(quantities reserved, order in the requested status); ``confirm_cancellation``
later applies it and ``reject_cancellation`` gives the order back its status.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_class, get_model

from oscar_ordercancel import signals
from oscar_ordercancel.abstract_models import CUSTOMER_CHANNELS, Channel
from oscar_ordercancel.conf import customer_reason_choices, get_setting, reason_choices, reason_label
from oscar_ordercancel.db.bulk import bulk_set
from oscar_ordercancel.db.transactions import cancellation_transaction
from oscar_ordercancel.engine.stock import release_allocations
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.limits import check_length
from oscar_ordercancel.payment import get_payment_handler
from oscar_ordercancel.policy import actor_role, evaluate, load_context, message_for

Order = get_model("order", "Order")
OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")


def _acting_user(user):
    return user if getattr(user, "is_authenticated", False) else None


def _handler(user):
    return get_class("order.processing", "EventHandler")(_acting_user(user))


def _require_transition(order, new_status: str) -> None:
    """Refuse before any change when Oscar's pipeline cannot reach ``new_status``."""
    if order.status != new_status and new_status not in order.available_statuses():
        raise CancellationError(
            "status_transition_invalid",
            _("The order status pipeline does not allow '%(old)s' → '%(new)s'.")
            % {"old": order.status, "new": new_status},
        )


def _set_order_status(order, lines, handler, new_status: str, note: str) -> None:
    """Move the order through Oscar's pipeline with the (possibly forked) EventHandler."""
    # set_status() cascades over order.lines.all(): serve it the locked lines.
    order._prefetched_objects_cache = {"lines": lines}
    # The forked EventHandler sends status changes to the cancelled status through
    # the engine; this one *is* the engine's, so it must pass straight through.
    order._ordercancel_applying = True
    try:
        handler.handle_order_status_change(order, new_status, note_msg=note)
    finally:
        order._prefetched_objects_cache = {}
        order._ordercancel_applying = False


def _move_to(order, lines, handler, status: str | None, note: str) -> None:
    """Change the order's status (with ``note``), or only add the note if it is already there."""
    if status and status != order.status:
        _set_order_status(order, list(order.lines.all()) if lines is None else lines,
                          handler, status, note)
    else:
        handler.create_note(order, note)


def _note_text(cancellation, lines_by_id: dict, quantities: dict[int, int], full: bool) -> str:
    if full:
        text = _("Order cancelled")
    else:
        items = ", ".join(f"{qty} × {lines_by_id[pk].title}" for pk, qty in quantities.items())
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
    if cancellation.comment:
        details.append(_("customer comment: %(comment)s") % {"comment": cancellation.comment})
    return " — ".join(str(d) for d in details)


def _apply_line_statuses(lines_by_id, quantities, cancelled_before) -> list:
    """Mark lines whose whole quantity is now cancelled; return the changed lines."""
    line_status = get_setting("OSCAR_ORDERCANCEL_LINE_CANCELLED_STATUS")
    changed = []
    for pk, qty in quantities.items():
        line = lines_by_id[pk]
        if cancelled_before.get(pk, 0) + qty >= line.quantity and line.status != line_status:
            line._ordercancel_old_status = line.status
            line.status = line_status
            changed.append(line)
    return changed


def _send_line_status_signals(changed) -> None:
    """Tell Oscar's receivers about line status changes made in bulk."""
    from oscar.apps.order.signals import order_line_status_changed

    for line in changed:
        order_line_status_changed.send(
            sender=line, line=line, old_status=line._ordercancel_old_status, new_status=line.status
        )


def _check_arguments(reason: str, channel: str, *, comment: str = "", note: str = "") -> None:
    """Refuse a reason that is not offered on ``channel``, or a comment or note over its limit."""
    offered = customer_reason_choices() if channel in CUSTOMER_CHANNELS else reason_choices()
    if reason and reason not in dict(offered):
        raise CancellationError("invalid_reason", message_for("invalid_reason"))
    check_length("comment", comment)
    check_length("note", note)


def _channel(user, channel: str | None) -> str:
    return str(channel) if channel else (Channel.SYSTEM if user is None else Channel.CODE)


def _target_status(requested: bool) -> str:
    return get_setting("OSCAR_ORDERCANCEL_REQUESTED_STATUS" if requested
                       else "OSCAR_ORDERCANCEL_CANCELLED_STATUS")


def _decide_locked(locked, ctx, user, lines, force: bool, channel: str, on_behalf_of,
                   requested: bool):
    """The policy again, under the row locks, plus the engine's own refusals; raise on refusal."""
    decision = evaluate(ctx, user, lines=lines, force=force, channel=channel)
    if not decision:
        raise decision.error()
    if on_behalf_of is not None and on_behalf_of.pk != locked.user_id:
        raise CancellationError("invalid_on_behalf_of", message_for("invalid_on_behalf_of"))
    if requested or decision.full:
        _require_transition(locked, _target_status(requested))
    return decision


def _announce(locked, ctx, decision, *, user, reason: str, channel: str, force: bool,
              refund: bool) -> None:
    """``order_cancellation_requested``: before any change; a receiver may veto."""
    lines_by_id = ctx.lines_by_id
    signals.order_cancellation_requested.send(
        sender=type(locked), order=locked, user=user,
        quantities={lines_by_id[pk]: qty for pk, qty in decision.quantities.items()},
        full=decision.full, reason=reason, channel=channel, force=force, refund=refund,
    )


def _new_record(locked, decision, *, now, requested: bool, user, reason: str, note: str,
                comment: str, channel: str, force: bool, refund: bool, on_behalf_of,
                notify_customer, batch=None):
    """The unsaved ``OrderCancellation`` of a decision."""
    return OrderCancellation(
        order=locked, is_full=decision.full, date_created=now,
        state=OrderCancellation.State.REQUESTED if requested else OrderCancellation.State.COMPLETED,
        reason=reason, comment=comment, note=note, user=_acting_user(user),
        on_behalf_of=on_behalf_of, channel=channel, forced=bool(force),
        refund_requested=bool(refund), previous_status=locked.status,
        notify_customer=notify_customer, batch=batch,
        date_completed=None if requested else now,
    )


def _record_lines(cancellation, ctx, decision) -> list:
    lines_by_id = ctx.lines_by_id
    return [OrderCancellationLine(cancellation=cancellation, line=lines_by_id[pk], quantity=qty)
            for pk, qty in decision.quantities.items()]


def _done_kwargs(cancellation, user, notify_customer) -> dict:
    return {"user": user, "notify_customer": notify_customer,
            "role": actor_role(user, cancellation.channel)}


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
    channel = _channel(user, channel)
    _check_arguments(reason, channel, comment=comment, note=note)
    requested = get_setting("OSCAR_ORDERCANCEL_MODE") == "request"

    with cancellation_transaction():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        ctx = load_context(locked, lock=True)
        decision = _decide_locked(locked, ctx, user, lines, force, channel, on_behalf_of, requested)
        _announce(locked, ctx, decision, user=user, reason=reason, channel=channel, force=force,
                  refund=refund)
        cancellation = _new_record(
            locked, decision, now=timezone.now(), requested=requested, user=user, reason=reason,
            note=note, comment=comment, channel=channel, force=force, refund=refund,
            on_behalf_of=on_behalf_of, notify_customer=notify_customer, batch=batch)
        cancellation.save(force_insert=True)
        records = _record_lines(cancellation, ctx, decision)
        handler = _handler(user)
        extra = _done_kwargs(cancellation, user, notify_customer)
        if requested:
            OrderCancellationLine.objects.bulk_create(records)
            _set_order_status(locked, ctx.lines, handler, _target_status(True),
                              _("Cancellation requested — waiting for confirmation"))
            order.status = locked.status
            signals.order_cancellation_pending.send(
                sender=Order, order=locked, cancellation=cancellation, **extra)
            return cancellation
        _complete(locked, ctx, cancellation, records, ctx.cancelled, handler,
                  status_after_partial=None)
        OrderCancellationLine.objects.bulk_create(records)
        order.status = locked.status
        signals.order_cancelled.send(sender=Order, order=locked, cancellation=cancellation, **extra)
    return cancellation


def _apply_lines(items, payment_handler) -> list:
    """Lines, stock and payment of applied cancellations; returns the line status changes.

    ``items`` are ``(order, ctx, cancellation, records, cancelled_before)``, one per
    order: the lines of all of them are written in one query and their stock
    records locked and written together. Sets ``stock_released`` on the records;
    the caller saves them.
    """
    all_lines: dict = {}
    all_quantities: dict[int, int] = {}
    changed: list = []
    for __, ctx, __, records, before in items:
        quantities = {record.line_id: record.quantity for record in records}
        changed += _apply_line_statuses(ctx.lines_by_id, quantities, before)
        all_lines.update(ctx.lines_by_id)
        all_quantities.update(quantities)
    released = release_allocations(all_lines, all_quantities)
    touched = {all_lines[pk] for pk in released} | set(changed)
    if touched:
        bulk_set(sorted(touched, key=lambda line: line.pk),
                 ["status", "num_allocated", "allocation_cancelled"])
    for order, ctx, cancellation, records, __ in items:
        for record in records:
            record.stock_released = released.get(record.line_id, 0)
        # Payment after stock: a gateway error still rolls everything back, and the
        # pipeline transition was checked before anything changed.
        quantities = {record.line_id: record.quantity for record in records}
        outcome = payment_handler.apply(
            order, ctx.sources, ctx.lines_by_id, quantities, full=cancellation.is_full,
            refund=cancellation.refund_requested, cancellation=cancellation,
        )
        cancellation.void_amount = outcome.voided
        cancellation.refund_amount = outcome.refunded
        if outcome.voided or outcome.refunded:
            cancellation.save(update_fields=["void_amount", "refund_amount"])
    return changed


def _complete(order, ctx, cancellation, records, cancelled_before, handler,
              status_after_partial: str | None) -> None:
    """Apply a cancellation: lines, stock, payment, order status and note.

    Sets ``stock_released`` on ``records``; the caller saves them.
    """
    changed = _apply_lines([(order, ctx, cancellation, records, cancelled_before)],
                           get_payment_handler())
    _send_line_status_signals(changed)
    quantities = {record.line_id: record.quantity for record in records}
    note = _note_text(cancellation, ctx.lines_by_id, quantities, cancellation.is_full)
    status = (get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS") if cancellation.is_full
              else status_after_partial)
    _move_to(order, ctx.lines, handler, status, note)


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
        _require_transition(order, get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
                            if cancellation.is_full else cancellation.previous_status)
        cancellation.state = OrderCancellation.State.COMPLETED
        cancellation.date_completed = timezone.now()
        if note:
            cancellation.note = "\n".join(filter(None, [cancellation.note, note]))
        cancellation.save(update_fields=["state", "date_completed", "note"])
        _complete(order, ctx, cancellation, records, before, _handler(user),
                  status_after_partial=cancellation.previous_status)
        OrderCancellationLine.objects.bulk_update(records, ["stock_released"])
        signals.order_cancelled.send(
            sender=Order, order=order, cancellation=cancellation, user=user,
            notify_customer=cancellation.notify_customer, role=actor_role(user, Channel.SYSTEM))
    return cancellation


def reject_cancellation(cancellation, *, reason: str, user=None):
    """Decline a requested cancellation: the order returns to the status it had."""
    with cancellation_transaction():
        order, cancellation = _lock_requested(cancellation)
        _require_transition(order, cancellation.previous_status)
        cancellation.state = OrderCancellation.State.REJECTED
        cancellation.rejection_reason = reason
        cancellation.date_completed = timezone.now()
        cancellation.save(update_fields=["state", "rejection_reason", "date_completed"])
        note = _("Cancellation declined: %(reason)s") % {"reason": reason}
        _move_to(order, None, _handler(user), cancellation.previous_status, note)
        signals.order_cancellation_rejected.send(
            sender=Order, order=order, cancellation=cancellation, reason=reason, user=user)
    return cancellation
