"""Django admin: mappings and settings are editable; cancellations, withdrawal declarations and
expiry reminders are a read-only audit trail."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
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
    list_display = ("site", "allow_customer_cancellation", "cancellable_statuses", "customer_window",
                    "withdrawal_enabled", "expire_unpaid_after", "expiry_reminder_before")


class ReadOnlyAdminMixin:
    """An audit trail: anyone may look, nobody may add, change or delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        """Records are written by the engine only."""
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        """Records are never edited."""
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """Records are never deleted."""
        return False


class OrderCancellationLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderCancellationLine
    extra = 0
    fields = readonly_fields = ("line", "quantity", "stock_released")


@admin.register(OrderCancellation)
class OrderCancellationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order", "is_full", "state", "reason", "channel", "user", "date_created")
    list_filter = ("state", "channel", "reason", "is_full", "forced")
    search_fields = ("order__number", "user__email", "on_behalf_of__email")
    list_select_related = ("order", "user")
    inlines = [OrderCancellationLineInline]


CancelJob = get_model("oscar_ordercancel", "CancelJob")
CancelJobAttempt = get_model("oscar_ordercancel", "CancelJobAttempt")


class CancelJobAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CancelJobAttempt
    extra = 0
    fields = ("started_at", "duration_ms", "outcome", "http_status", "error", "response")
    readonly_fields = fields


@admin.register(CancelJob)
class CancelJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("idempotency_key", "processor", "state", "attempts", "next_attempt_at",
                    "cancellation", "withdrawal", "date_created")
    list_filter = ("state", "processor")
    search_fields = ("idempotency_key", "cancellation__order__number", "withdrawal__order__number",
                     "withdrawal__reference")
    inlines = [CancelJobAttemptInline]


CancellationBatch = get_model("oscar_ordercancel", "CancellationBatch")
CancellationBatchRow = get_model("oscar_ordercancel", "CancellationBatchRow")


@admin.register(CancellationBatch)
class CancellationBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "file_name", "kind", "state", "user", "total_rows", "succeeded_rows",
                    "failed_rows", "date_created", "date_finished")
    list_filter = ("state", "kind", "channel")
    search_fields = ("file_name", "user__email")
    list_select_related = ("user",)


@admin.register(CancellationBatchRow)
class CancellationBatchRowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("batch", "row_number", "order_number", "sku", "quantity", "preview_status",
                    "status", "row_message")
    list_filter = ("status", "preview_status")
    search_fields = ("order_number", "sku")
    raw_id_fields = ("batch", "order", "cancellation")

    @admin.display(description=_("Message"))
    def row_message(self, row) -> str:
        """The row's message in the reader's language (``batches.messages``)."""
        from oscar_ordercancel.batches.messages import result_message

        return result_message(row)


WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
WithdrawalDeclarationLine = get_model("oscar_ordercancel", "WithdrawalDeclarationLine")


class WithdrawalDeclarationLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WithdrawalDeclarationLine
    extra = 0
    fields = readonly_fields = ("line", "quantity", "outcome")


@admin.register(WithdrawalDeclaration)
class WithdrawalDeclarationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Declarations are evidence: shown, never changed or deleted (staff handle them on the
    dashboard's Withdrawals screen)."""

    list_display = ("reference", "order", "name", "email", "channel", "state", "date_declared",
                    "refund_due_by")
    list_filter = ("state", "channel")
    search_fields = ("reference", "order__number", "email", "name")
    list_select_related = ("order",)
    inlines = [WithdrawalDeclarationLineInline]


@admin.register(get_model("oscar_ordercancel", "ExpiryReminder"))
class ExpiryReminderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The payment reminders sent before unpaid orders expire (one per order, read-only)."""

    list_display = ("order", "date_sent", "expires_at")
    search_fields = ("order__number",)
    list_select_related = ("order",)
