"""Settling a requested cancellation (request mode) from what the processors answered."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel.engine.cancel import confirm_cancellation, reject_cancellation
from oscar_ordercancel.processors.base import Rejection

logger = logging.getLogger(__name__)

Order = get_model("order", "Order")
OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
CancelJob = get_model("oscar_ordercancel", "CancelJob")


def settle_request(job, result) -> None:
    """Request mode: confirm when every processor succeeded; reject when one refused."""
    try:
        with transaction.atomic():
            order_id = OrderCancellation.objects.values_list("order_id", flat=True).get(
                pk=job.cancellation_id)
            # The order row is the lock every settlement takes first (as the engine does).
            Order.objects.select_for_update().filter(pk=order_id).exists()
            cancellation = OrderCancellation.objects.get(pk=job.cancellation_id)
            if cancellation.state != OrderCancellation.State.REQUESTED:
                return
            if isinstance(result, Rejection):
                # the other processors' waiting jobs are not sent (on_cancellation_rejected)
                reason = result.reason or _("Declined by %(processor)s") % {"processor": job.processor}
                reject_cancellation(cancellation, reason=reason)
            elif not CancelJob.objects.filter(cancellation_id=cancellation.pk).exclude(
                    state=CancelJob.State.SUCCEEDED).exists():
                confirm_cancellation(cancellation, note=_("Confirmed by %(processors)s") % {
                    "processors": ", ".join(cancellation.jobs.values_list("processor", flat=True))})
    except Exception:  # noqa: BLE001 - the request stays visible; staff settle it by hand
        logger.exception("Could not settle requested cancellation #%s after job %s",
                         job.cancellation_id, job.pk)
