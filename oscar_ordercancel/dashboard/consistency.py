"""Warnings about settings that contradict the status mappings or the status pipeline."""

from __future__ import annotations

from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel.conf import EffectiveSettings
from oscar_ordercancel.policy.pipeline import NOT_IN_PIPELINE, cancel_target_status, status_problems


def settings_warnings(effective: EffectiveSettings) -> list[str]:
    """What will not work as the effective settings of a site seem to intend."""
    OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")

    statuses = list(effective.cancellable_statuses)
    warnings = []
    forbidden = OrderStatusMapping.objects.filter(
        status__in=statuses, allow_cancellation=False).values_list("status", flat=True)
    for status in sorted(forbidden):
        warnings.append(_("“%(status)s” is a cancellable status, but its status mapping does not "
                          "allow cancellation, so orders in it cannot be cancelled.")
                        % {"status": status})
    target = cancel_target_status()
    for status, problem in status_problems(statuses).items():
        if problem == NOT_IN_PIPELINE:
            warnings.append(_("“%(status)s” is a cancellable status, but it is not in the order "
                              "status pipeline (OSCAR_ORDER_STATUS_PIPELINE).") % {"status": status})
        else:
            warnings.append(_("“%(status)s” is a cancellable status, but the order status pipeline "
                              "does not lead from it to “%(target)s”, so whole orders in it cannot "
                              "be cancelled.") % {"status": status, "target": target})
    if effective.allow_customer_cancellation and effective.customer_window is not None \
            and not effective.customer_window:
        warnings.append(_("Customers are allowed to cancel, but the customer window is 0, "
                          "so they never can."))
    return warnings
