"""Where every cancellation stands with the external systems, and what staff can do about it.

The dashboard's job pages call these; so can a shop's own code or shell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel import signals
from oscar_ordercancel.conf import get_setting, staff_addresses
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.jobs.outbox import refresh_payload

CancelJob = get_model("oscar_ordercancel", "CancelJob")

if TYPE_CHECKING:
    from oscar_ordercancel.abstract_models import AbstractCancelJob

logger = logging.getLogger(__name__)

ALERT_EVENT_CODE = "CANCEL_PROCESSOR_FAILING"


# -- staff actions ---------------------------------------------------------------


def _locked(job):
    return CancelJob.objects.select_for_update().get(pk=getattr(job, "pk", job))


def _note(job, user, message: str) -> None:
    """An order note, so the order's history shows what staff did with its delivery."""
    order = job.order
    order.notes.create(user=user if getattr(user, "is_authenticated", False) else None,
                       note_type="System", message=message)


def _wake(job) -> None:
    from oscar_ordercancel.jobs.outbox import enqueue

    transaction.on_commit(partial(enqueue, [job.pk]))


def _declined(job) -> bool:
    """Whether ``job`` belongs to a declined request: nothing of it may be sent any more."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    return job.cancellation_id is not None and job.cancellation.state == OrderCancellation.State.REJECTED


def may_retry(job: AbstractCancelJob) -> bool:
    """Whether "Retry now" applies to ``job``: it is pending or failed, and its request stands."""
    return job.state in (job.State.PENDING, job.State.FAILED) and not _declined(job)


def may_resend(job: AbstractCancelJob) -> bool:
    """Whether "Resend" applies to ``job``: it is finished (succeeded, rejected or failed), and
    its request was not declined (sending it would ask to cancel an order the shop kept)."""
    return job.is_finished and job.state != job.State.NOT_SENT and not _declined(job)


def _refuse_declined(job) -> None:
    """Refuse to send a job of a declined request, saying so."""
    if _declined(job):
        raise CancellationError("job_request_declined", _(
            "This job is not sent: the cancellation request was declined and the order was kept."))


def may_give_up(job: AbstractCancelJob) -> bool:
    """Whether "Give up" applies to ``job``: it is pending (a running job belongs to a worker)."""
    return job.state == job.State.PENDING


def retry_now(job, *, user=None) -> AbstractCancelJob:
    """Deliver a pending or failed job at once; a failed one gets a fresh retry budget."""
    with transaction.atomic():
        job = _locked(job)
        _refuse_declined(job)
        if not may_retry(job):
            raise CancellationError("job_not_retryable", _(
                "Only a pending or failed job can be retried; this one is %(state)s.")
                % {"state": job.get_state_display().lower()})
        if job.state == CancelJob.State.FAILED:
            job.attempts = 0
        job.state, job.next_attempt_at, job.date_finished = CancelJob.State.PENDING, timezone.now(), None
        job.save(update_fields=["state", "attempts", "next_attempt_at", "date_finished", "date_updated"])
        refresh_payload(job)
        _note(job, user, _("Cancel job %(processor)s: retry requested") % {"processor": job.processor})
        _wake(job)
    return job


def resend(job, *, user=None) -> AbstractCancelJob:
    """Deliver a finished job again under the same idempotency key (a fresh retry budget)."""
    with transaction.atomic():
        job = _locked(job)
        _refuse_declined(job)
        if not may_resend(job):
            raise CancellationError("job_not_finished", _(
                "Only a finished job can be sent again; this one is %(state)s.")
                % {"state": job.get_state_display().lower()})
        job.state, job.attempts = CancelJob.State.PENDING, 0
        job.next_attempt_at, job.date_finished = timezone.now(), None
        job.save(update_fields=["state", "attempts", "next_attempt_at", "date_finished", "date_updated"])
        refresh_payload(job)
        _note(job, user, _("Cancel job %(processor)s: sent again") % {"processor": job.processor})
        _wake(job)
    return job


def give_up(job, *, user=None, reason: str = "") -> AbstractCancelJob:
    """Stop retrying a pending job: it fails for good (``cancel_job_failed``, ``final=True``)."""
    with transaction.atomic():
        job = _locked(job)
        if not may_give_up(job):
            raise CancellationError("job_not_pending", _(
                "Only a pending job can be given up; this one is %(state)s.")
                % {"state": job.get_state_display().lower()})
        job.state, job.next_attempt_at, job.date_finished = CancelJob.State.FAILED, None, timezone.now()
        job.last_error = reason or _("Given up by staff.")
        job.save(update_fields=["state", "next_attempt_at", "date_finished", "last_error",
                                "date_updated"])
        _note(job, user, _("Cancel job %(processor)s: given up") % {"processor": job.processor})
    signals.cancel_job_failed.send(sender=CancelJob, job=job, error=job.last_error, final=True)
    return job


# -- what to look at -------------------------------------------------------------


def job_counts(queryset: QuerySet | None = None) -> dict[str, int]:
    """Jobs per state (every state present, zeros included)."""
    queryset = CancelJob.objects.all() if queryset is None else queryset
    counts = dict(queryset.order_by().values_list("state").annotate(n=Count("pk")))
    return {state: counts.get(state, 0) for state in CancelJob.State.values}


def attention_list() -> QuerySet:
    """Jobs whose processor and the shop disagree; someone has to sort it out with them.

    Either a processor rejected a cancellation that is done on the shop side
    (immediate mode, or a request staff confirmed by hand), or a processor
    accepted a request that was declined (the shop kept the order: it accepted
    before another processor declined, or its answer came after staff declined),
    or a processor refused a withdrawal declaration (the consumer's withdrawal
    stands whatever the ERP says).
    """
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    return CancelJob.objects.filter(
        Q(state=CancelJob.State.REJECTED, cancellation__state=OrderCancellation.State.COMPLETED)
        | Q(state=CancelJob.State.SUCCEEDED, cancellation__state=OrderCancellation.State.REJECTED)
        | Q(state=CancelJob.State.REJECTED, withdrawal__isnull=False),
    ).select_related("cancellation__order", "withdrawal__order").order_by("-date_finished", "-pk")


def waiting_requests(older_than: timedelta | None = None) -> QuerySet:
    """Requested cancellations nobody has answered (yet), oldest first; staff may settle them."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    queryset = OrderCancellation.objects.filter(state=OrderCancellation.State.REQUESTED)
    if older_than is not None:
        queryset = queryset.filter(date_created__lte=timezone.now() - older_than)
    return queryset.select_related("order").order_by("date_created", "pk")


