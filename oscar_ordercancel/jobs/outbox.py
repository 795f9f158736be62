"""The transactional outbox: one ``CancelJob`` per configured processor, in the cancellation's
transaction, and a Celery wake-up once it has committed.

A cancellation and its jobs commit together or not at all. The wake-up may be
lost (broker down, process killed after commit): ``ordercancel_dispatch`` and
its beat task sweep up jobs that nobody picked up.

A batch chunk (``order_cancelled`` sent inside :func:`oscar_ordercancel.grouping.grouped`)
writes the jobs of all its cancellations with one ``INSERT``, inside its
transaction, when its last signal has been sent; the payloads are built from
the records the engine has in memory (it passes ``cancelled_lines``), and one
wake-up goes out per ``OSCAR_ORDERCANCEL_DISPATCH_BATCH`` jobs after commit.

State kept here:

* ``_broker_paused_until`` (process-global, on purpose): after a publish
  failed, wake-ups are not attempted for ``BROKER_PAUSE_SECONDS`` in this
  process, so that requests do not each wait for a dead broker; the
  dispatcher resets it (:func:`broker_is_back`) once it has published.
* ``_held`` (a context variable, so per thread / asyncio task): set inside
  :func:`wake_ups_held`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from oscar.core.loading import get_model

from oscar_ordercancel import grouping, queue
from oscar_ordercancel.conf import get_setting, reason_label
from oscar_ordercancel.db.bulk import insert_rows

logger = logging.getLogger(__name__)

#: The version of the payload's JSON shape (documented in docs/processors.rst).
PAYLOAD_VERSION = 1

#: The payload's ``cancellation.mode``: done at once, or a request the processors decide.
MODE_IMMEDIATE = "immediate"
MODE_REQUEST = "request"


def new_idempotency_key() -> str:
    """A fresh key; a job keeps it for every retry and resend."""
    return f"oc_{uuid.uuid4().hex}"


def _erp_status_code(status: str) -> str:
    OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")
    return OrderStatusMapping.objects.filter(status=status).values_list(
        "erp_status_code", flat=True).first() or ""


def _erp_status_codes(statuses) -> dict[str, str]:
    """``{status: ERP status code}`` of ``statuses`` (one query)."""
    OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")
    return dict(OrderStatusMapping.objects.filter(status__in=set(statuses)).order_by().values_list(
        "status", "erp_status_code"))


def _reason_label(code: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return reason_label(code) if code else ""


def _money(value) -> str:
    return f"{value:.2f}" if value is not None else "0.00"


def line_payload(record) -> dict:
    """A payload's entry for one cancelled (or withdrawn) line: ``record`` has ``line`` and ``quantity``."""
    line = record.line
    return {
        "line_id": record.line_id,
        "partner_sku": line.partner_sku,
        "partner_line_reference": line.partner_line_reference,
        "upc": line.upc or "",
        "title": line.title,
        "quantity": record.quantity,
        "ordered_quantity": line.quantity,
    }


def build_payload(order, cancellation, *, mode: str, records=None, erp_status_code: str | None = None,
                  label: str | None = None) -> dict:
    """The version-1 payload of ``cancellation``, without its idempotency key.

    ``records`` (the cancellation's ``OrderCancellationLine`` records, each with
    its ``line``, in the order they were written), ``erp_status_code`` (of the
    order's status) and ``label`` (of the reason) are read when not given.
    """
    from oscar_ordercancel.payment import cancelled_value

    if records is None:
        records = list(cancellation.lines.select_related("line").order_by("pk"))
    if erp_status_code is None:
        erp_status_code = _erp_status_code(order.status)
    if label is None:
        label = _reason_label(cancellation.reason)
    lines_by_id = {record.line_id: record.line for record in records}
    quantities = {record.line_id: record.quantity for record in records}
    return {
        "version": PAYLOAD_VERSION,
        "job": "OrderCancel",
        "parameters": {"OrderNumber": str(order.number)},
        "cancellation": {
            "id": cancellation.pk,
            "mode": mode,
            "state": cancellation.state,
            "full": cancellation.is_full,
            "channel": cancellation.channel,
            "created": cancellation.date_created.isoformat(),
            "completed": (cancellation.date_completed.isoformat()
                          if cancellation.date_completed else None),
        },
        "order": {
            "number": str(order.number),
            "status": order.status,
            "erp_status_code": erp_status_code,
            "previous_status": cancellation.previous_status,
            "currency": order.currency,
            "total_incl_tax": _money(order.total_incl_tax),
        },
        "lines": [line_payload(record) for record in records],
        "reason": {"code": cancellation.reason, "label": label},
        "note": cancellation.note,
        "forced": cancellation.forced,
        "refund": cancellation.refund_requested,
        "amounts": {
            "currency": order.currency,
            "cancelled_value": _money(cancelled_value(lines_by_id, quantities)),
            "voided": _money(cancellation.void_amount),
            "refunded": _money(cancellation.refund_amount),
        },
    }


