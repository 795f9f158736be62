"""Deliver cancel jobs: claim in the database, call the processor outside any transaction,
record the outcome.

The job row is the source of truth. A worker claims due jobs with
``SELECT … FOR UPDATE SKIP LOCKED``, marks them running with a lease and
commits; only then does it call the processor, so no transaction stays open
during a slow HTTP call and two workers never run one job. A retry is a time
in ``next_attempt_at`` that the dispatcher (a beat task, or the
``ordercancel_dispatch`` command) acts on, never a Celery countdown.

A request settled while its jobs wait decides what they do (docs/processors.rst,
"A request settled while its jobs wait"): a declined request's jobs are never
claimed and become ``not_sent`` (:func:`withdraw`); a confirmed one's are sent
with a payload that says so (``outbox.tell_confirmed``).

On PostgreSQL the claim and the outcome are one statement each
(:mod:`.statements`) unless ``OSCAR_ORDERCANCEL_DELIVERY_SINGLE_STATEMENTS`` is
off; other databases use the ORM. Both run on the database the router picks
for writing ``CancelJob``.

This module keeps no state between calls. A worker that tops up remembers the
jobs it took, so that their own wake-ups cost nothing when they reach it; that
memory is a :class:`~oscar_ordercancel.jobs.worker.TakenJobs` the caller passes
(the Celery task keeps one per worker process).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel import queue, signals
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.engine.settlement import settle_request
from oscar_ordercancel.jobs import statements
from oscar_ordercancel.jobs.outbox import MODE_REQUEST, broker_is_back, enqueue
from oscar_ordercancel.jobs.worker import TakenJobs
from oscar_ordercancel.processors.base import (
    PermanentError,
    ProcessorError,
    Rejection,
    RetryableError,
    Success,
)
from oscar_ordercancel.processors.registry import get_processor

CancelJob = get_model("oscar_ordercancel", "CancelJob")
CancelJobAttempt = get_model("oscar_ordercancel", "CancelJobAttempt")
OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")

logger = logging.getLogger(__name__)

#: Seconds kept free at the end of a lease, so a call never outlives it.
LEASE_MARGIN = 1.0


@dataclass
class Outcome:
    """What one delivery did to one job."""

    job_id: int
    outcome: str  # a CancelJobAttempt.Outcome
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


def declined_request() -> Exists:
    """True for a job whose cancellation is a declined request: it is never to be sent."""
    return Exists(OrderCancellation.objects.filter(
        pk=OuterRef("cancellation_id"), state=OrderCancellation.State.REJECTED))


def due_q(now, *, pending_only: bool = False) -> Q:
    """Jobs whose time has come, or (unless ``pending_only``) whose worker's lease ran out.

    A job of a declined request is never due: nothing of it may reach a processor.
    """
    pending = Q(state=CancelJob.State.PENDING, next_attempt_at__lte=now)
    if not pending_only:
        pending |= Q(state=CancelJob.State.RUNNING, lease_expires_at__lte=now)
    return pending & Q(~declined_request())


def single_statements() -> bool:
    """Whether claims and outcomes are one statement each (:mod:`.statements`): on PostgreSQL,
    unless ``OSCAR_ORDERCANCEL_DELIVERY_SINGLE_STATEMENTS`` turns it off; else the ORM."""
    return (bool(get_setting("OSCAR_ORDERCANCEL_DELIVERY_SINGLE_STATEMENTS"))
            and statements.connection_for(CancelJob).vendor == "postgresql")


def claim(job_ids: list[int] | None = None, *, limit: int | None = None,
          pending_only: bool = False) -> list:
    """Lock due jobs (skipping those another worker holds), mark them running, commit.

    ``pending_only`` leaves jobs whose lease expired to the dispatcher's wake-ups.
    """
    now = timezone.now()
    limit = limit or get_setting("OSCAR_ORDERCANCEL_DISPATCH_BATCH")
    lease = now + timedelta(seconds=get_setting("OSCAR_ORDERCANCEL_LEASE_SECONDS"))
    lost_error = _("The worker stopped before reporting (lease expired).")
    if single_statements():
        if job_ids is not None and not statements.any_due(CancelJob, job_ids, now):
            return []  # a wake-up whose jobs another worker took (a top-up, say): one read
        return statements.claim(CancelJob, CancelJobAttempt, job_ids, now=now, lease=lease,
                                limit=limit, lost_error=lost_error, pending_only=pending_only)
    connection = statements.connection_for(CancelJob)
    alias = connection.alias
    lock = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    with transaction.atomic(using=alias):
        queryset = CancelJob.objects.using(alias).filter(due_q(now, pending_only=pending_only))
        if job_ids is not None:
            queryset = queryset.filter(pk__in=list(job_ids))
        jobs = list(queryset.select_for_update(**lock).order_by("next_attempt_at", "pk")[:limit])
        if not jobs:
            return []
        lost = [job for job in jobs if job.state == CancelJob.State.RUNNING]
        CancelJob.objects.using(alias).filter(pk__in=[job.pk for job in jobs]).update(
            state=CancelJob.State.RUNNING, attempts=F("attempts") + 1, lease_expires_at=lease,
            date_updated=now)
        if lost:  # the worker that held these died or hung past its lease
            CancelJobAttempt.objects.using(alias).bulk_create(
                CancelJobAttempt(job=job, started_at=job.date_updated,
                                 outcome=CancelJobAttempt.Outcome.LOST, error=lost_error)
                for job in lost)
    for job in jobs:
        job.state, job.attempts, job.lease_expires_at, job.date_updated = (
            CancelJob.State.RUNNING, job.attempts + 1, lease, now)
    return jobs


def release(jobs) -> None:
    """Give claimed, not yet called jobs back (due now), e.g. when the lease would run out."""
    CancelJob.objects.filter(pk__in=[job.pk for job in jobs], state=CancelJob.State.RUNNING).update(
        state=CancelJob.State.PENDING, attempts=F("attempts") - 1, lease_expires_at=None,
        next_attempt_at=timezone.now())


#: Jobs claimed at a time when a worker tops up (see :func:`deliver`); those it has no
#: time left for are given back at once.
TOPUP_CHUNK = 50


def deliver(job_ids: list[int] | None = None, *, limit: int | None = None,
            topup: float = 0.0, fresh: bool = False, taken: TakenJobs | None = None) -> list[Outcome]:
    """Claim due jobs (of ``job_ids``, or any) and run each; return what happened.

    With ``topup`` (seconds), a worker that got through its own jobs sooner than
    that goes on claiming other due jobs, a few at a time, until the time is used
    or nothing is due: a backlog drains at the database's pace rather than one
    broker message per job, and the wake-ups of the jobs it took find nothing
    left to do. A slow processor uses up the time on its own jobs, so the
    backlog of a slow receiver is still spread over every worker.

    ``taken`` is the worker's memory of the jobs it ran while topping up: it
    notes them there, and a ``fresh`` wake-up (the outbox's own, for new jobs)
    whose jobs are all in it is dropped without a query. Without it, every
    wake-up asks the database.
    """
    if fresh and job_ids and taken is not None and taken.take_all(job_ids):
        return []  # this worker already ran them, topping up: their wake-up has no work
    began = time.monotonic()
    own = claim(job_ids, limit=limit)
    outcomes, complete = _run_batch(own)
    # A wake-up whose jobs were already taken means another worker is topping up.
    topup = topup if own or job_ids is None else 0.0
    while complete and topup and time.monotonic() - began < topup:
        jobs = claim(limit=TOPUP_CHUNK, pending_only=True)
        if not jobs:
            break
        more, complete = _run_batch(jobs, until=began + topup)
        # (jobs given back are not among the first len(more): they were never called)
        if taken is not None:
            taken.add(job.pk for job in jobs[:len(more)] if job.attempts == 1)
        outcomes += more
    return outcomes


#: Outcomes of fast calls are written together once the first of them began this many
#: seconds ago (or fifty are waiting): one commit for several jobs. A call slower than
#: this is written on its own at once. A worker that dies loses at most these
#: outcomes; their jobs are delivered again, under the same idempotency keys.
GROUP_COMMIT_SECONDS = 0.05
GROUP_COMMIT_JOBS = 50


def _run_batch(jobs, *, until: float | None = None) -> tuple[list[Outcome], bool]:
    """Run claimed jobs in turn; give back those the lease would not cover (then False).

    With ``until`` (a ``time.monotonic()`` value, for a top-up), the jobs not
    started by then are given back too.
    """
    deadline = time.monotonic() + get_setting("OSCAR_ORDERCANCEL_LEASE_SECONDS") - LEASE_MARGIN
    outcomes, waiting, first = [], [], 0.0
    for index, job in enumerate(jobs):
        processor = get_processor(job.processor)
        now = time.monotonic()
        late = until is not None and now >= until
        if late or (processor is not None and now + processor.timeout > deadline):
            if index or late:  # the rest go back for another worker (or the next wake-up)
                outcomes += _record(waiting)
                rest = jobs[index:]
                release(rest)
                enqueue([j.pk for j in rest])
                return outcomes, False
            logger.warning("Cancel processor %s: its timeout (%ss) exceeds the job lease; "
                           "see check ordercancel.E012", job.processor, processor.timeout)
        if not waiting:
            first = time.monotonic()
        waiting.append(_attempt(job, processor))
        if (len(waiting) >= GROUP_COMMIT_JOBS
                or time.monotonic() - first >= GROUP_COMMIT_SECONDS):
            outcomes += _record(waiting)
            waiting = []
    outcomes += _record(waiting)
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


@dataclass
class _Attempt:
    """A processor's answer for one job, with what to write, before it is written."""

    job: Any
    fields: dict
    attempt: Any
    outcome: str
    result: Any
    error: Any
    final: bool


def _attempt(job, processor) -> _Attempt:
    """Call the processor for one claimed job; work out the job's new fields and the attempt."""
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
    attempt = CancelJobAttempt(
        job=job, started_at=started, duration_ms=duration_ms, outcome=outcome,
        http_status=getattr(answer, "http_status", None),
        error=str(error) if error is not None else getattr(result, "reason", ""),
        response=(getattr(answer, "response", "") or "")[:cap],
    )
    return _Attempt(job, fields, attempt, outcome, result, error, final)


def _record(attempts: list[_Attempt]) -> list[Outcome]:
    """Write the outcomes and attempts, then send each job's signals; return the outcomes."""
    if not attempts:
        return []
    # attempts= is the claim's token: a worker whose lease ran out and whose job was
    # claimed again (or given up by staff) must not overwrite the newer state.
    if single_statements():
        updated = statements.record([(a.job, a.fields, a.attempt) for a in attempts])
    else:
        alias = statements.connection_for(CancelJob).alias
        updated = set()
        for a in attempts:
            with transaction.atomic(using=alias):
                if CancelJob.objects.using(alias).filter(
                        pk=a.job.pk, state=CancelJob.State.RUNNING,
                        attempts=a.job.attempts).update(**a.fields):
                    updated.add(a.job.pk)
                a.attempt.save(using=alias)
    withdrawn = _withdraw_if_declined([a.job for a in attempts if a.job.pk in updated and a.fields[
        "state"] in (CancelJob.State.PENDING, CancelJob.State.FAILED) and _asks(a.job)])
    outcomes = []
    for a in attempts:
        job = a.job
        for name, value in a.fields.items():
            setattr(job, name, value)
        if job.pk in withdrawn:  # no retry is left: the request was declined meanwhile
            job.state, job.next_attempt_at, a.final = CancelJob.State.NOT_SENT, None, True
        if job.pk in updated:
            _after(job, a.outcome, a.result, a.error, a.final)
        else:
            logger.warning("Cancel job %s changed while its processor ran; outcome %s only logged",
                           job.pk, a.outcome)
        outcomes.append(Outcome(job.pk, a.outcome, str(a.error or "")))
    return outcomes


def _after(job, outcome: str, result, error, final: bool) -> None:
    """Signals, request-mode settlement and the failure alert, after the outcome committed."""
    Result = CancelJobAttempt.Outcome
    if outcome == Result.SUCCEEDED:
        signals.cancel_job_succeeded.send(sender=CancelJob, job=job)
    elif outcome == Result.REJECTED:
        signals.cancel_job_rejected.send(sender=CancelJob, job=job, reason=result.reason)
    else:
        signals.cancel_job_failed.send(sender=CancelJob, job=job, error=str(error), final=final)
    if _asks(job) and outcome in (Result.SUCCEEDED, Result.REJECTED):
        settle_request(job, result)
    if outcome == Result.FAILED and job.state == CancelJob.State.FAILED:
        from oscar_ordercancel.jobs.monitor import check_failure_streak

        check_failure_streak(job.processor)


def due_job_ids(*, grace: float | None = None, limit: int | None = None) -> list[int]:
    """Jobs to wake: retries that are due, expired leases, and fresh jobs nobody picked up.

    Due jobs of a declined request are not woken: they become ``not_sent`` here.
    """
    now = timezone.now()
    if grace is None:
        grace = get_setting("OSCAR_ORDERCANCEL_DISPATCH_GRACE_SECONDS")
    stale = now - timedelta(seconds=grace)
    queryset = CancelJob.objects.filter(
        Q(state=CancelJob.State.PENDING, attempts__gt=0, next_attempt_at__lte=now)
        | Q(state=CancelJob.State.PENDING, attempts=0, next_attempt_at__lte=stale)
        | Q(state=CancelJob.State.RUNNING, lease_expires_at__lte=now)
    ).order_by("next_attempt_at", "pk").annotate(oc_declined=declined_request()).values_list(
        "pk", "cancellation_id", "oc_declined")
    rows = list(queryset[:limit] if limit else queryset)
    declined = {cancellation_id for __, cancellation_id, is_declined in rows if is_declined}
    for cancellation_id in declined:
        withdraw(cancellation_id, _declined_reason(cancellation_id))
    return [pk for pk, __, is_declined in rows if not is_declined]


def deliver_due(*, grace: float | None = None, limit: int | None = None) -> Counter:
    """Deliver the due jobs in this process, a dispatch batch at a time; count their outcomes."""
    ids = due_job_ids(grace=grace, limit=limit)
    batch = get_setting("OSCAR_ORDERCANCEL_DISPATCH_BATCH")
    outcomes: Counter = Counter()
    for start in range(0, len(ids), batch):
        outcomes.update(o.outcome for o in deliver(ids[start:start + batch]))
    return outcomes


def dispatch(*, grace: float | None = None, limit: int | None = None, inline: bool = False) -> int:
    """Wake workers for due jobs (or, ``inline``, deliver them here); return how many."""
    ids = due_job_ids(grace=grace, limit=limit)
    batch = get_setting("OSCAR_ORDERCANCEL_DISPATCH_BATCH")
    chunks = [ids[i:i + batch] for i in range(0, len(ids), batch)]
    if inline:
        for chunk in chunks:
            deliver(chunk)
        return len(ids)
    for chunk in chunks:
        queue.send_task(queue.DELIVER_CANCEL_JOBS, (chunk,))
    broker_is_back()
    return len(ids)


# -- a request settled before its jobs were delivered ----------------------------------------------


def _asks(job) -> bool:
    """Whether the job's payload asks the processor to decide (a request, not yet settled)."""
    requested = OrderCancellation.State.REQUESTED
    cancellation = job.payload.get("cancellation", {})
    return (cancellation.get("mode") == MODE_REQUEST
            and cancellation.get("state", requested) == requested)


def _declined_reason(cancellation_id: int) -> str:
    """Why the jobs of a declined request are not sent, found afterwards: the reason its other
    jobs were given at the settlement, a processor's rejection, or (nobody said) "declined"."""
    siblings = list(CancelJob.objects.filter(cancellation_id=cancellation_id).values_list(
        "state", "not_sent_reason"))
    given = [reason for state, reason in siblings if state == CancelJob.State.NOT_SENT and reason]
    if given:
        return given[0]
    if any(state == CancelJob.State.REJECTED for state, __ in siblings):
        return CancelJob.NotSentReason.DECLINED_BY_PROCESSOR
    return CancelJob.NotSentReason.DECLINED


def withdraw(cancellation, reason: str) -> list[int]:
    """The jobs of a declined request that still wait become ``not_sent`` for ``reason``.

    Waiting: pending, failed (a retry would send them), or running past their
    lease (their worker is gone; a lost attempt is recorded, as a claim would).
    A job a worker is calling now is left to it: its outcome is written when it
    comes (:func:`_withdraw_if_declined`). Returns the jobs' primary keys.
    """
    State = CancelJob.State
    now = timezone.now()
    waiting = (Q(state__in=[State.PENDING, State.FAILED])
               | Q(state=State.RUNNING, lease_expires_at__lte=now))
    with transaction.atomic():
        jobs = list(CancelJob.objects.filter(
            waiting, cancellation_id=getattr(cancellation, "pk", cancellation),
        ).select_for_update().order_by("pk"))
        if not jobs:
            return []
        lost = [job for job in jobs if job.state == State.RUNNING]
        if lost:
            CancelJobAttempt.objects.bulk_create(
                CancelJobAttempt(job=job, started_at=job.date_updated,
                                 outcome=CancelJobAttempt.Outcome.LOST,
                                 error=_("The worker stopped before reporting (lease expired)."))
                for job in lost)
        CancelJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
            state=State.NOT_SENT, not_sent_reason=reason, next_attempt_at=None,
            lease_expires_at=None, date_finished=now, date_updated=now)
    logger.info("Cancel jobs %s of declined request #%s will not be sent (%s)",
                [job.pk for job in jobs], getattr(cancellation, "pk", cancellation), reason)
    return [job.pk for job in jobs]


