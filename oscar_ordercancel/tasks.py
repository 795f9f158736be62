"""Celery tasks (the ``celery`` extra). Each is idempotent or safe to retry."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task


@shared_task(
    name="oscar_ordercancel.send_customer_email",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=5,
)
def send_customer_email(cancellation_id: int, event_code: str) -> None:
    """Send the customer the cancellation e-mail of ``event_code``."""
    from oscar_ordercancel.integrations.notifications import send_cancellation_email

    send_cancellation_email(cancellation_id, event_code)


@shared_task(name="oscar_ordercancel.deliver_cancel_jobs", acks_late=True, ignore_result=True)
def deliver_cancel_jobs(job_ids: list[int]) -> int:
    """Claim the due jobs among ``job_ids`` and run their processors; return how many ran.

    Safe to run twice (``acks_late``): a job is claimed in the database, and one
    that is not due (done, running elsewhere, retry not yet due) is skipped.
    """
    from oscar_ordercancel.integrations.delivery import deliver

    return len(deliver(job_ids))


@shared_task(name="oscar_ordercancel.dispatch_cancel_jobs", ignore_result=True)
def dispatch_cancel_jobs() -> int:
    """Queue due retries, expired leases and jobs whose wake-up was lost (the beat task)."""
    from oscar_ordercancel.integrations.delivery import dispatch

    return dispatch()


#: Merge into ``CELERY_BEAT_SCHEDULE`` (or ``app.conf.beat_schedule``): the dispatcher
#: runs every 30 seconds, which is also the finest retry granularity.
BEAT_SCHEDULE = {
    "oscar-ordercancel-dispatch": {
        "task": "oscar_ordercancel.dispatch_cancel_jobs",
        "schedule": 30.0,
        "options": {"expires": 25.0},
    },
}
