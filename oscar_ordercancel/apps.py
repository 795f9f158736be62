"""The core app: models, policy, engine, signals, checks and the customer URLs."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrderCancelConfig(AppConfig):
    """``oscar_ordercancel.apps.OrderCancelConfig``: list it before ``oscar.config.Shop``."""

    name = "oscar_ordercancel"
    label = "oscar_ordercancel"
    verbose_name = _("Order cancellation")
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        """Connect the integration receivers and register the system checks."""
        from oscar_ordercancel import checks, signals  # noqa: F401
        from oscar_ordercancel.integrations import delivery, notifications, outbox

        signals.order_cancelled.connect(
            notifications.on_order_cancelled, dispatch_uid="ordercancel_notify_cancelled")
        signals.order_cancellation_pending.connect(
            notifications.on_cancellation_pending, dispatch_uid="ordercancel_notify_pending")
        signals.order_cancellation_rejected.connect(
            notifications.on_cancellation_rejected, dispatch_uid="ordercancel_notify_rejected")
        # The outbox: cancel jobs written in the cancellation's own transaction.
        signals.order_cancelled.connect(
            outbox.on_order_cancelled, dispatch_uid="ordercancel_outbox_cancelled")
        signals.order_cancellation_pending.connect(
            outbox.on_cancellation_pending, dispatch_uid="ordercancel_outbox_pending")
        # A declined request's jobs that still wait are never sent.
        signals.order_cancellation_rejected.connect(
            delivery.on_cancellation_rejected, dispatch_uid="ordercancel_outbox_rejected")
