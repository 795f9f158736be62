"""Django admin registrations (read-mostly: cancellations are records, not editable data)."""

from django.contrib import admin
from oscar.core.loading import get_model

OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")
CancellationSettings = get_model("oscar_ordercancel", "CancellationSettings")
OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")


@admin.register(OrderStatusMapping)
class OrderStatusMappingAdmin(admin.ModelAdmin):
    list_display = ("status", "display_name", "erp_status_code", "allow_cancellation")
    list_editable = ("allow_cancellation",)


@admin.register(CancellationSettings)
class CancellationSettingsAdmin(admin.ModelAdmin):
    list_display = ("site", "allow_customer_cancellation", "cancellable_statuses", "customer_window")


class OrderCancellationLineInline(admin.TabularInline):
    model = OrderCancellationLine
    extra = 0
    raw_id_fields = ("line",)
    readonly_fields = ("line", "quantity", "stock_released")
    can_delete = False


@admin.register(OrderCancellation)
class OrderCancellationAdmin(admin.ModelAdmin):
    list_display = ("order", "is_full", "state", "reason", "channel", "user", "date_created")
    list_filter = ("state", "channel", "reason", "is_full", "forced")
    search_fields = ("order__number",)
    raw_id_fields = ("order", "user", "on_behalf_of")
    inlines = [OrderCancellationLineInline]
    readonly_fields = ("date_created", "date_completed")


CancelJob = get_model("oscar_ordercancel", "CancelJob")
CancelJobAttempt = get_model("oscar_ordercancel", "CancelJobAttempt")


class ReadOnlyAdminMixin:
    """Delivery records are written by the workers only; staff act through the dashboard."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CancelJobAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CancelJobAttempt
    extra = 0
    fields = ("started_at", "duration_ms", "outcome", "http_status", "error", "response")
    readonly_fields = fields


@admin.register(CancelJob)
class CancelJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("idempotency_key", "processor", "state", "attempts", "next_attempt_at",
                    "cancellation", "date_created")
    list_filter = ("state", "processor")
    search_fields = ("idempotency_key", "cancellation__order__number")
    inlines = [CancelJobAttemptInline]
