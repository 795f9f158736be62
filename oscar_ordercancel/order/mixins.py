"""Mixins for shops that already fork Oscar's order app: add them to your Order and EventHandler."""

from __future__ import annotations

from collections.abc import Mapping


class CancellableOrderMixin:
    """Cancellation helpers on ``Order``; adds no database fields."""

    def cancellation_decision(self, user, lines: Mapping | None = None, force: bool = False,
                              channel: str | None = None):
        """The policy's ``Decision`` for ``user`` cancelling this order (or ``lines``)."""
        from oscar_ordercancel.policy import can_cancel

        return can_cancel(self, user, lines=lines, force=force, channel=channel)

    def can_be_cancelled_by(self, user, channel: str | None = None) -> bool:
        """Whether ``user`` may cancel the whole order now."""
        return bool(self.cancellation_decision(user, channel=channel))

    def cancel(self, user, **kwargs):
        """Cancel this order through the engine; see ``services.cancel_order``."""
        from oscar_ordercancel.services import cancel_order

        return cancel_order(self, user=user, **kwargs)

    @property
    def is_cancelled(self) -> bool:
        """Whether the order is in the configured cancelled status."""
        from oscar_ordercancel.conf import get_setting

        return self.status == get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")


class CancellationEventHandlerMixin:
    """Adds ``handle_order_cancellation`` to Oscar's ``EventHandler``."""

    def handle_order_cancellation(self, order, lines: Mapping | None = None, **kwargs):
        """Cancel ``order`` (or ``lines``) as this handler's user; returns the record."""
        from oscar_ordercancel.services import cancel_order

        return cancel_order(order, user=self.user, lines=lines, **kwargs)
