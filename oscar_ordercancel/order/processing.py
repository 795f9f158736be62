"""Oscar's EventHandler with cancellation handling."""

from oscar.apps.order.processing import EventHandler as CoreEventHandler

from oscar_ordercancel.order.mixins import CancellationEventHandlerMixin


class EventHandler(CancellationEventHandlerMixin, CoreEventHandler):
    """Oscar's EventHandler plus ``handle_order_cancellation``."""
