"""The policy's answer: allowed or not, a machine code and a human message."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

#: Every refusal code the policy and engine use, with its default message.
MESSAGES = {
    "not_cancellable_status": _("This order is already being prepared and can no longer be cancelled."),
    "already_cancelled": _("This order has already been cancelled."),
    "cancellation_pending": _("A cancellation of this order is already waiting for confirmation."),
    "window_passed": _("Orders can be cancelled within %(window)s of purchase."),
    "paid_needs_force": _("This order has been paid; cancelling it needs a forced cancellation."),
    "force_not_allowed": _("Only shop staff can force a cancellation."),
    "customer_cancellation_disabled": _("Orders cannot be cancelled online; please contact us."),
    "not_owner": _("This order does not belong to you."),
    "not_permitted": _("You do not have permission to cancel orders."),
    "partner_lines": _("This order has lines of a partner you do not manage."),
    "quantity_not_cancellable": _("Some items have already shipped or are being processed."),
    "unknown_line": _("That line does not exist."),
    "line_not_in_order": _("That line belongs to another order."),
    "invalid_quantity": _("Quantities to cancel must be whole numbers of at least 1."),
    "nothing_to_cancel": _("There is nothing left to cancel in this order."),
    "invalid_reason": _("That cancellation reason is not offered."),
    "comment_too_long": _("Comments are limited to 1,000 characters."),
    "not_requested": _("This cancellation is no longer waiting for confirmation."),
    "status_transition_invalid": _("The order status pipeline does not allow this cancellation."),
}


def message_for(code: str, **params) -> str:
    """Return the default human message of ``code`` with ``params`` filled in."""
    text = MESSAGES.get(code, code)
    return str(text) % params if params else str(text)


@dataclass(frozen=True)
class Decision:
    """Whether a cancellation may happen; truthy when allowed.

    ``quantities`` maps line ids to the quantity that would be cancelled and
    ``full`` says whether that cancels everything left in the order.
    """

    allowed: bool
    code: str = "ok"
    message: str = ""
    quantities: dict[int, int] = field(default_factory=dict)
    full: bool = False

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def deny(cls, code: str, message: str | None = None, **params) -> Decision:
        """A refusal with ``code`` and its message."""
        return cls(False, code, message or message_for(code, **params))

    @classmethod
    def allow(cls, quantities: dict[int, int], full: bool) -> Decision:
        """An approval covering ``quantities``."""
        return cls(True, "ok", "", dict(quantities), full)
