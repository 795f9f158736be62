"""Run a previewed batch: valid rows through the batch engine, chunk by chunk, exactly once.

Each chunk is one transaction that locks the batch row, takes the next rows
that are not done yet, cancels their orders and marks the rows done with their
result. A worker that dies mid-chunk leaves that chunk uncommitted, so running
the batch again carries on from the first row not done: no row is lost or done
twice, and two workers on one batch take turns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel import queue
from oscar_ordercancel.batches.messages import policy_params, render
from oscar_ordercancel.batches.preview import pinned_actor
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.db.bulk import bulk_set
from oscar_ordercancel.db.transactions import cancellation_transaction
from oscar_ordercancel.engine.batch import CancelRequest, cancel_many

CancellationBatch = get_model("oscar_ordercancel", "CancellationBatch")
CancellationBatchRow = get_model("oscar_ordercancel", "CancellationBatchRow")

logger = logging.getLogger(__name__)


def start_batch(batch, *, enqueue: bool = True):
    """Queue a previewed batch; rows the preview refused end as ERROR right away.

    With ``enqueue`` the Celery task is sent once the transaction commits (or the
    batch runs in-process when Celery is not installed). Starting twice does nothing.
    """
    with transaction.atomic():
        locked = CancellationBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.state != CancellationBatch.State.PREVIEWED:
            return locked
        now = timezone.now()
        refused = locked.rows.filter(preview_status=CancellationBatchRow.Preview.ERROR).update(
            status=CancellationBatchRow.Result.ERROR, code=F("preview_code"),
            message=F("preview_message"), params=F("preview_params"), date_done=now)
        locked.state = CancellationBatch.State.QUEUED
        locked.processed_rows = locked.failed_rows = refused
        locked.save(update_fields=["state", "processed_rows", "failed_rows"])
        if enqueue:
            transaction.on_commit(lambda: enqueue_batch(locked.pk))
    return locked


def enqueue_batch(batch_id: int) -> None:
    """Send the batch's Celery task (run it here when Celery is not installed or configured)."""
    if not queue.celery_configured():
        run_batch(batch_id)
        return
    queue.send_task(queue.RUN_CANCELLATION_BATCH, (batch_id,))


def _claim(batch_id: int):
    with transaction.atomic():
        batch = (CancellationBatch.objects.select_for_update(of=("self",)).select_related("user")
                 .get(pk=batch_id))
        if batch.state not in (CancellationBatch.State.QUEUED, CancellationBatch.State.RUNNING):
            return None
        now = timezone.now()
        batch.state = CancellationBatch.State.RUNNING
        batch.date_started = batch.date_started or now
        batch.date_progress = now
        batch.save(update_fields=["state", "date_started", "date_progress"])
    return batch


def _next_rows(batch, size: int) -> list:
    """The next rows not done, in file order, at most one per order (a chunk cancels each once)."""
    picked, orders = [], set()
    # Whole-order rows name each order once (the preview refused duplicates); line rows may
    # name one order several times, so look further ahead for rows of other orders.
    ahead = size * 4 if batch.kind == batch.Kind.LINES else size
    for row in (CancellationBatchRow.objects.filter(batch_id=batch.pk, status="")
                .defer("raw", "preview_message").order_by("row_number")[:ahead]):
        if row.order_id in orders:
            continue
        orders.add(row.order_id)
        picked.append(row)
        if len(picked) >= size:
            break
    return picked


def _request(row, batch, user) -> CancelRequest:
    options = row.options or {}
    lines = options.get("lines")
    return CancelRequest(
        order_id=row.order_id, user=user,
        lines={int(pk): int(qty) for pk, qty in lines.items()} if lines else None,
        reason=options.get("reason", ""), note=options.get("note", ""),
        force=bool(options.get("force")), refund=bool(options.get("refund")),
        channel=batch.channel, notify_customer=batch.notify_customer, batch=batch, key=row)


def _set_result(row, status: str, code: str, params: dict, message: str = "") -> None:
    """The row's result: its code and parameters, and its message as now written (a fallback)."""
    row.status, row.code, row.params = status, code, params
    row.message = render(code, params, message) or message


def _error_params(row, error) -> dict:
    """The parameters of a refusal at run time (the engine's words are kept as text beside them)."""
    if error.code == "unknown_order":
        return {"gone": True}
    if error.code == "quantity_not_cancellable" and row.sku:
        return {"sku": row.sku, "asked": row.quantity, "available": error.params.get("available")}
    return policy_params(error.code, error.message, error.params)


def run_chunk(batch_id: int, user, size: int) -> tuple[object, int]:
    """Process the next chunk in one transaction; return the batch and how many rows it did."""
    Result = CancellationBatchRow.Result
    with cancellation_transaction():
        batch = CancellationBatch.objects.select_for_update().get(pk=batch_id)
        if batch.state != CancellationBatch.State.RUNNING:
            return batch, 0
        rows = _next_rows(batch, size)
        now = timezone.now()
        if not rows:
            batch.state = CancellationBatch.State.COMPLETED
            batch.date_finished = batch.date_progress = now
            batch.save(update_fields=["state", "date_finished", "date_progress"])
            return batch, 0
        runnable = [row for row in rows if row.order_id]
        outcomes = cancel_many([_request(row, batch, user) for row in runnable])
        for row in rows:
            if not row.order_id:
                _set_result(row, Result.ERROR, "unknown_order", {"gone": True})
        for outcome in outcomes:
            row = outcome.request.key
            if outcome.ok:
                row.cancellation = outcome.cancellation
                _set_result(row, Result.SUCCESS, "ok", {"full": outcome.cancellation.is_full})
            else:
                _set_result(row, Result.ERROR, outcome.error.code, _error_params(row, outcome.error),
                            outcome.error.message)
        for row in rows:
            row.date_done = now
        bulk_set(rows, ["status", "code", "message", "params", "cancellation", "date_done"])
        succeeded = sum(1 for row in rows if row.status == Result.SUCCESS)
        batch.processed_rows += len(rows)
        batch.succeeded_rows += succeeded
        batch.failed_rows += len(rows) - succeeded
        batch.date_progress = now
        batch.save(update_fields=["processed_rows", "succeeded_rows", "failed_rows", "date_progress"])
    return batch, len(rows)


def run_batch(batch_id: int, *, on_progress: Callable | None = None, chunk_size: int | None = None):
    """Run (or resume) a queued batch to its end; return it. Safe to call again at any time."""
    claimed = _claim(batch_id)
    if claimed is None:
        return CancellationBatch.objects.get(pk=batch_id)
    size = int(chunk_size or get_setting("OSCAR_ORDERCANCEL_BATCH_CHUNK_SIZE"))
    user = claimed.user
    try:
        with pinned_actor(user):
            while True:
                batch, done = run_chunk(batch_id, user, size)
                if on_progress is not None:
                    on_progress(batch, done)
                if not done:
                    return batch
    except Exception as exc:
        logger.exception("Cancellation batch #%s stopped", batch_id)
        CancellationBatch.objects.filter(pk=batch_id).update(
            state=CancellationBatch.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000],
            date_finished=timezone.now())
        raise


def stalled_batches():
    """Running batches whose worker stopped making progress (e.g. it was killed)."""
    limit = timezone.now() - timedelta(
        seconds=int(get_setting("OSCAR_ORDERCANCEL_BATCH_STALL_SECONDS")))
    return CancellationBatch.objects.filter(state=CancellationBatch.State.RUNNING,
                                            date_progress__lt=limit)
