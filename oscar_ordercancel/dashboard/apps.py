"""``oscar_ordercancel.dashboard.apps.OrderCancelDashboardConfig``: the package's own dashboard screens.

Mounted under ``dashboard/ordercancel/`` by ``oscar_ordercancel.urls`` (namespace
``ordercancel_dashboard``). Every URL name starts with ``ordercancel-`` because Oscar's
navigation requires URL names that are unique across all dashboard apps.
"""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarDashboardConfig
from oscar.core.loading import get_class

from oscar_ordercancel.compat import dashboard_permissions


class OrderCancelDashboardConfig(OscarDashboardConfig):
    """Status mappings, cancellation settings per site, resubmitting cancelled orders, cancel jobs."""

    label = "ordercancel_dashboard"
    name = "oscar_ordercancel.dashboard"
    namespace = "ordercancel_dashboard"
    verbose_name = _("Order cancellation dashboard")
    default_auto_field = "django.db.models.AutoField"

    default_permissions = ["is_staff"]

    def configure_permissions(self) -> None:
        """Dashboard permissions per URL name, written as the installed Oscar release takes them."""
        from oscar_ordercancel.policy.rules import STAFF_PERMISSIONS

        DashboardPermission = get_class("dashboard.permissions", "DashboardPermission")
        cancellers = (*([perm] for perm in STAFF_PERMISSIONS),
                      DashboardPermission.partner_dashboard_access)
        mapping = "orderstatusmapping"
        settings = "cancellationsettings"
        self.permissions_map = {
            "ordercancel-mapping-list": dashboard_permissions(
                "oscar_ordercancel", f"view_{mapping}"),
            "ordercancel-mapping-create": dashboard_permissions(
                "oscar_ordercancel", f"view_{mapping}", f"add_{mapping}"),
            "ordercancel-mapping-update": dashboard_permissions(
                "oscar_ordercancel", f"view_{mapping}", f"change_{mapping}"),
            "ordercancel-mapping-delete": dashboard_permissions(
                "oscar_ordercancel", f"view_{mapping}", f"delete_{mapping}"),
            "ordercancel-settings": dashboard_permissions(
                "oscar_ordercancel", f"view_{settings}"),
            # Saving also needs change_cancellationsettings (checked by the view).
            "ordercancel-settings-site": dashboard_permissions(
                "oscar_ordercancel", f"view_{settings}"),
            # Either staff cancel permission (policy.rules.STAFF_PERMISSIONS) will do.
            "ordercancel-order-resubmit": tuple([perm] for perm in STAFF_PERMISSIONS),
            # Cancel jobs: looking needs view_canceljob or a staff cancel permission;
            # acting (and settling a request by hand) needs a staff cancel permission.
            "ordercancel-job-list": (dashboard_permissions("oscar_ordercancel", "view_canceljob"),
                                     *([perm] for perm in STAFF_PERMISSIONS)),
            "ordercancel-job-detail": (dashboard_permissions("oscar_ordercancel", "view_canceljob"),
                                       *([perm] for perm in STAFF_PERMISSIONS)),
            "ordercancel-job-retry": tuple([perm] for perm in STAFF_PERMISSIONS),
            "ordercancel-job-resend": tuple([perm] for perm in STAFF_PERMISSIONS),
            "ordercancel-job-give-up": tuple([perm] for perm in STAFF_PERMISSIONS),
            "ordercancel-cancellation-confirm": tuple([perm] for perm in STAFF_PERMISSIONS),
            "ordercancel-cancellation-reject": tuple([perm] for perm in STAFF_PERMISSIONS),
            # Withdrawals: looking needs view_withdrawaldeclaration or a staff cancel
            # permission; recording goods received, refunding and closing a cancel permission.
            "ordercancel-withdrawal-list": (
                dashboard_permissions("oscar_ordercancel", "view_withdrawaldeclaration"),
                *([perm] for perm in STAFF_PERMISSIONS)),
            "ordercancel-withdrawal-detail": (
                dashboard_permissions("oscar_ordercancel", "view_withdrawaldeclaration"),
                *([perm] for perm in STAFF_PERMISSIONS)),
            "ordercancel-withdrawal-received": tuple([perm] for perm in STAFF_PERMISSIONS),
            "ordercancel-withdrawal-refund": tuple([perm] for perm in STAFF_PERMISSIONS),
            "ordercancel-withdrawal-close": tuple([perm] for perm in STAFF_PERMISSIONS),
            # The staff cancel page, for shops without the orders dashboard fork.
            "ordercancel-order-cancel": cancellers,
            # The cancellation report: the view limits partner users to their orders' figures.
            "ordercancel-cancellation-report": cancellers,
        }
        # CSV batches: the views check again; the policy limits partners to their orders.
        from oscar_ordercancel.dashboard.batches.urls import batch_urls

        self.permissions_map.update({url.name: cancellers for url in batch_urls()})

    def ready(self) -> None:
        """Load the views (a shop's fork of this app may replace any of them)."""
        from oscar_ordercancel.dashboard.loading import get_dashboard_class

        self.mapping_list_view = get_dashboard_class("views", "StatusMappingListView")
        self.mapping_create_view = get_dashboard_class("views", "StatusMappingCreateView")
        self.mapping_update_view = get_dashboard_class("views", "StatusMappingUpdateView")
        self.mapping_delete_view = get_dashboard_class("views", "StatusMappingDeleteView")
        self.settings_index_view = get_dashboard_class("views", "SettingsIndexView")
        self.settings_view = get_dashboard_class("views", "SiteSettingsView")
        self.resubmit_view = get_dashboard_class("views", "ResubmitOrderView")
        self.order_cancel_view = get_dashboard_class("orders.views", "OrderCancelView")
        self.job_list_view = get_dashboard_class("views", "CancelJobListView")
        self.job_detail_view = get_dashboard_class("views", "CancelJobDetailView")
        self.job_retry_view = get_dashboard_class("views", "CancelJobRetryView")
        self.job_resend_view = get_dashboard_class("views", "CancelJobResendView")
        self.job_give_up_view = get_dashboard_class("views", "CancelJobGiveUpView")
        self.cancellation_confirm_view = get_dashboard_class("views", "CancellationConfirmView")
        self.cancellation_reject_view = get_dashboard_class("views", "CancellationRejectView")
        self.withdrawal_list_view = get_dashboard_class("withdrawals", "WithdrawalListView")
        self.withdrawal_detail_view = get_dashboard_class("withdrawals", "WithdrawalDetailView")
        self.withdrawal_received_view = get_dashboard_class("withdrawals", "WithdrawalReceivedView")
        self.withdrawal_refund_view = get_dashboard_class("withdrawals", "WithdrawalRefundView")
        self.withdrawal_close_view = get_dashboard_class("withdrawals", "WithdrawalCloseView")
        self.cancellation_report_view = get_dashboard_class("report", "CancellationReportView")
        self.configure_permissions()

    def get_urls(self) -> list:
        """The app's URL patterns, each wrapped in its permission check."""
        from oscar_ordercancel.dashboard.batches.urls import batch_urls

        urls = [
            path("status-mappings/", self.mapping_list_view.as_view(),
                 name="ordercancel-mapping-list"),
            path("status-mappings/create/", self.mapping_create_view.as_view(),
                 name="ordercancel-mapping-create"),
            path("status-mappings/<int:pk>/", self.mapping_update_view.as_view(),
                 name="ordercancel-mapping-update"),
            path("status-mappings/<int:pk>/delete/", self.mapping_delete_view.as_view(),
                 name="ordercancel-mapping-delete"),
            path("settings/", self.settings_index_view.as_view(), name="ordercancel-settings"),
            path("settings/<int:site_id>/", self.settings_view.as_view(),
                 name="ordercancel-settings-site"),
            path("orders/<str:number>/resubmit/", self.resubmit_view.as_view(),
                 name="ordercancel-order-resubmit"),
            path("orders/<str:number>/cancel/", self.order_cancel_view.as_view(),
                 name="ordercancel-order-cancel"),
            path("jobs/", self.job_list_view.as_view(), name="ordercancel-job-list"),
            path("jobs/<int:pk>/", self.job_detail_view.as_view(), name="ordercancel-job-detail"),
            path("jobs/<int:pk>/retry/", self.job_retry_view.as_view(), name="ordercancel-job-retry"),
            path("jobs/<int:pk>/resend/", self.job_resend_view.as_view(),
                 name="ordercancel-job-resend"),
            path("jobs/<int:pk>/give-up/", self.job_give_up_view.as_view(),
                 name="ordercancel-job-give-up"),
            path("cancellations/<int:pk>/confirm/", self.cancellation_confirm_view.as_view(),
                 name="ordercancel-cancellation-confirm"),
            path("cancellations/<int:pk>/reject/", self.cancellation_reject_view.as_view(),
                 name="ordercancel-cancellation-reject"),
            path("withdrawals/", self.withdrawal_list_view.as_view(),
                 name="ordercancel-withdrawal-list"),
            path("withdrawals/<int:pk>/", self.withdrawal_detail_view.as_view(),
                 name="ordercancel-withdrawal-detail"),
            path("withdrawals/<int:pk>/received/", self.withdrawal_received_view.as_view(),
                 name="ordercancel-withdrawal-received"),
            path("withdrawals/<int:pk>/refund/", self.withdrawal_refund_view.as_view(),
                 name="ordercancel-withdrawal-refund"),
            path("withdrawals/<int:pk>/close/", self.withdrawal_close_view.as_view(),
                 name="ordercancel-withdrawal-close"),
            path("report/", self.cancellation_report_view.as_view(),
                 name="ordercancel-cancellation-report"),
            *batch_urls(),
        ]
        return self.post_process_urls(urls)
