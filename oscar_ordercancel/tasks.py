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
