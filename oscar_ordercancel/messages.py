"""Every refusal code of the policy, the engine and resubmission, with its words.

The words staff read (``MESSAGES``), the words customers read where those would
not help them (``CUSTOMER_MESSAGES``), and the codes an order page leaves to its
cancellation history (``SILENT_CODES``). ``policy`` re-exports all of them.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

#: Every refusal code the policy and engine use, with its default message.
MESSAGES = {
    "not_cancellable_status": _("This order cannot be cancelled in its current status."),
    # The words of not_cancellable_status by stage (policy.rules.STAGE_MESSAGES).
    "status_not_cancellable": _("Orders with the status “%(status)s” cannot be cancelled."),
    "status_processing": _("This order is already being prepared and can no longer be cancelled."),
    "status_shipped": _("This order has already shipped and can no longer be cancelled."),
    "status_complete": _("This order is complete and can no longer be cancelled."),
    "already_cancelled": _("This order has already been cancelled."),
    "cancellation_pending": _("A cancellation of this order is already waiting for confirmation."),
    "window_passed": _("Orders can be cancelled within %(window)s of purchase."),
    "paid_needs_force": _("Payment has been taken: tick Force to cancel."),
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
    "invalid_on_behalf_of": _("A cancellation can only be made on behalf of the order's customer."),
    "not_requested": _("This cancellation is no longer waiting for confirmation."),
    "vetoed": _("This order cannot be cancelled right now."),
    "payment_failed": _("The payment could not be voided or refunded, so nothing was changed. "
                        "Please try again later."),
    "status_transition_invalid": _("The order status pipeline does not allow this cancellation."),
    "busy": _("This order is being changed by someone else right now; nothing was changed. "
              "Please try again in a moment."),
    "use_cancel_form": _("This order cannot be cancelled by a status change: %(message)s "
                         "Use the cancel form instead."),
    "not_resubmittable": _("Only a cancelled order can be resubmitted."),
    "already_resubmitted": _("This order has already been resubmitted."),
    "product_unavailable": _("A product of this order is no longer in the catalogue."),
    "insufficient_stock": _("There is not enough stock to resubmit this order."),
    # Withdrawal (policy.withdrawal): the consumer reads these, staff too.
    "withdrawal_disabled": _("This shop does not offer withdrawal online; please contact us."),
    "withdrawal_period_passed": _("The withdrawal period for these items has ended."),
    "withdrawal_excluded": _("These items have no right of withdrawal (for example goods made "
                             "to your specifications, perishable or unsealed goods)."),
    "order_not_found": _("We could not find an order with this order number and e-mail "
                         "address. Please check both."),
    "quantity_not_withdrawable": _("These items cannot be withdrawn from: they have already "
                                   "been cancelled or withdrawn from."),
    "withdrawal_name_required": _("Please give your name (at most 255 characters)."),
    "withdrawal_email_invalid": _("Please give a valid e-mail address."),
    "withdrawal_not_awaiting": _("This withdrawal is not waiting for a return any more."),
    "withdrawal_not_closable": _("Only a withdrawal that was cancelled at once or refunded can be "
                                 "closed."),
    "withdrawal_refund_invalid": _("The refund must be between 0 and %(most)s, what was paid and "
                                   "not yet refunded."),
}


#: What customers read instead, where the staff wording would not help them.
CUSTOMER_MESSAGES = {
    "paid_needs_force": _("This order has already been paid; please contact us to cancel it."),
    "quantity_not_cancellable": _("Some items of this order have already shipped or are being "
                                  "prepared, so it can no longer be cancelled online."),
    "vetoed": _("This order cannot be cancelled right now."),
    "payment_failed": _("The payment could not be voided or refunded, so nothing was changed. "
                        "Please try again later."),
    "status_transition_invalid": _("This order can no longer be cancelled online; "
                                   "please contact us."),
}


#: Refusals an order page does not spell out: its cancellation history shows them.
SILENT_CODES = frozenset({"already_cancelled", "cancellation_pending", "nothing_to_cancel", "not_owner"})


def message_for(code: str, *, customer: bool = False, **params) -> str:
    """Return the human message of ``code`` (customer wording if asked) with ``params``."""
    text = (customer and CUSTOMER_MESSAGES.get(code)) or MESSAGES.get(code, code)
    return str(text) % params if params else str(text)
