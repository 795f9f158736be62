"""The package's Python API: every surface calls these, never the engine's internals.

``cancel_order(order, *, user, lines=None, reason="", note="", comment="", force=False,
refund=False, channel=None, on_behalf_of=None, notify_customer=None)`` cancels an
order, or ``lines`` (``{line: quantity}``) of it, and returns the ``OrderCancellation``.
It raises ``CancellationError`` and changes nothing when refused or when any step fails.

In request mode, ``confirm_cancellation(cancellation)`` and
``reject_cancellation(cancellation, reason=...)`` settle a requested cancellation.

``resubmit_order(order, *, user)`` places a cancelled order again as a new order.
"""

from oscar_ordercancel.engine.cancel import cancel_order, confirm_cancellation, reject_cancellation
from oscar_ordercancel.engine.resubmit import resubmit_order
from oscar_ordercancel.policy import can_cancel

__all__ = [
    "can_cancel", "cancel_order", "confirm_cancellation", "reject_cancellation", "resubmit_order",
]
