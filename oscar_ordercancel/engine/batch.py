"""The batch form of the engine: many orders in one transaction, each succeeding on its own.

It takes the same :class:`~oscar_ordercancel.engine.steps.CancelRequest` through the
same steps (``engine/steps.py``) as :func:`~oscar_ordercancel.engine.cancel.cancel_order`
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel import grouping
from oscar_ordercancel.db.transactions import cancellation_transaction
from oscar_ordercancel.engine import steps
from oscar_ordercancel.engine.cancel import cancel
from oscar_ordercancel.engine.steps import BULK_SAFE_ATTRIBUTE, CancelRequest
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.policy import load_contexts
from oscar_ordercancel.policy.pipeline import request_mode

OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")

logger = logging.getLogger(__name__)

__all__ = ["BULK_SAFE_ATTRIBUTE", "CancelOutcome", "CancelRequest", "cancel_many"]


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
    if request_mode():  # each order through the single path
        return [_isolated(request, _single) for request in requests]
    try:
        with cancellation_transaction():
            return _cancel_chunk(requests)
    except Exception:  # noqa: BLE001 - retried per order below, where each error is reported
        return [_isolated(request, _chunk_of_one) for request in requests]


def _chunk_of_one(request: CancelRequest) -> CancelOutcome:
    """The batch steps for one order."""
    return _cancel_chunk([request])[0]


def _single(request: CancelRequest) -> CancelOutcome:
    """The single-order path (request mode)."""
    return CancelOutcome(request, cancellation=cancel(request))


def _isolated(request: CancelRequest, run) -> CancelOutcome:
    """``run(request)`` in its own savepoint: its failure is its own."""
    try:
        with cancellation_transaction():
            return run(request)
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
    locked = steps.lock_orders(order_ids=[r.order_id for r in requests])
    contexts = load_contexts(list(locked.values()), lock=True)
    now = timezone.now()
    accepted: list[steps.Accepted] = []
    for request in requests:
        order = locked.get(request.order_id)
        try:
            if order is None:
                raise CancellationError("unknown_order", _("This order no longer exists."))
            steps.check_arguments(request=request)
            accepted.append(steps.decide(order=order, ctx=contexts[order.pk], request=request))
        except CancellationError as exc:  # decided before any write: only this request fails
            outcomes[id(request)].error = exc
    for item in accepted:
        steps.announce(accepted=item)
    cancellations = OrderCancellation.objects.bulk_create(
        [steps.new_cancellation(accepted=item, now=now) for item in accepted])
    items = [
        steps.Cancelling(order=item.order, ctx=item.ctx, cancellation=cancellation,
                         records=steps.cancellation_lines(cancellation=cancellation, accepted=item),
                         cancelled_before=item.ctx.cancelled, user=item.request.user)
        for item, cancellation in zip(accepted, cancellations, strict=True)
    ]
    steps.complete(items)
    steps.save_cancellation_lines(items)
    with grouping.grouped():  # receivers' writes and after-commit messages: one per chunk
        for item, done in zip(accepted, items, strict=True):
            steps.send_cancelled(order=done.order, cancellation=done.cancellation,
                                 user=item.request.user, notify_customer=item.request.notify_customer,
                                 channel=done.cancellation.channel, cancelled_lines=done.records)
            outcomes[id(item.request)].cancellation = done.cancellation
    return [outcomes[id(r)] for r in requests]
