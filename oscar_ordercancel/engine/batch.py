"""The batch form of the engine: many orders in one transaction, each succeeding on its own.

It runs the same steps as :func:`~oscar_ordercancel.engine.cancel.cancel_order`
(row locks, the policy again under them, ``order_cancellation_requested``, the
record and its lines, stock released once, payment, note, status,
``order_cancelled``), but for a chunk of orders at once: one query locks all
their rows, one loads their facts, and the records, lines, stock, statuses,
status changes and notes are written in bulk.

A refusal by the policy is decided before anything is written, so it only
marks its own request. Anything else that goes wrong (a veto, a payment
error, a receiver's exception) rolls the chunk back to its savepoint, and the
chunk is then run again one order at a time, each in its own savepoint, so
that one failing order never undoes another and no order is ever half
cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.apps.order.processing import EventHandler as CoreEventHandler
from oscar.core.loading import get_model

from oscar_ordercancel import grouping, signals
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.db.bulk import bulk_insert, bulk_set
from oscar_ordercancel.db.transactions import cancellation_transaction
from oscar_ordercancel.engine import cancel as steps
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.payment import get_payment_handler
from oscar_ordercancel.policy import load_contexts

Order = get_model("order", "Order")
OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")

logger = logging.getLogger(__name__)

#: Set (to True) on an ``EventHandler.handle_order_status_change`` that does nothing more
#: than Oscar's own for a change the engine makes, so the batch path may write it in bulk.
BULK_SAFE_ATTRIBUTE = "ordercancel_bulk_safe"


@dataclass
class CancelRequest:
    """One cancellation to make: ``cancel_order``'s arguments for one order."""

    order_id: int
    user: Any = None
    lines: Mapping | None = None
    reason: str = ""
    note: str = ""
    force: bool = False
    refund: bool = False
    channel: str | None = None
    notify_customer: bool | None = None
    batch: Any = None
    #: The caller's handle for this request (a batch row, say).
    key: Any = None


@dataclass
class CancelOutcome:
    """How a request ended: its cancellation, or the error that refused it."""

    request: CancelRequest
    cancellation: Any = None
    error: CancellationError | None = None

    @property
    def ok(self) -> bool:
        """Whether the order (or its lines) was cancelled."""
        return self.cancellation is not None


def cancel_many(requests: Sequence[CancelRequest]) -> list[CancelOutcome]:
    """Cancel many orders (each at most once in ``requests``); each one succeeds or fails alone.

    Run it inside the caller's transaction to commit other work (e.g. batch rows
    marked done) together with the cancellations.
    """
    if get_setting("OSCAR_ORDERCANCEL_MODE") == "request":
        return [_one_by_one(request) for request in requests]
    try:
        with cancellation_transaction():
            return _cancel_chunk(requests)
    except Exception:  # noqa: BLE001 - retried per order below, where each error is reported
        if len(requests) == 1:
            return [_isolated(requests[0])]
        return [_isolated(request) for request in requests]


def _isolated(request: CancelRequest) -> CancelOutcome:
    """One request in its own savepoint: its failure is its own."""
    try:
        with cancellation_transaction():
            return _cancel_chunk([request])[0]
    except CancellationError as exc:
        return CancelOutcome(request, error=exc)
    except Exception as exc:  # noqa: BLE001 - one order's failure is its own
        logger.exception("Batch cancellation of order #%s failed", request.order_id)
        return CancelOutcome(request, error=_unexpected(exc))


def _one_by_one(request: CancelRequest) -> CancelOutcome:
    """Request mode: each order through the single-order engine, in its own savepoint."""
    Order = get_model("order", "Order")
    try:
        with cancellation_transaction():
            order = Order.objects.get(pk=request.order_id)
            cancellation = steps.cancel_order(
                order, user=request.user, lines=request.lines, reason=request.reason,
                note=request.note, force=request.force, refund=request.refund,
                channel=request.channel, notify_customer=request.notify_customer,
                batch=request.batch)
        return CancelOutcome(request, cancellation=cancellation)
    except CancellationError as exc:
        return CancelOutcome(request, error=exc)
    except Exception as exc:  # noqa: BLE001 - one order's failure is its own
        logger.exception("Batch cancellation of order #%s failed", request.order_id)
        return CancelOutcome(request, error=_unexpected(exc))


def _unexpected(exc: Exception) -> CancellationError:
    return CancellationError(
        "unexpected_error", _("An unexpected error stopped this cancellation (%(error)s); "
                              "nothing was changed.") % {"error": type(exc).__name__})


