"""Deliver cancel jobs: claim in the database, call the processor outside any transaction,
record the outcome.

The job row is the source of truth. A worker claims due jobs with
``SELECT … FOR UPDATE SKIP LOCKED``, marks them running with a lease and
commits; only then does it call the processor, so no transaction stays open
during a slow HTTP call and two workers never run one job. A retry is a time
in ``next_attempt_at`` that the dispatcher (a beat task, or the
``ordercancel_dispatch`` command) acts on, never a Celery countdown.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel import signals
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.processors.base import (
    PermanentError,
    ProcessorError,
    Rejection,
    RetryableError,
    Success,
)
from oscar_ordercancel.processors.registry import get_processor

logger = logging.getLogger(__name__)

#: Seconds kept free at the end of a lease, so a call never outlives it.
LEASE_MARGIN = 1.0


def _models():
    return get_model("oscar_ordercancel", "CancelJob"), get_model("oscar_ordercancel", "CancelJobAttempt")


@dataclass
class Outcome:
    """What one delivery did to one job."""

    job_id: int
    outcome: str  # a CancelJobAttempt.Outcome value
    error: str = ""


def retry_policy() -> dict:
    """``OSCAR_ORDERCANCEL_RETRY`` with the defaults filled in."""
    from oscar_ordercancel import defaults

    return {**defaults.OSCAR_ORDERCANCEL_RETRY, **(get_setting("OSCAR_ORDERCANCEL_RETRY") or {})}


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Delay before attempt ``attempts + 1``: exponential, half of it jittered, capped.

    A receiver's ``Retry-After`` is a floor (up to a day).
    """
    policy = retry_policy()
    ceiling = min(float(policy["backoff_max"]), float(policy["backoff"]) * 2 ** max(attempts - 1, 0))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after:
        delay = max(delay, min(float(retry_after), 86400.0))
    return delay


def due_q(now) -> Q:
    """Jobs whose time has come, or whose worker's lease ran out."""
    CancelJob, __ = _models()
    return (Q(state=CancelJob.State.PENDING, next_attempt_at__lte=now)
            | Q(state=CancelJob.State.RUNNING, lease_expires_at__lte=now))


def claim(job_ids: list[int] | None = None, *, limit: int | None = None) -> list:
    """Lock due jobs (skipping those another worker holds), mark them running, commit."""
    CancelJob, CancelJobAttempt = _models()
    now = timezone.now()
    limit = limit or get_setting("OSCAR_ORDERCANCEL_DISPATCH_BATCH")
    features = connection.features
    lock = {}
    if features.has_select_for_update_skip_locked:
        lock["skip_locked"] = True
    with transaction.atomic():
        queryset = CancelJob.objects.filter(due_q(now))
        if job_ids is not None:
            queryset = queryset.filter(pk__in=list(job_ids))
        order = ["next_attempt_at", "pk"]
        jobs = list(queryset.select_for_update(**lock).order_by(*order)[:limit])
        if not jobs:
            return []
        lost = [job for job in jobs if job.state == CancelJob.State.RUNNING]
        lease = now + timedelta(seconds=get_setting("OSCAR_ORDERCANCEL_LEASE_SECONDS"))
        CancelJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
            state=CancelJob.State.RUNNING, attempts=F("attempts") + 1, lease_expires_at=lease,
            date_updated=now)
        if lost:  # the worker that held these died or hung past its lease
            CancelJobAttempt.objects.bulk_create(
                CancelJobAttempt(job=job, started_at=job.date_updated, outcome="lost",
                                 error=_("The worker stopped before reporting (lease expired)."))
                for job in lost)
    for job in jobs:
        job.state, job.attempts, job.lease_expires_at = CancelJob.State.RUNNING, job.attempts + 1, lease
    return jobs


def release(jobs) -> None:
    """Give claimed, not yet called jobs back (due now), e.g. when the lease would run out."""
    CancelJob, __ = _models()
    CancelJob.objects.filter(pk__in=[job.pk for job in jobs], state=CancelJob.State.RUNNING).update(
        state=CancelJob.State.PENDING, attempts=F("attempts") - 1, lease_expires_at=None,
        next_attempt_at=timezone.now())


