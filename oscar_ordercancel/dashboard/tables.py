"""django-tables2 tables of the dashboard screens."""

from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django_tables2 import A, BooleanColumn, Column, DateTimeColumn, LinkColumn, TemplateColumn
from oscar.core.loading import get_class, get_model

from oscar_ordercancel.dashboard.pages import OSCAR_DATETIME

CancelJob = get_model("oscar_ordercancel", "CancelJob")
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
                   order_by=("cancellation__order__number",))
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
        """The order number, linked to the order's dashboard page."""
        return format_html('<a href="{}">{}</a>', reverse(
            "dashboard:order-detail", kwargs={"number": value}), value)

    def render_last_error(self, value: str, record: CancelJob) -> str:
        """The rejection reason or the last error, shortened."""
        text = record.rejection_reason or record.last_error
        return truncatechars(text, 80) if text else "—"