def _processor_names() -> list[str]:
    return [entry["name"] for entry in get_setting("OSCAR_ORDERCANCEL_PROCESSORS")]


def _new_jobs(cancellation, payload: dict, names: list[str], now) -> list:
    """One unsaved pending job per processor, each with its own idempotency key."""
    CancelJob = get_model("oscar_ordercancel", "CancelJob")
    jobs = []
    for name in names:
        key = new_idempotency_key()
        jobs.append(CancelJob(
            cancellation=cancellation, processor=name, idempotency_key=key,
            payload={**payload, "idempotency_key": key, "processor": name},
            date_created=now, next_attempt_at=now,
        ))
    return jobs


def write_jobs(order, cancellation, *, mode: str) -> list:
    """Create one pending job per configured processor (inside the caller's transaction)."""
    CancelJob = get_model("oscar_ordercancel", "CancelJob")
    names = _processor_names()
    if not names:
        return []
    payload = build_payload(order, cancellation, mode=mode)
    jobs = CancelJob.objects.bulk_create(_new_jobs(cancellation, payload, names, timezone.now()))
    if _held.get():
        logger.info("Wake-ups are held: cancel jobs %s wait for the dispatcher",
                    [job.pk for job in jobs])
    else:
        transaction.on_commit(partial(enqueue, [job.pk for job in jobs], fresh=True))
    return jobs


def write_jobs_together(items) -> list[int]:
    """The jobs of many immediate cancellations (a batch chunk) in one ``INSERT``; their ids.

    ``items`` are ``(order, cancellation, records)``, ``records`` being the
    cancellation's line records with their lines, or ``None`` (then all missing
    ones are read with one query). Runs inside the chunk's transaction; after
    commit, one wake-up per ``OSCAR_ORDERCANCEL_DISPATCH_BATCH`` jobs (none
    inside :func:`wake_ups_held`). A cancellation that already has jobs (a
    confirmed request) gets none: those waiting are told it is done, as
    :func:`on_order_cancelled` does for one.
    """
    CancelJob = get_model("oscar_ordercancel", "CancelJob")
    OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")
    names = _processor_names()
    if not names or not items:
        return []
    asked = set(CancelJob.objects.filter(
        cancellation_id__in=[cancellation.pk for __, cancellation, __ in items]
    ).values_list("cancellation_id", flat=True).distinct())
    new = []
    for order, cancellation, records in items:
        if cancellation.pk in asked:
            tell_confirmed(order, cancellation)
        else:
            new.append((order, cancellation, records))
    missing = [cancellation.pk for __, cancellation, records in new if records is None]
    read: dict[int, list] = {pk: [] for pk in missing}
    if missing:
        for record in OrderCancellationLine.objects.filter(cancellation_id__in=missing).select_related(
                "line").order_by("pk"):
            read[record.cancellation_id].append(record)
    codes = _erp_status_codes(order.status for order, __, __ in new)
    labels: dict[str, str] = {}
    rows = []
    for order, cancellation, records in new:
        if cancellation.reason not in labels:
            labels[cancellation.reason] = _reason_label(cancellation.reason)
        payload = build_payload(
            order, cancellation, mode=MODE_IMMEDIATE,
            records=read[cancellation.pk] if records is None else records,
            erp_status_code=codes.get(order.status, ""), label=labels[cancellation.reason])
        for name in names:
            key = new_idempotency_key()
            rows.append({"cancellation_id": cancellation.pk, "processor": name, "idempotency_key": key,
                         "payload": {**payload, "idempotency_key": key, "processor": name}})
    now = timezone.now()
    ids = insert_rows(CancelJob, rows, returning=True, same={
        "state": CancelJob.State.PENDING, "date_created": now, "next_attempt_at": now})
    if _held.get():
        logger.info("Wake-ups are held: %d cancel jobs wait for the dispatcher", len(ids))
    else:
        size = int(get_setting("OSCAR_ORDERCANCEL_DISPATCH_BATCH"))
        for start in range(0, len(ids), size):
            transaction.on_commit(partial(enqueue, ids[start:start + size], fresh=True))
    return ids


