"""The package's Python API: every surface calls these, never the engine's internals.

``cancel_order(order, *, user, lines=None, reason="", note="", comment="", force=False,
refund=False, channel=None, on_behalf_of=None, notify_customer=None)`` cancels an
order, or ``lines`` (``{line: quantity}``) of it, and returns the ``OrderCancellation``.
It raises ``CancellationError`` and changes nothing when refused or when any step fails.

In request mode, ``confirm_cancellation(cancellation)`` and
``reject_cancellation(cancellation, reason=...)`` settle a requested cancellation.

``resubmit_order(order, *, user)`` places a cancelled order again as a new order.

Cancel-processor jobs: ``retry_job(job, user=...)`` delivers a pending or failed job
now, ``resend_job(job, user=...)`` delivers a finished one again under the same
idempotency key, and ``give_up_job(job, user=..., reason="")`` stops retrying.
"""

from oscar_ordercancel.engine.cancel import cancel_order, confirm_cancellation, reject_cancellation
from oscar_ordercancel.engine.resubmit import resubmit_order
from oscar_ordercancel.integrations.monitor import give_up as give_up_job
from oscar_ordercancel.integrations.monitor import resend as resend_job
from oscar_ordercancel.integrations.monitor import retry_now as retry_job
from oscar_ordercancel.policy import can_cancel

__all__ = ["can_cancel", "cancel_order", "confirm_cancellation", "give_up_job",
           "reject_cancellation", "resend_job", "resubmit_order", "retry_job"]