@dataclass
class DeliveryState:
    """One processor's delivery of one cancellation, for the order page."""

    processor: str
    state: str
    state_label: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    rejection_reason: str
    job_id: int
    #: What staff must know beyond the state: why it is not sent, or that the processor and
    #: the shop disagree (see :func:`settlement_note`); ``""`` when nothing.
    note: str = ""
    #: True when ``note`` asks staff to act (the processor and the shop disagree).
    needs_attention: bool = False


def settlement_note(job, siblings, cancellation_state: str) -> tuple[str, bool]:
    """What a job's state does not say about its request's settlement, and whether staff must act.

    ``siblings`` are the jobs of the same cancellation (``job`` among them);
    ``cancellation_state`` is the cancellation's state.
    """
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    State, Reason = CancelJob.State, CancelJob.NotSentReason
    if job.state == State.NOT_SENT:
        if job.not_sent_reason == Reason.DECLINED_BY_STAFF:
            return _("Not sent: the request was declined by staff."), False
        decliners = sorted(
            (other for other in siblings if other.state == State.REJECTED),
            key=lambda other: (other.date_finished.timestamp() if other.date_finished
                               else float("inf"), other.pk))
        if job.not_sent_reason == Reason.DECLINED_BY_PROCESSOR and decliners:
            return _("Not sent: %(processor)s declined the request.") % {
                "processor": decliners[0].processor}, False
        if job.not_sent_reason == Reason.DECLINED_BY_PROCESSOR:
            return _("Not sent: another processor declined the request."), False
        return _("Not sent: the request was declined."), False
    if cancellation_state == OrderCancellation.State.REJECTED and job.state == State.SUCCEEDED:
        return _("%(processor)s accepted the cancellation, but the request was declined: the "
                 "order was kept. Tell them the order stands.") % {"processor": job.processor}, True
    if cancellation_state == OrderCancellation.State.COMPLETED and job.state == State.REJECTED:
        return _("%(processor)s refused the cancellation, but it is done in the shop. Sort it "
                 "out with them.") % {"processor": job.processor}, True
    return "", False


def delivery_summaries(cancellations) -> dict[int, list[DeliveryState]]:
    """Per cancellation id, each processor's delivery state (one query for all)."""
    ids = [getattr(c, "pk", c) for c in cancellations]
    result: dict[int, list[DeliveryState]] = {pk: [] for pk in ids}
    jobs: dict[int, list] = {pk: [] for pk in ids}
    for job in CancelJob.objects.filter(cancellation_id__in=ids).select_related(
            "cancellation").order_by("processor", "pk"):
        jobs[job.cancellation_id].append(job)
    for pk, siblings in jobs.items():
        for job in siblings:
            note, needs_attention = settlement_note(job, siblings, job.cancellation.state)
            result[pk].append(DeliveryState(
                processor=job.processor, state=job.state, state_label=job.get_state_display(),
                attempts=job.attempts, next_attempt_at=job.next_attempt_at,
                last_error=job.last_error, rejection_reason=job.rejection_reason, job_id=job.pk,
                note=note, needs_attention=needs_attention))
    return result