def _withdraw_if_declined(jobs) -> set[int]:
    """Jobs that came back to wait (a retry, or failed) while their request was declined: not sent.

    The request's row is locked first, as every settlement does before it
    touches the jobs: a settlement under way is waited for, and one that comes
    later finds these jobs waiting and withdraws them itself.
    """
    if not jobs:
        return set()
    withdrawn: set[int] = set()
    ids = {job.cancellation_id for job in jobs if job.cancellation_id is not None}
    if not ids:
        return set()
    with transaction.atomic():
        declined = list(OrderCancellation.objects.select_for_update().filter(
            pk__in=ids, state=OrderCancellation.State.REJECTED).values_list("pk", flat=True))
        for cancellation_id in declined:
            withdrawn.update(withdraw(cancellation_id, _declined_reason(cancellation_id)))
    return withdrawn & {job.pk for job in jobs}


def on_cancellation_rejected(sender, order, cancellation, user=None, **kwargs) -> None:
    """``order_cancellation_rejected`` receiver: the request's waiting jobs are not sent.

    Runs in the settlement's transaction, after the request's row was locked.
    """
    if getattr(user, "is_staff", False):
        reason = CancelJob.NotSentReason.DECLINED_BY_STAFF
    else:
        reason = _declined_reason(cancellation.pk)
    withdraw(cancellation, reason)
