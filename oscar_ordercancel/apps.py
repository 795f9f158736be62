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
        from oscar_ordercancel import checks, notifications, signals  # noqa: F401
        from oscar_ordercancel.jobs import delivery, outbox

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
        # A withdrawal declaration: its jobs, its acknowledgement and the staff e-mail.
        signals.withdrawal_declared.connect(
            outbox.on_withdrawal_declared, dispatch_uid="ordercancel_outbox_withdrawal")
        signals.withdrawal_declared.connect(
            notifications.on_withdrawal_declared, dispatch_uid="ordercancel_notify_withdrawal")
        # A declined request's jobs that still wait are never sent.
        signals.order_cancellation_rejected.connect(
            delivery.on_cancellation_rejected, dispatch_uid="ordercancel_outbox_rejected")
        self._connect_status_names()
        self._register_tasks()

    def _register_tasks(self) -> None:
        """Register the Celery tasks (when Celery is installed), so ``queue`` can send them by name."""
        try:
            import celery  # noqa: F401
        except ImportError:
            return
        from oscar_ordercancel import tasks  # noqa: F401

    def _connect_status_names(self) -> None:
        """Status display names: read once per request, forgotten when a mapping changes."""
        from django.core.signals import got_request_exception, request_finished, request_started
        from django.db.models.signals import post_delete, post_save
        from oscar.core.loading import get_model

        from oscar_ordercancel import statuses

        request_started.connect(statuses.open_scope, dispatch_uid="ordercancel_status_names_open")
        request_finished.connect(statuses.close_scope, dispatch_uid="ordercancel_status_names_close")
        # The test client re-raises a view's exception without finishing the request.
        got_request_exception.connect(statuses.close_scope,
                                      dispatch_uid="ordercancel_status_names_error")
        mapping = get_model("oscar_ordercancel", "OrderStatusMapping")
        for signal in (post_save, post_delete):
            signal.connect(statuses.forget, sender=mapping,
                           dispatch_uid=f"ordercancel_status_names_forget_{signal is post_save}")