def deliver(job_ids: list[int] | None = None, *, limit: int | None = None) -> list[Outcome]:
    """Claim due jobs (of ``job_ids``, or any) and run each; return what happened."""
    outcomes, __ = _run_batch(claim(job_ids, limit=limit))
    return outcomes


def _run_batch(jobs) -> tuple[list[Outcome], bool]:
    """Run claimed jobs in turn; give back those the lease would not cover (then False)."""
    from oscar_ordercancel.integrations.outbox import enqueue

    deadline = time.monotonic() + get_setting("OSCAR_ORDERCANCEL_LEASE_SECONDS") - LEASE_MARGIN
    outcomes = []
    for index, job in enumerate(jobs):
        processor = get_processor(job.processor)
        if processor is not None and time.monotonic() + processor.timeout > deadline:
            if index:  # the rest go back for another worker (or the next wake-up)
                rest = jobs[index:]
                release(rest)
                enqueue([j.pk for j in rest])
                return outcomes, False
            logger.warning("Cancel processor %s: its timeout (%ss) exceeds the job lease; "
                           "see check ordercancel.E012", job.processor, processor.timeout)
        outcomes.append(run(job, processor))
    return outcomes, True


def _call(job, processor):
    """Call the processor; return (result, error) where exactly one is set."""
    if processor is None:
        return None, PermanentError(
            _("No cancel processor named '%(name)s' is configured.") % {"name": job.processor})
    try:
        result = processor.process(job.payload, job.idempotency_key)
    except ProcessorError as exc:
        return None, exc
    except Exception as exc:  # noqa: BLE001 - a processor bug or an unexpected library error
        logger.exception("Cancel processor %s raised on job %s", job.processor, job.pk)
        return None, RetryableError(f"{type(exc).__name__}: {exc}")
    return (result if result is not None else Success()), None


def run(job, processor) -> Outcome:
    """Call the processor for one claimed job and record the outcome and the attempt."""
    CancelJob, CancelJobAttempt = _models()
    State, Result = CancelJob.State, CancelJobAttempt.Outcome
    started, began = timezone.now(), time.monotonic()
    result, error = _call(job, processor)
    duration_ms = int((time.monotonic() - began) * 1000)
    now = timezone.now()
    final = False
    fields = {"lease_expires_at": None, "date_updated": now}
    if isinstance(result, Rejection):
        outcome = Result.REJECTED
        fields.update(state=State.REJECTED, rejection_reason=result.reason, last_error="",
                      next_attempt_at=None, date_finished=now)
    elif result is not None:
        outcome = Result.SUCCEEDED
        fields.update(state=State.SUCCEEDED, last_error="", next_attempt_at=None, date_finished=now)
    else:
        final = isinstance(error, PermanentError) or job.attempts >= int(retry_policy()["max_attempts"])
        if final:
            outcome = Result.FAILED
            fields.update(state=State.FAILED, last_error=str(error), next_attempt_at=None,
                          date_finished=now)
        else:
            outcome = Result.RETRY
            delay = backoff_seconds(job.attempts, getattr(error, "retry_after", None))
            fields.update(state=State.PENDING, last_error=str(error),
                          next_attempt_at=now + timedelta(seconds=delay))
    answer = result if result is not None else error
    cap = get_setting("OSCAR_ORDERCANCEL_ATTEMPT_RESPONSE_CHARS")
    with transaction.atomic():
        # attempts= is the claim's token: a worker whose lease ran out and whose job was
        # claimed again (or given up by staff) must not overwrite the newer state.
        updated = CancelJob.objects.filter(pk=job.pk, state=State.RUNNING, attempts=job.attempts).update(
            **fields)
        CancelJobAttempt.objects.create(
            job=job, started_at=started, duration_ms=duration_ms, outcome=outcome,
            http_status=getattr(answer, "http_status", None),
            error=str(error) if error is not None else getattr(result, "reason", ""),
            response=(getattr(answer, "response", "") or "")[:cap],
        )
    for name, value in fields.items():
        setattr(job, name, value)
    if not updated:
        logger.warning("Cancel job %s changed while its processor ran; outcome %s only logged",
                       job.pk, outcome)
        return Outcome(job.pk, outcome, str(error or ""))
    _after(job, outcome, result, error, final)
    return Outcome(job.pk, outcome, str(error or ""))


