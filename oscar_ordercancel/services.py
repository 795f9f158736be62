"""The package's Python API: every surface calls these, never the engine's internals.

``cancel_order(order, *, user, lines=None, reason="", note="", comment="", force=False,
refund=False, channel=None, on_behalf_of=None, notify_customer=None)`` cancels an
order, or ``lines`` (``{line: quantity}``) of it, and returns the ``OrderCancellation``.
It raises ``CancellationError`` and changes nothing when refused or when any step fails.
"""

from oscar_ordercancel.engine.cancel import cancel_order
from oscar_ordercancel.policy import can_cancel

__all__ = ["can_cancel", "cancel_order"]
