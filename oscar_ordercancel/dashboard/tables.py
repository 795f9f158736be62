"""django-tables2 tables of the dashboard screens."""

from django.utils.translation import gettext_lazy as _
from django_tables2 import A, BooleanColumn, Column, LinkColumn, TemplateColumn
from oscar.core.loading import get_class

from oscar_ordercancel.models import OrderStatusMapping

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