#: After a failed publish, wake-ups are not attempted for this many seconds: a broker
#: client may spend seconds on one failing connection (redis-py retries with backoff),
#: and every cancellation request would pay for it. The dispatcher sweeps the jobs up.
BROKER_PAUSE_SECONDS = 30.0
_broker_paused_until = 0.0


_held = ContextVar("ordercancel_wake_ups_held", default=False)


@contextmanager
def wake_ups_held() -> Iterator[None]:
    """Jobs written inside are not woken when they commit: they wait for the dispatcher.

    For imports and demo data (the sandbox shows a request the ERP has not
    answered yet this way); ``manage.py ordercancel_dispatch`` delivers them.
    """
    token = _held.set(True)
    try:
        yield
    finally:
        _held.reset(token)


def broker_is_back() -> None:
    """Forget an earlier publish failure (the dispatcher calls this after publishing)."""
    global _broker_paused_until
    _broker_paused_until = 0.0


def enqueue(job_ids: list[int], *, fresh: bool = False) -> None:
    """Wake a worker for ``job_ids`` (after commit). A lost wake-up is swept up later.

    ``fresh`` marks the one wake-up the outbox sends for new jobs: a worker that
    already ran them while topping up may skip it without asking the database.
    """
    global _broker_paused_until
    if not job_ids:
        return
    if not queue.celery_configured():
        logger.info("Celery is not configured: cancel jobs %s wait for ordercancel_dispatch", job_ids)
        return
    if time.monotonic() < _broker_paused_until:
        logger.info("The broker failed recently: cancel jobs %s wait for the dispatcher", job_ids)
        return
    from kombu.exceptions import OperationalError

    try:
        # No publish retries: the job is safe in the database, and the dispatcher
        # re-queues it; retrying here would only hold up the request that cancelled.
        queue.send_task(queue.DELIVER_CANCEL_JOBS, (job_ids,), {"fresh": True} if fresh else None,
                        retry=False)
    except (OperationalError, OSError):
        _broker_paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("Could not queue cancel jobs %s; the dispatcher will (no wake-ups for "
                       "%.0f s)", job_ids, BROKER_PAUSE_SECONDS, exc_info=True)
    except Exception:  # noqa: BLE001 - the cancellation has committed (eager mode: the task
        # itself failed); the job's state says what happened; log and go on
        logger.exception("Delivering cancel jobs %s failed", job_ids)


def _settled_payload(job, order, cancellation) -> dict:
    """``job``'s payload rebuilt with the cancellation as it is now; same key, same processor."""
    payload = build_payload(order, cancellation, mode=job.payload.get("cancellation", {}).get(
        "mode", MODE_REQUEST))
    return {**payload, "idempotency_key": job.idempotency_key, "processor": job.processor}


def tell_confirmed(order, cancellation) -> int:
    """A request confirmed while some of its jobs wait: they will say it is done.

    Their payload is rebuilt (``"state": "completed"``, the order's status now,
    the amounts voided or refunded), so a processor that has not answered
    learns that the shop has cancelled instead of being asked. A job a worker
    is calling now sends the new payload on its next attempt, if it needs one.
    Returns how many jobs were changed.
    """
    CancelJob = get_model("oscar_ordercancel", "CancelJob")
    waiting = cancellation.jobs.filter(state__in=[
        CancelJob.State.PENDING, CancelJob.State.RUNNING, CancelJob.State.FAILED])
    count = 0
    for job in waiting.only("pk", "payload", "idempotency_key", "processor"):
        CancelJob.objects.filter(pk=job.pk).update(payload=_settled_payload(job, order, cancellation))
        count += 1
    return count


