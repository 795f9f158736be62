"""App config of the orders dashboard fork: same label as Oscar's (``orders_dashboard``)."""

from __future__ import annotations

from django.urls import path
from oscar.apps.dashboard.orders import apps
from oscar.core.loading import get_class

from oscar_ordercancel.compat import dashboard_permissions


class OrdersDashboardConfig(apps.OrdersDashboardConfig):
    """Use in place of ``oscar.apps.dashboard.orders.apps.OrdersDashboardConfig``."""

    name = "oscar_ordercancel.dashboard.orders"

    def configure_permissions(self) -> None:
        """Oscar's map, plus the cancel pages: staff with the cancel permission, or partners.

        A partner user reaches only its own partners' orders (Oscar's order
        queryset) and the policy lets it cancel only orders whose lines are all
        its partners'.
        """
        super().configure_permissions()
        DashboardPermission = get_class("dashboard.permissions", "DashboardPermission")
        cancel = (
            dashboard_permissions("oscar_ordercancel", "cancel_order"),
            dashboard_permissions("order", "change_order"),
            DashboardPermission.partner_dashboard_access,
        )
        self.permissions_map.update({
            "order-cancel": cancel,
            "order-bulk-cancel": cancel,
            "order-resubmit": (
                dashboard_permissions("oscar_ordercancel", "cancel_order"),
                dashboard_permissions("order", "change_order"),
            ),
        })

    def ready(self) -> None:
        """Oscar's views, with the order list and page replaced by ours, and the cancel views.

        ``get_class("dashboard.orders.views", ...)`` resolves through Oscar's
        *dashboard* app, so it would never find this fork's module. Ours are loaded
        by this app's label instead, which a shop's fork of this app (same label)
        overrides the Oscar way.
        """
        super().ready()
        self.order_list_view = get_class("orders_dashboard.views", "OrderListView")
        self.order_detail_view = get_class("orders_dashboard.views", "OrderDetailView")
        self.order_cancel_view = get_class("orders_dashboard.views", "OrderCancelView")
        self.order_bulk_cancel_view = get_class("orders_dashboard.views", "BulkCancelView")
        # The package's own dashboard app defines the resubmit page; a fork of that app wins.
        from oscar_ordercancel.dashboard.loading import get_dashboard_class

        self.order_resubmit_view = get_dashboard_class("views", "ResubmitOrderView")

    def get_urls(self) -> list:
        """Oscar's URLs and ours: bulk cancel (before ``<number>/``), cancel, resubmit."""
        urls = [
            path("bulk-cancel/", self.order_bulk_cancel_view.as_view(), name="order-bulk-cancel"),
            path("<str:number>/cancel/", self.order_cancel_view.as_view(), name="order-cancel"),
            path("<str:number>/resubmit/", self.order_resubmit_view.as_view(), name="order-resubmit"),
        ]
        return self.post_process_urls(urls) + super().get_urls()
