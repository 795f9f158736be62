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
    """Adds ``handle_order_cancellation`` to Oscar's ``EventHandler``, and makes a status
    change to the cancelled status a real cancellation (stock, payment, record, e-mail).
    """

    #: The channel recorded when a status change becomes a cancellation; the forked
    #: orders dashboard sets ``"dashboard"`` on the handlers it makes.
    ordercancel_channel: str = "code"

    def handle_order_cancellation(self, order, lines: Mapping | None = None, **kwargs):
        """Cancel ``order`` (or ``lines``) as this handler's user; returns the record."""
        from oscar_ordercancel.services import cancel_order

        kwargs.setdefault("channel", self.ordercancel_channel)
        return cancel_order(order, user=self.user, lines=lines, **kwargs)

    def handle_order_status_change(self, order, new_status, note_msg=None):
        """Oscar's status change; to the cancelled status it goes through ``cancel_order``.

        A refusal raises ``StatusChangeRefused`` (an Oscar ``InvalidOrderStatus``)
        with the policy's words, and nothing changes.
        """
        from oscar_ordercancel.conf import get_setting
        from oscar_ordercancel.exceptions import CancellationError, StatusChangeRefused
        from oscar_ordercancel.policy import message_for
        from oscar_ordercancel.services import cancel_order, is_applying

        cancelled = get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
        if new_status != cancelled or order.status == cancelled or is_applying(order):
            return super().handle_order_status_change(order, new_status, note_msg=note_msg)
        try:
            cancel_order(order, user=self.user, note=note_msg or "", channel=self.ordercancel_channel)
        except CancellationError as exc:
            raise StatusChangeRefused(
                exc.code, message_for("use_cancel_form", message=exc.message), exc.params) from exc
        order.refresh_from_db()

    # The engine's own changes pass straight through to Oscar's: it may write them in bulk
    # (``oscar_ordercancel.engine.steps.BULK_SAFE_ATTRIBUTE``).
    handle_order_status_change.ordercancel_bulk_safe = True
