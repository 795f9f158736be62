"""The engine's steps, shared by the single path (``engine/cancel.py``) and the batch path
(``engine/batch.py``): one request shape, one function per step, small records between them.

A cancellation is a :class:`CancelRequest` taken through these steps in one transaction:

1. :func:`check_arguments`: the reason is offered on the channel, the comment and the note
   are within their limits (before any lock is taken).
2. The order rows locked (:func:`lock_orders` for a chunk), then the policy's
   ``load_contexts(orders, lock=True)``: their lines and payment sources, locked.
3. :func:`decide`: the policy again under the locks, plus the engine's own refusals.
   What it allows becomes an :class:`Accepted`.
4. :func:`announce`: ``order_cancellation_requested``; a receiver may veto.
5. :func:`new_cancellation` and :func:`cancellation_lines`: the ``OrderCancellation``
   record and its lines, unsaved. The record with its lines and the facts of its
   order is a :class:`Cancelling`.
6. :func:`complete`: line statuses, stock released once and payment
   (:func:`apply_cancellations`), Oscar's line status signals
   (:func:`send_line_status_signals`), then the order note (:func:`note_text`) and
   the order status through Oscar's pipeline and cascade (:func:`move_orders`).
7. :func:`save_cancellation_lines`, then :func:`send_cancelled` (``order_cancelled``).

The single path runs them for one request and raises on a refusal; the batch path
runs them for a chunk of requests at once, each step over all of the chunk's orders,
with set-based writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from oscar.apps.order.abstract_models import AbstractOrder
from oscar.apps.order.processing import EventHandler as CoreEventHandler
from oscar.core.loading import get_class, get_model

from oscar_ordercancel import signals
from oscar_ordercancel.abstract_models import CUSTOMER_CHANNELS, Channel
from oscar_ordercancel.conf import customer_reason_choices, get_setting, reason_choices, reason_label
from oscar_ordercancel.db.bulk import bulk_insert, bulk_set
from oscar_ordercancel.engine import vouchers
from oscar_ordercancel.engine.stock import release_allocations
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.limits import check_length
from oscar_ordercancel.payment import get_payment_handler
from oscar_ordercancel.policy import actor_role, evaluate, message_for
from oscar_ordercancel.policy.pipeline import cancel_target_status

Order = get_model("order", "Order")
OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")

#: Set (to True) on an ``EventHandler.handle_order_status_change`` that does nothing more
#: than Oscar's own for a change the engine makes, so the engine may write it in bulk.
BULK_SAFE_ATTRIBUTE = "ordercancel_bulk_safe"

# Oscar's own methods, as imported (a later replacement, even on Oscar's classes, is the shop's).
_OSCAR_OWN = (CoreEventHandler.handle_order_status_change, CoreEventHandler.create_note,
              AbstractOrder.set_status, AbstractOrder._create_order_status_change)


# ---------------------------------------------------------------- records


@dataclass(kw_only=True)
class CancelRequest:
    """One cancellation to make: what ``cancel_order`` takes, for the order ``order_id``.

    ``cancel_order`` builds one from its arguments; ``cancel_many`` takes a list of them.
    """

    order_id: int
    #: The acting user; ``None``: the system acts.
    user: Any = None
    #: ``None`` for the whole order, or ``{line or line id: quantity}``.
    lines: Mapping | None = None
    reason: str = ""
    note: str = ""
    comment: str = ""
    force: bool = False
    refund: bool = False
    #: ``None``: ``code`` when a user acts, ``system`` when none does.
    channel: str | None = None
    on_behalf_of: Any = None
    notify_customer: bool | None = None
    batch: Any = None
    #: The caller's handle for this request (a batch row, say); the engine never reads it.
    key: Any = None

    @property
    def resolved_channel(self) -> str:
        """The channel recorded: the one given, else ``code`` for a user and ``system`` for none."""
        if self.channel:
            return str(self.channel)
        return Channel.SYSTEM if self.user is None else Channel.CODE


@dataclass
class Accepted:
    """A request the policy allowed under the row locks."""

    request: CancelRequest
    #: The locked order.
    order: Any
    #: Its facts (``CancellationContext``), loaded under the locks.
    ctx: Any
    #: The policy's ``Decision``: the quantities to cancel and whether that is everything.
    decision: Any


@dataclass
class Cancelling:
    """A cancellation being applied: its record, its lines and the facts of its order."""

    order: Any
    ctx: Any
    #: The saved ``OrderCancellation``.
    cancellation: Any
    #: Its ``OrderCancellationLine`` records (``stock_released`` is set by :func:`apply_cancellations`).
    records: list
    #: The quantity of each line cancelled before this cancellation, ``{line id: quantity}``.
    cancelled_before: Mapping[int, int]
    #: The acting user (the order note and the status change are made as this user).
    user: Any = None

    @property
    def quantities(self) -> dict[int, int]:
        """``{line id: quantity}`` of this cancellation."""
        return {record.line_id: record.quantity for record in self.records}


@dataclass(frozen=True)
class LineStatusChange:
    """A line whose status the engine changed (for Oscar's ``order_line_status_changed``)."""

    line: Any
    old_status: str
    new_status: str


@dataclass
class StatusMove:
    """An order's move to ``status`` (``None``: it stays where it is) with a note, as ``user``."""

    order: Any
    status: str | None
    note: str
    user: Any = None
    #: The order's locked lines, for Oscar's cascade; ``None``: loaded when the cascade needs them.
    lines: list | None = field(default=None, repr=False)


# ---------------------------------------------------------------- the engine applying a change


_APPLYING: ContextVar[frozenset] = ContextVar("oscar_ordercancel_applying", default=frozenset())


def is_applying(order) -> bool:
    """Whether the engine itself is moving ``order``'s status right now (in this thread or task).

    The order fork's ``EventHandler`` sends a status change to the cancelled status
    through ``cancel_order``; a change the engine makes must pass straight through
    (read it through ``oscar_ordercancel.services.is_applying``).
    """
    return order.pk in _APPLYING.get()


@contextmanager
def applying(order) -> Iterator[None]:
    """Mark ``order``'s status change as the engine's own for the duration (see :func:`is_applying`).

    A context variable: it holds for this thread or task only, and ends with the block.
    """
    token = _APPLYING.set(_APPLYING.get() | {order.pk})
    try:
        yield
    finally:
        _APPLYING.reset(token)


# ---------------------------------------------------------------- steps


def acting_user(user):
    """``user`` if signed in, else ``None`` (who an order note and a record are made by)."""
    return user if getattr(user, "is_authenticated", False) else None


def event_handler(user):
    """The shop's (possibly forked) Oscar ``EventHandler``, acting as ``user``."""
    return get_class("order.processing", "EventHandler")(acting_user(user))


def writes_in_bulk(handler) -> bool:
    """Whether ``handler``'s status changes and notes are Oscar's own (so they may be written in bulk).

    The order fork's ``handle_order_status_change`` says it adds nothing to a
    change the engine makes (``BULK_SAFE_ATTRIBUTE``); a shop's own override does not.
    """
    status_change, create_note, set_status, create_status_change = _OSCAR_OWN
    own = type(handler).handle_order_status_change
    return (
        (own is status_change or getattr(own, BULK_SAFE_ATTRIBUTE, False))
        and type(handler).create_note is create_note
        and Order.set_status is set_status
        and Order._create_order_status_change is create_status_change
    )


#: The reason each of the package's own channels gives, accepted even where a shop's
#: ``OSCAR_ORDERCANCEL_REASONS`` leaves it out.
BUILTIN_CHANNEL_REASONS = {Channel.WITHDRAWAL: "withdrawal", Channel.EXPIRY: "unpaid"}


def check_arguments(*, request: CancelRequest) -> None:
    """Refuse a reason not offered on the request's channel, or a comment or note over its limit."""
    channel = request.resolved_channel
    offered = customer_reason_choices() if channel in CUSTOMER_CHANNELS else reason_choices()
    builtin = BUILTIN_CHANNEL_REASONS.get(channel) == request.reason
    if request.reason and request.reason not in dict(offered) and not builtin:
        raise CancellationError("invalid_reason", message_for("invalid_reason"))
    check_length("comment", request.comment)
    check_length("note", request.note)


def lock_orders(*, order_ids: Sequence[int]) -> dict[int, Any]:
    """Lock the orders' rows (in primary-key order) and return them by id; missing ones are left out."""
    return {order.pk: order for order in
            Order.objects.select_for_update().filter(pk__in=list(order_ids)).order_by("pk")}


def require_transition(*, order, status: str) -> None:
    """Refuse before any change when Oscar's pipeline cannot take ``order`` to ``status``."""
    if order.status != status and status not in order.available_statuses():
        raise CancellationError(
            "status_transition_invalid",
            _("The order status pipeline does not allow '%(old)s' → '%(new)s'.")
            % {"old": order.status, "new": status},
        )


def decide(*, order, ctx, request: CancelRequest, requested: bool = False) -> Accepted:
    """The policy again, under the row locks, plus the engine's own refusals; raise on refusal.

    ``requested``: whether the cancellation is only requested (request mode), so the
    order moves to the requested status even for some lines.
    """
    decision = evaluate(ctx, request.user, lines=request.lines, force=request.force,
                        channel=request.resolved_channel)
    if not decision:
        raise decision.error()
    on_behalf_of = request.on_behalf_of
    if on_behalf_of is not None and on_behalf_of.pk != order.user_id:
        raise CancellationError("invalid_on_behalf_of", message_for("invalid_on_behalf_of"))
    if requested or decision.full:
        require_transition(order=order, status=cancel_target_status(requested=requested))
    return Accepted(request=request, order=order, ctx=ctx, decision=decision)


def announce(*, accepted: Accepted) -> None:
    """``order_cancellation_requested``: before any change; a receiver may veto by raising."""
    request, decision, lines_by_id = accepted.request, accepted.decision, accepted.ctx.lines_by_id
    signals.order_cancellation_requested.send(
        sender=type(accepted.order), order=accepted.order, user=request.user,
        quantities={lines_by_id[pk]: qty for pk, qty in decision.quantities.items()},
        full=decision.full, reason=request.reason, channel=request.resolved_channel,
        force=request.force, refund=request.refund,
    )


def new_cancellation(*, accepted: Accepted, now, requested: bool = False):
    """The unsaved ``OrderCancellation`` of an accepted request (state requested or completed)."""
    request, order, decision = accepted.request, accepted.order, accepted.decision
    return OrderCancellation(
        order=order, is_full=decision.full, date_created=now,
        state=OrderCancellation.State.REQUESTED if requested else OrderCancellation.State.COMPLETED,
        reason=request.reason, comment=request.comment, note=request.note,
        user=acting_user(request.user), on_behalf_of=request.on_behalf_of,
        channel=request.resolved_channel, forced=bool(request.force),
        refund_requested=bool(request.refund), previous_status=order.status,
        notify_customer=request.notify_customer, batch=request.batch,
        date_completed=None if requested else now,
    )


def cancellation_lines(*, cancellation, accepted: Accepted) -> list:
    """The unsaved ``OrderCancellationLine`` records of a saved cancellation."""
    lines_by_id = accepted.ctx.lines_by_id
    return [OrderCancellationLine(cancellation=cancellation, line=lines_by_id[pk], quantity=qty)
            for pk, qty in accepted.decision.quantities.items()]


def save_cancellation_lines(items: Sequence[Cancelling]) -> None:
    """Insert the ``OrderCancellationLine`` records of ``items`` (one statement on PostgreSQL)."""
    bulk_insert([record for item in items for record in item.records])


def _line_statuses(item: Cancelling, line_status: str) -> list[LineStatusChange]:
    """Give lines whose whole quantity is now cancelled the cancelled line status."""
    changes = []
    lines_by_id = item.ctx.lines_by_id
    for pk, qty in item.quantities.items():
        line = lines_by_id[pk]
        if item.cancelled_before.get(pk, 0) + qty >= line.quantity and line.status != line_status:
            changes.append(LineStatusChange(line=line, old_status=line.status, new_status=line_status))
            line.status = line_status
    return changes


def apply_cancellations(items: Sequence[Cancelling], *, payment_handler=None) -> list[LineStatusChange]:
    """Lines, stock and payment of ``items``; return the line status changes made.

    The lines of all of them are written in one query and their stock records
    locked and written together. Sets ``stock_released`` on the records (the
    caller saves them) and the amounts voided and refunded on the cancellations.
    """
    payment_handler = payment_handler or get_payment_handler()
    line_status = get_setting("OSCAR_ORDERCANCEL_LINE_CANCELLED_STATUS")
    all_lines: dict = {}
    all_quantities: dict[int, int] = {}
    stock_tracked: set[int] = set()
    changes: list[LineStatusChange] = []
    for item in items:
        changes += _line_statuses(item, line_status)
        all_lines.update(item.ctx.lines_by_id)
        all_quantities.update(item.quantities)
        stock_tracked |= item.ctx.stock_tracked
    released = release_allocations(all_lines, all_quantities, stock_tracked=stock_tracked)
    touched = {all_lines[pk] for pk in released} | {change.line for change in changes}
    if touched:
        bulk_set(sorted(touched, key=lambda line: line.pk),
                 ["status", "num_allocated", "allocation_cancelled"])
    for item in items:
        for record in item.records:
            record.stock_released = released.get(record.line_id, 0)
        # Payment after stock: a gateway error still rolls everything back, and the
        # pipeline transition was checked before anything changed.
        cancellation = item.cancellation
        outcome = payment_handler.apply(
            item.order, item.ctx.sources, item.ctx.lines_by_id, item.quantities,
            full=cancellation.is_full, refund=cancellation.refund_requested,
            cancellation=cancellation,
        )
        cancellation.void_amount = outcome.voided
        cancellation.refund_amount = outcome.refunded
        if outcome.voided or outcome.refunded:
            cancellation.save(update_fields=["void_amount", "refund_amount"])
    return changes


def send_line_status_signals(changes: Sequence[LineStatusChange]) -> None:
    """Tell Oscar's receivers about line status changes made in bulk (``order_line_status_changed``)."""
    from oscar.apps.order.signals import order_line_status_changed

    for change in changes:
        order_line_status_changed.send(sender=change.line, line=change.line,
                                       old_status=change.old_status, new_status=change.new_status)


def note_text(*, cancellation, lines_by_id: Mapping, quantities: Mapping[int, int]) -> str:
    """The order note of a cancellation: what was cancelled, why, forced, refunded, the notes."""
    if cancellation.is_full:
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


def completion_moves(items: Sequence[Cancelling], *,
                     status_after_partial: str | None = None) -> list[StatusMove]:
    """The order moves of applied cancellations: a full one to the cancelled status, with its note.

    ``status_after_partial``: where a partial one moves (``None``: the order stays).
    """
    cancelled = get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
    texts: dict = {}  # a chunk's notes mostly repeat: translate each once
    moves = []
    for item in items:
        cancellation, quantities, lines_by_id = item.cancellation, item.quantities, item.ctx.lines_by_id
        key = (cancellation.is_full, cancellation.reason, cancellation.forced,
               cancellation.refund_amount, cancellation.note, cancellation.comment,
               None if cancellation.is_full else tuple(
                   (lines_by_id[pk].title, qty) for pk, qty in quantities.items()))
        note = texts.get(key)
        if note is None:
            note = texts[key] = note_text(cancellation=cancellation, lines_by_id=lines_by_id,
                                          quantities=quantities)
        moves.append(StatusMove(order=item.order, user=item.user, note=note, lines=item.ctx.lines,
                                status=cancelled if cancellation.is_full else status_after_partial))
    return moves


def complete(items: Sequence[Cancelling], *, status_after_partial: str | None = None,
             payment_handler=None) -> None:
    """Apply cancellations: lines, stock, payment, vouchers, line signals, order notes, statuses.

    Sets ``stock_released`` on the records; the caller saves them
    (:func:`save_cancellation_lines` for new ones).
    """
    changes = apply_cancellations(items, payment_handler=payment_handler)
    vouchers.release(items)
    send_line_status_signals(changes)
    move_orders(completion_moves(items, status_after_partial=status_after_partial))


def cascade(*, order, status: str, lines) -> list:
    """Oscar's status cascade (``Order.set_status``): move ``lines`` with ``order`` to ``status``.

    The line status is ``order.cascade[status]``, for each line that
    ``line.available_statuses()`` lets reach it. Returns the lines changed (unsaved).
    """
    new_line_status = order.cascade.get(status)
    changed = []
    if new_line_status:
        for line in lines:
            if new_line_status in line.available_statuses():
                line.status = new_line_status
                changed.append(line)
    return changed


def move_orders(moves: Sequence[StatusMove]) -> None:
    """Order statuses and notes, as ``Order.set_status`` and ``EventHandler.create_note`` make them.

    With Oscar's own ``EventHandler`` and ``Order.set_status`` (:func:`writes_in_bulk`)
    they are written set-based for all of ``moves`` at once: the orders' statuses,
    Oscar's cascade (:func:`cascade`), ``order_status_changed``, the
    ``OrderStatusChange`` rows and the notes. A shop's own handler is called for
    each order instead.
    """
    from oscar.apps.order.signals import order_status_changed

    OrderNote = get_model("order", "OrderNote")
    OrderStatusChange = get_model("order", "OrderStatusChange")
    handlers: dict = {}
    notes, changes, moved, cascaded = [], [], [], []
    for move in moves:
        order, status = move.order, move.status
        user_key = getattr(move.user, "pk", None)
        if user_key not in handlers:
            handlers[user_key] = event_handler(move.user)
        handler = handlers[user_key]
        if not writes_in_bulk(handler):
            _move_through(handler, move)
            continue
        if status and status != order.status:
            require_transition(order=order, status=status)
            old = order.status
            order.status = status
            if order.cascade.get(status):
                lines = list(order.lines.all()) if move.lines is None else move.lines
                cascaded += cascade(order=order, status=status, lines=lines)
            moved.append((order, old))
            changes.append(OrderStatusChange(order=order, old_status=old, new_status=status))
        if move.note:
            notes.append(OrderNote(order=order, message=move.note, note_type="System",
                                   user=handler.user))
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


def _move_through(handler, move: StatusMove) -> None:
    """One move through the shop's own ``EventHandler`` (its ``set_status`` reads the lines)."""
    if move.status and move.status != move.order.status:
        with applying(move.order):
            handler.handle_order_status_change(move.order, move.status, note_msg=move.note)
    elif move.note:
        handler.create_note(move.order, move.note)


def receiver_kwargs(*, user, notify_customer, channel: str) -> dict:
    """What ``order_cancelled`` and ``order_cancellation_pending`` receivers get besides the order
    and the record: ``user``, ``notify_customer`` and the actor's ``role``."""
    return {"user": user, "notify_customer": notify_customer, "role": actor_role(user, channel)}


def send_cancelled(*, order, cancellation, user, notify_customer, channel: str,
                   cancelled_lines: list | None = None) -> None:
    """``order_cancelled``, inside the transaction, after the change.

    ``cancelled_lines`` (the ``OrderCancellationLine`` records in memory) spare a
    receiver the query for them: the outbox builds a batch's job payloads from them.
    """
    signals.order_cancelled.send(
        sender=Order, order=order, cancellation=cancellation, cancelled_lines=cancelled_lines,
        **receiver_kwargs(user=user, notify_customer=notify_customer, channel=channel))