def job_note(job: AbstractCancelJob) -> tuple[str, bool]:
    """:func:`settlement_note` for one job (its page): reads the other jobs of its cancellation."""
    if job.cancellation_id is None:  # an OrderWithdrawal job: the withdrawal stands regardless
        if job.state == job.State.REJECTED:
            return _("%(processor)s refused the withdrawal, but the consumer's withdrawal stands. "
                     "Sort it out with them.") % {"processor": job.processor}, True
        return "", False
    siblings = list(job.cancellation.jobs.all()) if job.state == job.State.NOT_SENT else [job]
    return settlement_note(job, siblings, job.cancellation.state)


def delivery_summary(cancellation) -> list[DeliveryState]:
    """Each processor's delivery state of one cancellation."""
    return delivery_summaries([cancellation])[getattr(cancellation, "pk", cancellation)]


# -- failure streaks ---------------------------------------------------------------


@dataclass
class FailureStreak:
    """A processor whose latest finished jobs all failed."""

    processor: str
    count: int
    last_error: str
    jobs: list = field(default_factory=list)


def failure_streak(processor: str, *, cap: int = 1000) -> FailureStreak:
    """How many of ``processor``'s most recently finished jobs failed in a row (up to ``cap``)."""
    # a job not sent was never the processor's to answer: it neither counts nor breaks a streak
    finished = CancelJob.objects.filter(processor=processor, date_finished__isnull=False).exclude(
        state=CancelJob.State.NOT_SENT).order_by("-date_finished", "-pk")[:cap]
    jobs = []
    for job in finished:
        if job.state != CancelJob.State.FAILED:
            break
        jobs.append(job)
    return FailureStreak(processor, len(jobs), jobs[0].last_error if jobs else "", jobs)


def failing_processors(threshold: int | None = None) -> list[FailureStreak]:
    """Processors with at least ``threshold`` (the setting) failed jobs in a row: the alert."""
    threshold = threshold or get_setting("OSCAR_ORDERCANCEL_FAILURE_ALERT_THRESHOLD")
    names = sorted(set(CancelJob.objects.filter(state=CancelJob.State.FAILED).values_list(
        "processor", flat=True).distinct()))
    streaks = [failure_streak(name) for name in names]
    return [streak for streak in streaks if streak.count >= threshold]


def alert_recipients() -> list[str]:
    """``OSCAR_ORDERCANCEL_FAILURE_ALERT_EMAILS``, else every active staff user's address."""
    return staff_addresses("OSCAR_ORDERCANCEL_FAILURE_ALERT_EMAILS")


def send_failure_alert(streak: FailureStreak) -> None:
    """E-mail staff the ``CANCEL_PROCESSOR_FAILING`` message about ``streak``."""
    from django.conf import settings

    recipients = alert_recipients()
    if not recipients:
        logger.error("Cancel processor %s failed %s jobs in a row; nobody to alert",
                     streak.processor, streak.count)
        return
    EventType = get_model("communication", "CommunicationEventType")
    from django.contrib.sites.models import Site

    messages = EventType.objects.get_and_render(ALERT_EVENT_CODE, {
        "processor": streak.processor, "count": streak.count, "last_error": streak.last_error,
        "jobs": streak.jobs, "site": Site.objects.get_current()})
    email = EmailMultiAlternatives(messages["subject"], messages["body"],
                                   from_email=settings.OSCAR_FROM_EMAIL, to=recipients)
    if messages.get("html"):
        email.attach_alternative(messages["html"], "text/html")
    email.send()


def check_failure_streak(processor: str) -> FailureStreak | None:
    """After a job failed: alert staff once when the streak reaches the threshold."""
    threshold = get_setting("OSCAR_ORDERCANCEL_FAILURE_ALERT_THRESHOLD")
    if not threshold:
        return None
    streak = failure_streak(processor, cap=threshold + 1)
    if streak.count != threshold:
        return None
    signals.cancel_processor_failing.send(sender=CancelJob, processor=processor,
                                          count=streak.count, jobs=streak.jobs)
    try:
        send_failure_alert(streak)
    except Exception:  # noqa: BLE001 - an alert must not break delivery
        logger.exception("Could not send the failure alert for processor %s", processor)
    return streak
