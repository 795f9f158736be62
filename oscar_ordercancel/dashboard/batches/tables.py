"""django-tables2 tables of the batch pages."""

from __future__ import annotations

import django_tables2 as tables
from django.template.defaultfilters import truncatechars
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_class, get_model

from oscar_ordercancel.batches.messages import result_message, short
from oscar_ordercancel.conf import reason_choices
from oscar_ordercancel.dashboard.pages import OSCAR_DATETIME

DashboardTable = get_class("dashboard.tables", "DashboardTable")
CancellationBatch = get_model("oscar_ordercancel", "CancellationBatch")
CancellationBatchRow = get_model("oscar_ordercancel", "CancellationBatchRow")

#: What a row's badge says on screen, before and after the run: one vocabulary for the
#: preview and the results. (The stored values stay Increff's SUCCESS / ERROR.)
ROW_STATES = {
    "will_cancel": (_("Will cancel"), "badge-info"),
    "pending": (_("Pending"), "badge-secondary"),
    "success": (_("Cancelled"), "badge-success"),
    "error": (_("Error"), "badge-danger"),
}
#: Notes longer than this are shortened in the table; the full text opens below.
NOTE_SHOWN = 60


def row_state(record) -> str:
    """The row's state on screen: ``will_cancel``, ``pending``, ``success`` or ``error``."""
    if record.status:
        return record.status
    if record.batch.state != CancellationBatch.State.PREVIEWED and \
            record.preview_status == CancellationBatchRow.Preview.WILL_CANCEL:
        return "pending"
    return record.preview_status


def _option(record, name: str) -> str:
    """The row's option after the batch's defaults; the uploaded value when the row was refused."""
    if name in (record.options or {}):
        return record.options[name]
    return (record.raw or {}).get(name, "")


class BatchRowTable(DashboardTable):
    """The rows of a batch: what each asked for and its preview or result."""

    row_number = tables.Column(verbose_name=_("Row"))
    order_number = tables.Column(verbose_name=_("Order number"), empty_values=())
    sku = tables.Column(verbose_name=_("SKU"), empty_values=())
    quantity = tables.Column(verbose_name=_("Quantity"), empty_values=())
    reason = tables.Column(verbose_name=_("Reason"), empty_values=(), orderable=False)
    note = tables.Column(verbose_name=_("Note"), empty_values=(), orderable=False)
    state = tables.Column(verbose_name=_("Status"), empty_values=(), orderable=False)
    message = tables.Column(verbose_name=_("Message"), empty_values=(), orderable=False)
    caption = _("Rows")

    class Meta(DashboardTable.Meta):
        model = CancellationBatchRow
        fields = ("row_number", "order_number", "sku", "quantity")
        order_by = "row_number"
        orderable = False  # file order
        attrs = {"class": "table table-striped table-bordered table-sm", "id": "batch_rows"}
        row_attrs = {"data-status": lambda record: record.status or record.preview_status}
        sequence = ("row_number", "order_number", "sku", "quantity", "reason", "note", "state",
                    "message")

    def __init__(self, *args, kind: str = "orders", **kwargs) -> None:
        exclude = ("sku", "quantity") if kind == "orders" else ()
        super().__init__(*args, exclude=exclude, **kwargs)

    def render_reason(self, record) -> str:
        """The reason's label (its code when the shop no longer offers it), or a dash."""
        code = _option(record, "reason")
        return dict(reason_choices()).get(code, code) if code else "—"

    def render_note(self, record) -> str:
        """The note as staff wrote it (escaped); a long one shortened, its full text below."""
        note = _option(record, "note")
        if not note:
            return "—"
        if len(note) <= NOTE_SHOWN:
            return format_html('<span class="batch-note">{}</span>', note)
        return format_html('<details class="batch-note"><summary>{}</summary>'
                           '<div style="white-space: pre-wrap;">{}</div></details>',
                           truncatechars(note, NOTE_SHOWN), note)

    def render_state(self, record) -> str:
        """Will cancel / Error in the preview; Pending, then Cancelled / Error after the start."""
        state = row_state(record)
        label, badge = ROW_STATES.get(state, (state, "badge-secondary"))
        return format_html('<span class="badge {}">{}</span>', badge, label)

    @staticmethod
    def _as_uploaded(record, column: str, value) -> str:
        """The value read from the file, else (a value that could not be read) the cell as it was."""
        if value not in (None, ""):
            return value
        return short((record.raw or {}).get(column, "")) or "—"

    def render_order_number(self, record, value) -> str:
        """The order number, or the cell as uploaded."""
        return self._as_uploaded(record, "order_number", value)

    def render_sku(self, record, value) -> str:
        """The SKU, or the cell as uploaded."""
        return self._as_uploaded(record, "sku", value)

    def render_quantity(self, record, value) -> str:
        """The quantity, or the cell as uploaded (e.g. “two” or a 20-digit number)."""
        return self._as_uploaded(record, "quantity", value)

    def render_message(self, record) -> str:
        """The result's message, else the preview's, in the reader's language."""
        return result_message(record)


class BatchTable(DashboardTable):
    """The batch history."""

    pk = tables.LinkColumn("ordercancel_dashboard:ordercancel-batch-detail", args=[tables.A("pk")],
                           verbose_name=_("Batch"), text=lambda record: f"#{record.pk}")
    date_created = tables.DateTimeColumn(verbose_name=_("Uploaded"), format=OSCAR_DATETIME)
    user = tables.Column(verbose_name=_("By"), accessor="user__email", default="—")
    file_name = tables.Column(verbose_name=_("File"))
    kind = tables.Column(verbose_name=_("Kind"))
    state = tables.Column(verbose_name=_("State"))
    total_rows = tables.Column(verbose_name=_("Rows"))
    succeeded_rows = tables.Column(verbose_name=_("Cancelled"))
    failed_rows = tables.Column(verbose_name=_("Errors"))
    duration = tables.Column(verbose_name=_("Duration"), empty_values=(), orderable=False)
    caption = _("Batches")

    class Meta(DashboardTable.Meta):
        model = CancellationBatch
        fields = ("pk", "date_created", "user", "file_name", "kind", "state", "total_rows",
                  "succeeded_rows", "failed_rows")
        order_by = "-date_created"
        attrs = {"class": "table table-striped table-bordered", "id": "batch_history"}

    def render_duration(self, record) -> str:
        """Seconds the run took, or a dash before it ran."""
        duration = record.duration
        if duration is None:
            return "—"
        seconds = int(duration.total_seconds())
        return f"{seconds // 60}:{seconds % 60:02d}"
