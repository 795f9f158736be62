"""django-tables2 tables of the dashboard screens."""

from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django_tables2 import A, BooleanColumn, Column, DateTimeColumn, LinkColumn, TemplateColumn
from oscar.core.loading import get_class, get_model

from oscar_ordercancel.dashboard.pages import OSCAR_DATETIME

CancelJob = get_model("oscar_ordercancel", "CancelJob")
WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")

DashboardTable = get_class("dashboard.tables", "DashboardTable")


class StatusMappingTable(DashboardTable):
    """The status mappings, sortable by every column."""

    status = LinkColumn("ordercancel_dashboard:ordercancel-mapping-update", args=[A("pk")],
                        verbose_name=_("Order status"), attrs={"a": {"class": "mapping-edit-link"}})
    display_name = Column(verbose_name=_("Display name"))
    erp_status_code = Column(verbose_name=_("ERP status code"))
    allow_cancellation = BooleanColumn(verbose_name=_("Allow cancellation"))
    actions = TemplateColumn(
        template_name="oscar_ordercancel/dashboard/partials/mapping_row_actions.html",
        verbose_name=_("Actions"), orderable=False,
    )

    icon = "fas fa-exchange-alt"
    caption = _("Order status mappings")

    class Meta(DashboardTable.Meta):
        model = OrderStatusMapping
        fields = ("status", "display_name", "erp_status_code", "allow_cancellation")
        sequence = ("status", "display_name", "erp_status_code", "allow_cancellation", "actions")
        order_by = "status"
        empty_text = _("No status mappings yet: every status follows the cancellable statuses alone.")


class CancelJobTable(DashboardTable):
    """Cancel-processor jobs, newest first, sortable by every column but the error."""

    id = LinkColumn("ordercancel_dashboard:ordercancel-job-detail", args=[A("pk")],
                    verbose_name=_("Job"), text=lambda job: f"#{job.pk}",
                    attrs={"a": {"class": "ordercancel-job-link"}})
    order = Column(accessor="cancellation__order__number", verbose_name=_("Order"),
                   order_by=("cancellation__order__number", "withdrawal__order__number"),
                   empty_values=())
    processor = Column(verbose_name=_("Processor"))
    state = TemplateColumn(
        template_code='{% include "oscar_ordercancel/dashboard/partials/job_state.html" '
                      'with state=record.state label=record.get_state_display %}',
        verbose_name=_("State"))
    attempts = Column(verbose_name=_("Attempts"))
    next_attempt_at = DateTimeColumn(verbose_name=_("Next attempt"), format=OSCAR_DATETIME)
    last_error = Column(verbose_name=_("Last error"), orderable=False, empty_values=())
    date_created = DateTimeColumn(verbose_name=_("Created"), format=OSCAR_DATETIME)
    date_finished = DateTimeColumn(verbose_name=_("Finished"), format=OSCAR_DATETIME)

    icon = "fas fa-paper-plane"
    caption = ngettext_lazy("%d cancel job", "%d cancel jobs")

    class Meta(DashboardTable.Meta):
        model = CancelJob
        fields = ("id", "order", "processor", "state", "attempts", "next_attempt_at", "last_error",
                  "date_created", "date_finished")
        sequence = fields
        order_by = ("-date_created", "-id")
        attrs = {**DashboardTable.Meta.attrs, "id": "ordercancel-job-table"}
        row_attrs = {"id": lambda record: f"ordercancel-job-{record.pk}"}
        empty_text = _("No cancel jobs match.")

    def render_order(self, value: str, record: CancelJob) -> str:
        """The order number, linked to the order's dashboard page (a withdrawal job says so)."""
        number = record.order.number
        link = format_html('<a href="{}">{}</a>', reverse(
            "dashboard:order-detail", kwargs={"number": number}), number)
        if record.withdrawal_id:
            return format_html('{} <small class="text-muted">{}</small>', link, _("withdrawal"))
        return link

    def render_last_error(self, value: str, record: CancelJob) -> str:
        """The rejection reason or the last error, shortened."""
        text = record.rejection_reason or record.last_error
        return truncatechars(text, 80) if text else "—"


class WithdrawalTable(DashboardTable):
    """Withdrawal declarations, newest first; an overdue refund is flagged."""

    reference = LinkColumn("ordercancel_dashboard:ordercancel-withdrawal-detail", args=[A("pk")],
                           verbose_name=_("Reference"),
                           attrs={"a": {"class": "ordercancel-withdrawal-link"}})
    order = Column(accessor="order__number", verbose_name=_("Order"), order_by=("order__number",))
    name = Column(verbose_name=_("Name"))
    channel = Column(verbose_name=_("Channel"))
    state = Column(verbose_name=_("State"))
    date_declared = DateTimeColumn(verbose_name=_("Declared at"), format=OSCAR_DATETIME)
    refund_due_by = Column(verbose_name=_("Refund due by"), empty_values=())

    icon = "fas fa-undo"
    caption = ngettext_lazy("%d withdrawal", "%d withdrawals")

    class Meta(DashboardTable.Meta):
        model = WithdrawalDeclaration
        fields = ("reference", "order", "name", "channel", "state", "date_declared", "refund_due_by")
        sequence = fields
        order_by = ("-date_declared",)
        attrs = {**DashboardTable.Meta.attrs, "id": "ordercancel-withdrawal-table"}
        row_attrs = {"id": lambda record: f"ordercancel-withdrawal-{record.pk}",
                     "class": lambda record: "table-danger" if record.is_overdue else ""}
        empty_text = _("No withdrawals match.")

    def render_order(self, value: str, record) -> str:
        """The order number, linked to the order's dashboard page."""
        return format_html('<a href="{}">{}</a>', reverse(
            "dashboard:order-detail", kwargs={"number": value}), value)

    def render_refund_due_by(self, value, record) -> str:
        """The due date; an overdue one says so in words, not colour alone."""
        if value is None:
            return "—"
        text = date_format(timezone.localtime(value), OSCAR_DATETIME)
        if record.is_overdue:
            return format_html('{} <span class="badge badge-danger">{}</span>', text, _("Overdue"))
        return text
