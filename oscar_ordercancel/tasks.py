"""Celery tasks (the ``celery`` extra). Each is idempotent or safe to retry.

One thing is kept from one task to the next, in each worker process:
:data:`TAKEN_WHILE_TOPPING_UP`, the jobs ``deliver_cancel_jobs`` ran while
topping up, so that their own wake-ups, when they reach this process, cost no
query (see :mod:`oscar_ordercancel.jobs.worker`).
"""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from oscar_ordercancel import queue
from oscar_ordercancel.jobs.worker import TakenJobs

#: This worker process's memory of the jobs it ran while topping up (process state on purpose).
TAKEN_WHILE_TOPPING_UP = TakenJobs()


@shared_task(
    name=queue.SEND_CUSTOMER_EMAIL,
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=5,
)
def send_customer_email(cancellation_id: int, event_code: str) -> None:
    """Send the customer the cancellation e-mail of ``event_code``."""
    from oscar_ordercancel.notifications import send_cancellation_email

    send_cancellation_email(cancellation_id, event_code)


@shared_task(bind=True, name=queue.DELIVER_CANCEL_JOBS, acks_late=True,
             ignore_result=True)
def deliver_cancel_jobs(self, job_ids: list[int], fresh: bool = False) -> int:
    """Claim the due jobs among ``job_ids`` and run their processors; return how many ran.

    Safe to run twice (``acks_late``): a job is claimed in the database, and one
    that is not due (done, running elsewhere, retry not yet due) is skipped. On a
    worker (not when eager, inside the request that cancelled) it then tops up
    with other due jobs for ``OSCAR_ORDERCANCEL_WORKER_TOPUP_SECONDS``. ``fresh``
    marks the outbox's own wake-up for new jobs (see ``delivery.deliver``).
    """
    from oscar_ordercancel.conf import get_setting
    from oscar_ordercancel.jobs.delivery import deliver

    eager = self.request.is_eager or self.request.id is None
    topup = 0.0 if eager else float(get_setting("OSCAR_ORDERCANCEL_WORKER_TOPUP_SECONDS") or 0)
    return len(deliver(job_ids, topup=topup, fresh=fresh, taken=TAKEN_WHILE_TOPPING_UP))


@shared_task(name=queue.DISPATCH_CANCEL_JOBS, ignore_result=True)
def dispatch_cancel_jobs() -> int:
    """Queue due retries, expired leases and jobs whose wake-up was lost (the beat task)."""
    from oscar_ordercancel.jobs.delivery import dispatch

    return dispatch()


@shared_task(name=queue.EXPIRE_UNPAID_ORDERS, ignore_result=True)
def expire_unpaid_orders(dry_run: bool = False) -> dict:
    """Remind, then cancel the unpaid orders whose time is up (the beat task; see docs/expiry.rst).

    Two at once are safe: each takes only orders the other does not hold.
    """
    from oscar_ordercancel.expiry import sweep

    return sweep(dry_run=dry_run).as_dict()


#: Merge into ``CELERY_BEAT_SCHEDULE`` (or ``app.conf.beat_schedule``): the dispatcher
#: runs every 30 seconds, which is also the finest retry granularity; the expiry sweep
#: every 5 minutes (it does nothing while ``OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER`` and
#: the per-site and per-source lifetimes are unset).
BEAT_SCHEDULE = {
    "oscar-ordercancel-dispatch": {
        "task": queue.DISPATCH_CANCEL_JOBS,
        "schedule": 30.0,
        "options": {"expires": 25.0},
    },
    "oscar-ordercancel-expire-unpaid": {
        "task": queue.EXPIRE_UNPAID_ORDERS,
        "schedule": 300.0,
        "options": {"expires": 290.0},
    },
}


@shared_task(name=queue.SEND_CUSTOMER_EMAILS)
def send_customer_emails(items: list) -> None:
    """Send the e-mails of a batch chunk; one that fails is retried on its own."""
    from oscar_ordercancel.notifications import send_cancellation_email

    for cancellation_id, event_code in items:
        try:
            send_cancellation_email(cancellation_id, event_code)
        except Exception:  # noqa: BLE001 - retried alone, with its own backoff
            send_customer_email.delay(cancellation_id, event_code)


@shared_task(
    name=queue.SEND_WITHDRAWAL_EMAILS,
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=5,
)
def send_withdrawal_emails(declaration_id: int) -> None:
    """Send a withdrawal's acknowledgement (once) and the staff e-mail."""
    from oscar_ordercancel.notifications import send_withdrawal_emails as send

    send(declaration_id)


@shared_task(name=queue.RUN_CANCELLATION_BATCH, acks_late=True,
             reject_on_worker_lost=True)
def run_cancellation_batch(batch_id: int) -> None:
    """Run (or resume) a CSV batch; rows already done are skipped, so a redelivery is safe."""
    from oscar_ordercancel.batches.runner import run_batch

    run_batch(batch_id)


@shared_task(name=queue.RESUME_STALLED_BATCHES)
def resume_stalled_batches() -> int:
    """Queue again the running batches whose worker died (a Celery beat task)."""
    from oscar_ordercancel.batches.runner import stalled_batches

    count = 0
    for batch_id in stalled_batches().values_list("pk", flat=True):
        run_cancellation_batch.delay(batch_id)
        count += 1
    return count