def _after(job, outcome: str, result, error, final: bool) -> None:
    """Signals, request-mode settlement and the failure alert, after the outcome committed."""
    CancelJob, __ = _models()
    if outcome == "succeeded":
        signals.cancel_job_succeeded.send(sender=CancelJob, job=job)
    elif outcome == "rejected":
        signals.cancel_job_rejected.send(sender=CancelJob, job=job, reason=result.reason)
    else:
        signals.cancel_job_failed.send(sender=CancelJob, job=job, error=str(error), final=final)
    if job.payload.get("cancellation", {}).get("mode") == "request" and outcome in (
            "succeeded", "rejected"):
        settle_request(job, result)
    if outcome == "failed":
        from oscar_ordercancel.integrations.monitor import check_failure_streak

        check_failure_streak(job.processor)


def settle_request(job, result) -> None:
    """Request mode: confirm when every processor succeeded; reject when one refused."""
    from oscar_ordercancel.services import confirm_cancellation, reject_cancellation

    CancelJob, __ = _models()
    Order = get_model("order", "Order")
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    try:
        with transaction.atomic():
            order_id = OrderCancellation.objects.values_list("order_id", flat=True).get(
                pk=job.cancellation_id)
            # The order row is the lock every settlement takes first (as the engine does).
            Order.objects.select_for_update().filter(pk=order_id).exists()
            cancellation = OrderCancellation.objects.get(pk=job.cancellation_id)
            if cancellation.state != OrderCancellation.State.REQUESTED:
                return
            if isinstance(result, Rejection):
                reason = result.reason or _("Declined by %(processor)s") % {"processor": job.processor}
                reject_cancellation(cancellation, reason=reason)
                CancelJob.objects.filter(
                    cancellation_id=cancellation.pk, state=CancelJob.State.PENDING,
                ).update(state=CancelJob.State.FAILED, next_attempt_at=None,
                         date_finished=timezone.now(),
                         last_error=_("Not sent: %(processor)s declined the request.")
                         % {"processor": job.processor})
            elif not CancelJob.objects.filter(cancellation_id=cancellation.pk).exclude(
                    state=CancelJob.State.SUCCEEDED).exists():
                confirm_cancellation(cancellation, note=_("Confirmed by %(processors)s") % {
                    "processors": ", ".join(cancellation.jobs.values_list("processor", flat=True))})
    except Exception:  # noqa: BLE001 - the request stays visible; staff settle it by hand
        logger.exception("Could not settle requested cancellation #%s after job %s",
                         job.cancellation_id, job.pk)


def due_job_ids(*, grace: float | None = None, limit: int | None = None) -> list[int]:
    """Jobs to wake: retries that are due, expired leases, and fresh jobs nobody picked up."""
    CancelJob, __ = _models()
    now = timezone.now()
    if grace is None:
        grace = get_setting("OSCAR_ORDERCANCEL_DISPATCH_GRACE_SECONDS")
    stale = now - timedelta(seconds=grace)
    queryset = CancelJob.objects.filter(
        Q(state=CancelJob.State.PENDING, attempts__gt=0, next_attempt_at__lte=now)
        | Q(state=CancelJob.State.PENDING, attempts=0, next_attempt_at__lte=stale)
        | Q(state=CancelJob.State.RUNNING, lease_expires_at__lte=now)
    ).order_by("next_attempt_at", "pk").values_list("pk", flat=True)
    return list(queryset[:limit] if limit else queryset)


def dispatch(*, grace: float | None = None, limit: int | None = None, inline: bool = False) -> int:
    """Wake workers for due jobs (or, ``inline``, deliver them here); return how many."""
    ids = due_job_ids(grace=grace, limit=limit)
    batch = get_setting("OSCAR_ORDERCANCEL_DISPATCH_BATCH")
    chunks = [ids[i:i + batch] for i in range(0, len(ids), batch)]
    if inline:
        for chunk in chunks:
            deliver(chunk)
        return len(ids)
    from oscar_ordercancel.integrations.outbox import broker_is_back
    from oscar_ordercancel.tasks import deliver_cancel_jobs

    for chunk in chunks:
        deliver_cancel_jobs.apply_async((chunk,))
    broker_is_back()
    return len(ids)
