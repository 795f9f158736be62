"""Errors raised by the cancellation policy and engine."""

from __future__ import annotations

from oscar.apps.order.exceptions import InvalidOrderStatus
from oscar.apps.payment.exceptions import PaymentError as OscarPaymentError

from oscar_ordercancel.messages import message_for


class CancellationError(Exception):
    """A cancellation that cannot happen: a machine ``code`` and a human ``message``."""

    default_code = "cancellation_error"

    def __init__(self, code: str | None = None, message: str = "", params: dict | None = None) -> None:
        self.code = code or self.default_code
        if not message:
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


class CancellationBusy(CancellationError):
    """The order was locked by another cancellation for longer than the lock timeout."""

    default_code = "busy"


class StatusChangeRefused(CancellationError, InvalidOrderStatus, OscarPaymentError):
    """A status change to the cancelled status that the cancellation policy refused.

    It is also Oscar's ``InvalidOrderStatus`` and ``PaymentError``: Oscar's own
    dashboard views catch one or the other around a status change, so they report
    the refusal instead of failing, even where the dashboard fork is not installed.
    """

    default_code = "not_cancellable_status"


class PaymentError(CancellationError):
    """The payment handler could not void or refund; the cancellation is rolled back."""

    default_code = "payment_failed"