def _cancel_chunk(requests: Sequence[CancelRequest]) -> list[CancelOutcome]:
    """All steps for a chunk of orders, in the caller's transaction; raise on any failure."""
    outcomes = {id(r): CancelOutcome(r) for r in requests}
    locked = {o.pk: o for o in Order.objects.select_for_update()
              .filter(pk__in=[r.order_id for r in requests]).order_by("pk")}
    contexts = load_contexts(list(locked.values()), lock=True)
    now = timezone.now()
    accepted = []
    for request in requests:
        order = locked.get(request.order_id)
        channel = steps._channel(request.user, request.channel)
        try:
            if order is None:
                raise CancellationError("unknown_order", _("This order no longer exists."))
            steps._check_arguments(request.reason, channel, note=request.note)
            decision = steps._decide_locked(order, contexts[order.pk], request.user, request.lines,
                                            request.force, channel, None, False)
        except CancellationError as exc:  # decided before any write: only this request fails
            outcomes[id(request)].error = exc
            continue
        accepted.append((request, order, contexts[order.pk], decision, channel))
    for request, order, ctx, decision, channel in accepted:
        steps._announce(order, ctx, decision, user=request.user, reason=request.reason,
                        channel=channel, force=request.force, refund=request.refund)
    records = OrderCancellation.objects.bulk_create([
        steps._new_record(order, decision, now=now, requested=False, user=request.user,
                          reason=request.reason, note=request.note, comment="", channel=channel,
                          force=request.force, refund=request.refund, on_behalf_of=None,
                          notify_customer=request.notify_customer, batch=request.batch)
        for request, order, ctx, decision, channel in accepted
    ])
    items = []
    for (__, order, ctx, decision, __), cancellation in zip(accepted, records, strict=True):
        items.append((order, ctx, cancellation, steps._record_lines(cancellation, ctx, decision),
                      ctx.cancelled))
    changed = steps._apply_lines(items, get_payment_handler())
    steps._send_line_status_signals(changed)
    _move_many(items, accepted)
    bulk_insert([r for item in items for r in item[3]])
    with grouping.grouped():  # receivers' writes and after-commit messages: one per chunk
        for (request, order, *__), (__, __, cancellation, records, __) in zip(accepted, items,
                                                                             strict=True):
            signals.order_cancelled.send(
                sender=Order, order=order, cancellation=cancellation, cancelled_lines=records,
                **steps._done_kwargs(cancellation, request.user, request.notify_customer))
            outcomes[id(request)].cancellation = cancellation
    return [outcomes[id(r)] for r in requests]


def _stock_handler(handler) -> bool:
    """Whether status changes and notes are Oscar's own (so they may be written in bulk).

    The order fork's ``handle_order_status_change`` says it adds nothing to a
    change the engine makes (``BULK_SAFE_ATTRIBUTE``); a shop's own override does not.
    """
    from oscar.apps.order.abstract_models import AbstractOrder

    status_change = type(handler).handle_order_status_change
    return (
        (status_change is CoreEventHandler.handle_order_status_change
         or getattr(status_change, BULK_SAFE_ATTRIBUTE, False))
        and type(handler).create_note is CoreEventHandler.create_note
        and Order.set_status is AbstractOrder.set_status
        and Order._create_order_status_change is AbstractOrder._create_order_status_change
    )


def _move_many(items, accepted) -> None:
    """Order statuses and notes: in bulk with Oscar's own handler, else through the shop's."""
    from oscar.apps.order.signals import order_status_changed

    OrderNote = get_model("order", "OrderNote")
    OrderStatusChange = get_model("order", "OrderStatusChange")
    cancelled = get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
    notes, changes, moved, cascaded = [], [], [], []
    handlers: dict = {}
    texts: dict = {}  # a chunk's notes mostly repeat: translate each once
    for (request, *__), (order, ctx, cancellation, records, __) in zip(accepted, items, strict=True):
        user_key = getattr(request.user, "pk", None)
        if user_key not in handlers:
            handlers[user_key] = steps._handler(request.user)
        handler = handlers[user_key]
        quantities = {record.line_id: record.quantity for record in records}
        key = (cancellation.is_full, cancellation.reason, cancellation.forced,
               cancellation.refund_amount, cancellation.note, cancellation.comment,
               None if cancellation.is_full else tuple(
                   (ctx.lines_by_id[pk].title, qty) for pk, qty in quantities.items()))
        note = texts.get(key)
        if note is None:
            note = texts[key] = steps._note_text(cancellation, ctx.lines_by_id, quantities,
                                                 cancellation.is_full)
        status = cancelled if cancellation.is_full else None
        if not _stock_handler(handler):
            steps._move_to(order, ctx.lines, handler, status, note)
            continue
        if status and status != order.status:
            steps._require_transition(order, status)
            old = order.status
            order.status = status
            new_line_status = order.cascade.get(status)
            if new_line_status:
                for line in ctx.lines:
                    if new_line_status in line.available_statuses():
                        line.status = new_line_status
                        cascaded.append(line)
            moved.append((order, old))
            changes.append(OrderStatusChange(order=order, old_status=old, new_status=status))
        notes.append(OrderNote(order=order, message=note, note_type="System",
                               user=steps._acting_user(request.user)))
    if cascaded:
        bulk_set(cascaded, ["status"])
    if moved:
        bulk_set([order for order, __ in moved], ["status"])
        for order, old in moved:
            order_status_changed.send(sender=order, order=order, old_status=old,
                                      new_status=order.status)
        bulk_insert(changes)
    if notes:
        bulk_insert(notes)
