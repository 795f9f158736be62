"""The one place that maps cancellation codes to HTTP statuses, and the JSON error shape.

Every error of the cancellation endpoints is ``{"code": ..., "message": ...}``;
invalid input adds ``"errors"`` (DRF's field errors).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from oscar_ordercancel.exceptions import CancellationError, PaymentError
from oscar_ordercancel.policy import message_for

#: HTTP status of every known refusal code. Codes not listed (a veto receiver's own
#: code, for example) answer ``DEFAULT_STATUS``: the order as a whole cannot be cancelled.
STATUS_BY_CODE: dict[str, int] = {
    # The request itself is wrong: fix the input and retry.
    "invalid_input": status.HTTP_400_BAD_REQUEST,
    "invalid_reason": status.HTTP_400_BAD_REQUEST,
    "comment_too_long": status.HTTP_400_BAD_REQUEST,
    "note_too_long": status.HTTP_400_BAD_REQUEST,
    "unknown_line": status.HTTP_400_BAD_REQUEST,
    "line_not_in_order": status.HTTP_400_BAD_REQUEST,
    "invalid_quantity": status.HTTP_400_BAD_REQUEST,
    "quantity_not_cancellable": status.HTTP_400_BAD_REQUEST,
    "invalid_on_behalf_of": status.HTTP_400_BAD_REQUEST,
    # This actor may not do this.
    "not_owner": status.HTTP_403_FORBIDDEN,
    "not_permitted": status.HTTP_403_FORBIDDEN,
    "partner_lines": status.HTTP_403_FORBIDDEN,
    "force_not_allowed": status.HTTP_403_FORBIDDEN,
    "not_found": status.HTTP_404_NOT_FOUND,
    # The order, as it is now, cannot be cancelled.
    "not_cancellable_status": status.HTTP_409_CONFLICT,
    "already_cancelled": status.HTTP_409_CONFLICT,
    "cancellation_pending": status.HTTP_409_CONFLICT,
    "window_passed": status.HTTP_409_CONFLICT,
    "customer_cancellation_disabled": status.HTTP_409_CONFLICT,
    "paid_needs_force": status.HTTP_409_CONFLICT,
    "nothing_to_cancel": status.HTTP_409_CONFLICT,
    "status_transition_invalid": status.HTTP_409_CONFLICT,
    "not_requested": status.HTTP_409_CONFLICT,
    "vetoed": status.HTTP_409_CONFLICT,
    # Another cancellation held the order's locks too long; nothing changed, retry.
    "busy": status.HTTP_409_CONFLICT,
    # Withdrawal (the policy's codes; order_not_found also for another customer's order).
    "withdrawal_name_required": status.HTTP_400_BAD_REQUEST,
    "withdrawal_email_invalid": status.HTTP_400_BAD_REQUEST,
    "quantity_not_withdrawable": status.HTTP_400_BAD_REQUEST,
    "order_not_found": status.HTTP_404_NOT_FOUND,
    "withdrawal_disabled": status.HTTP_404_NOT_FOUND,
    "withdrawal_period_passed": status.HTTP_409_CONFLICT,
    "withdrawal_excluded": status.HTTP_409_CONFLICT,
    # The payment gateway failed; nothing was changed, the client may retry later.
    "payment_failed": status.HTTP_502_BAD_GATEWAY,
}
DEFAULT_STATUS = status.HTTP_409_CONFLICT

#: An API client reads these instead of the policy's staff wording, which speaks of the
#: dashboard's controls: a message of the API names the request's field.
API_MESSAGES: dict[str, object] = {
    "paid_needs_force": gettext_lazy("Payment has been taken: send \"force\": true to cancel anyway."),
}


def status_for(error: CancellationError) -> int:
    """The HTTP status answering ``error``: by its code, else by its kind."""
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    if isinstance(error, PaymentError):
        return STATUS_BY_CODE["payment_failed"]
    return DEFAULT_STATUS


def api_message(error: CancellationError) -> str:
    """The message of ``error`` as an API client should read it (fields, not dashboard controls)."""
    if error.code in API_MESSAGES and error.message == message_for(error.code):
        return str(API_MESSAGES[error.code])
    return error.message


def error_body(code: str, message: str, errors: dict | None = None) -> dict:
    """The JSON body of an error response."""
    body = {"code": code, "message": str(message)}
    if errors is not None:
        body["errors"] = errors
    return body


def _code_of(exc: exceptions.APIException) -> str:
    """DRF's code of a plain string detail (``not_found``, ``not_authenticated`` …)."""
    return getattr(exc.detail, "code", None) or exc.default_code


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler of the cancellation views: every error as ``{"code", "message"}``."""
    if isinstance(exc, CancellationError):
        set_rollback()
        body = error_body(exc.code, api_message(exc))
        if exc.params:
            body["params"] = exc.params  # e.g. {"line": 12, "available": 1}
        return Response(body, status=status_for(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Order not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = error_body("invalid_input", _("The request data is invalid."), errors)
    else:
        response.data = error_body(_code_of(exc), str(exc.detail))
    return response
