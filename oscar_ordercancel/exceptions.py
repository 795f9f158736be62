"""Errors raised by the cancellation policy and engine."""

from __future__ import annotations


class CancellationError(Exception):
    """A cancellation that cannot happen: a machine ``code`` and a human ``message``."""

    default_code = "cancellation_error"

    def __init__(self, code: str | None = None, message: str = "", params: dict | None = None) -> None:
        self.code = code or self.default_code
        if not message:
            from oscar_ordercancel.policy.decision import message_for

            message = message_for(self.code)
        self.message = str(message)
        #: Machine-readable details, e.g. ``{"line": 12, "available": 1}``.
        self.params = dict(params or {})
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class CancellationVetoed(CancellationError):
    """Raised by an ``order_cancellation_requested`` receiver to refuse a cancellation."""

    default_code = "vetoed"


class PaymentError(CancellationError):
    """The payment handler could not void or refund; the cancellation is rolled back."""

    default_code = "payment_failed"
