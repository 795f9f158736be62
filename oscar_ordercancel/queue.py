"""The background queue as the lower layers see it: is Celery configured, and send a task by name.

Modules below ``tasks`` (the outbox, the delivery worker, customer e-mails, the
batch runner) start the package's Celery tasks through :func:`send_task`, by
the names below, and never import ``oscar_ordercancel.tasks``: the tasks module
sits above them and imports them.
"""

from __future__ import annotations

from typing import Any

#: The package's Celery task names (part of the public contract: never renamed).
SEND_CUSTOMER_EMAIL = "oscar_ordercancel.send_customer_email"
SEND_CUSTOMER_EMAILS = "oscar_ordercancel.send_customer_emails"
DELIVER_CANCEL_JOBS = "oscar_ordercancel.deliver_cancel_jobs"
DISPATCH_CANCEL_JOBS = "oscar_ordercancel.dispatch_cancel_jobs"
RUN_CANCELLATION_BATCH = "oscar_ordercancel.run_cancellation_batch"
RESUME_STALLED_BATCHES = "oscar_ordercancel.resume_stalled_batches"
SEND_WITHDRAWAL_EMAILS = "oscar_ordercancel.send_withdrawal_emails"
#: The expiry sweep (the contract names it by its import path).
EXPIRE_UNPAID_ORDERS = "oscar_ordercancel.tasks.expire_unpaid_orders"


def celery_configured() -> bool:
    """True when Celery is installed and has a broker or runs tasks eagerly."""
    try:
        from celery import current_app
    except ImportError:
        return False
    conf = current_app.conf
    return bool(conf.task_always_eager or conf.broker_url)


def send_task(name: str, args: tuple | list = (), kwargs: dict | None = None,
              **options: Any) -> None:
    """Send the task called ``name`` with ``args`` / ``kwargs`` (eagerly where Celery is eager).

    A task registered in this process (``oscar_ordercancel.tasks`` is imported
    when the app is ready) is sent through its own ``apply_async``, which honours
    ``task_always_eager`` and the task's options; any other name is published
    with ``send_task``.
    """
    from celery import current_app

    task = current_app.tasks.get(name)
    if task is not None:
        task.apply_async(tuple(args), kwargs, **options)
    else:
        current_app.send_task(name, tuple(args), kwargs, **options)
