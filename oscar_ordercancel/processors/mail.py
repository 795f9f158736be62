"""``EmailProcessor``: a cancel request by e-mail, for a fulfilment partner without an API."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from oscar.core.loading import get_model

from oscar_ordercancel.processors.base import (
    CancelProcessor,
    PermanentError,
    ProcessorResult,
    RetryableError,
)

#: The Oscar communication event type (editable in the dashboard) of the e-mail.
EVENT_CODE = "ORDER_CANCEL_REQUEST"


class EmailProcessor(CancelProcessor):
    """Sends the ``ORDER_CANCEL_REQUEST`` e-mail to ``to`` (a list), from ``from_email``."""

    @classmethod
    def check_options(cls, options: dict) -> list[str]:
        """``to`` must be a non-empty list of addresses."""
        to = options.get("to")
        if not to or isinstance(to, str) or not all(isinstance(a, str) and "@" in a for a in to):
            return ["EmailProcessor needs 'to': a list of e-mail addresses."]
        return []

    def messages(self, payload: dict, idempotency_key: str) -> dict:
        """Subject, text and HTML bodies rendered from the communication event type."""
        from django.contrib.sites.models import Site

        context = {"payload": payload, "idempotency_key": idempotency_key,
                   "order_number": payload.get("parameters", {}).get("OrderNumber"),
                   "site": Site.objects.get_current()}
        EventType = get_model("communication", "CommunicationEventType")
        return EventType.objects.get_and_render(EVENT_CODE, context)

    def process(self, payload: dict, idempotency_key: str) -> ProcessorResult:
        """Render and send the e-mail; SMTP trouble is retried, a refused recipient is not."""
        messages = self.messages(payload, idempotency_key)
        email = EmailMultiAlternatives(
            messages["subject"], messages["body"],
            from_email=self.options.get("from_email") or settings.OSCAR_FROM_EMAIL,
            to=list(self.options["to"]),
            headers={"X-Idempotency-Key": idempotency_key},
        )
        if messages.get("html"):
            email.attach_alternative(messages["html"], "text/html")
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"Recipients refused: {exc.recipients}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        return self.success(response=", ".join(email.to))