def refresh_payload(job) -> bool:
    """Before ``job`` is sent again: a payload that still asks about a request that has since
    been confirmed says it is done. Returns whether the payload changed (and was saved)."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    cancellation = job.cancellation
    if cancellation is None:  # an OrderWithdrawal job: its payload never changes
        return False
    if (job.payload.get("cancellation", {}).get("state") != OrderCancellation.State.REQUESTED
            or cancellation.state != OrderCancellation.State.COMPLETED):
        return False
    job.payload = _settled_payload(job, cancellation.order, cancellation)
    job.save(update_fields=["payload", "date_updated"])
    return True


def on_order_cancelled(sender, order, cancellation, cancelled_lines=None, **kwargs) -> None:
    """``order_cancelled`` receiver: jobs for an immediate cancellation.

    A confirmed request already has its jobs (the ERP was asked once): no second
    set is written. Those still waiting (staff confirmed before every processor
    answered) are told that the cancellation is done (:func:`tell_confirmed`).
    In a batch chunk (inside ``grouping.grouped()``) the chunk's jobs are
    written together when its signals have all been sent
    (:func:`write_jobs_together`), from the ``cancelled_lines`` the engine passes.
    """
    if not get_setting("OSCAR_ORDERCANCEL_PROCESSORS"):
        return
    if grouping.defer_write(write_jobs_together, (order, cancellation, cancelled_lines)):
        return
    if cancellation.jobs.exists():
        tell_confirmed(order, cancellation)
        return
    write_jobs(order, cancellation, mode=MODE_IMMEDIATE)


#: The payload's ``job`` of a withdrawal declaration (docs/processors.rst).
WITHDRAWAL_JOB = "OrderWithdrawal"


def build_withdrawal_payload(declaration) -> dict:
    """The version-1 ``OrderWithdrawal`` payload of ``declaration``, without its idempotency key."""
    order = declaration.order
    records = list(declaration.lines.select_related("line").order_by("pk"))
    return {
        "version": PAYLOAD_VERSION,
        "job": WITHDRAWAL_JOB,
        "parameters": {"OrderNumber": str(order.number),
                       "WithdrawalReference": declaration.reference},
        "withdrawal": {
            "id": declaration.pk,
            "reference": declaration.reference,
            "channel": declaration.channel,
            "state": declaration.state,
            "declared": declaration.date_declared.isoformat(),
            "refund_due_by": (declaration.refund_due_by.isoformat()
                              if declaration.refund_due_by else None),
            "cancellation_id": declaration.cancellation_id,
            "content_digest": declaration.content_digest,
        },
        "declarant": {"name": declaration.name, "email": declaration.email},
        "order": {
            "number": str(order.number),
            "status": order.status,
            "erp_status_code": _erp_status_code(order.status),
            "currency": order.currency,
            "total_incl_tax": _money(order.total_incl_tax),
        },
        "lines": [{**line_payload(record), "outcome": record.outcome} for record in records],
    }


def on_withdrawal_declared(sender, declaration, **kwargs) -> None:
    """``withdrawal_declared`` receiver: one ``OrderWithdrawal`` job per processor, in the
    declaration's transaction (the lines cancelled at once also get their ``OrderCancel`` jobs)."""
    names = _processor_names()
    if not names:
        return
    CancelJob = get_model("oscar_ordercancel", "CancelJob")
    payload = build_withdrawal_payload(declaration)
    now = timezone.now()
    jobs = []
    for name in names:
        key = new_idempotency_key()
        jobs.append(CancelJob(
            withdrawal=declaration, processor=name, idempotency_key=key,
            payload={**payload, "idempotency_key": key, "processor": name},
            date_created=now, next_attempt_at=now))
    jobs = CancelJob.objects.bulk_create(jobs)
    if not _held.get():
        transaction.on_commit(partial(enqueue, [job.pk for job in jobs], fresh=True))


def on_cancellation_pending(sender, order, cancellation, **kwargs) -> None:
    """``order_cancellation_pending`` receiver: jobs that ask the processors to confirm."""
    if not get_setting("OSCAR_ORDERCANCEL_PROCESSORS"):
        return
    write_jobs(order, cancellation, mode=MODE_REQUEST)
