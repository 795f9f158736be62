"""CSV files we hand out: the sample templates and a batch's error CSV (formula-safe)."""

from __future__ import annotations

import io
from collections.abc import Iterator

from django.utils.translation import gettext

from oscar_ordercancel.batches.messages import preview_message, result_message
from oscar_ordercancel.batches.reader import COLUMNS
from oscar_ordercancel.batches.safecsv import SafeWriter
from oscar_ordercancel.conf import reason_choices


def template_columns(kind: str) -> list[str]:
    """The columns of a batch file of ``kind`` (``orders`` or ``lines``)."""
    required, optional = COLUMNS[kind]
    return [*required, *optional]


#: The example row's order number and SKU: no shop has them, so a template uploaded
#: unchanged previews as "no such order" and can cancel nothing.
EXAMPLE_ORDER_NUMBER = "EXAMPLE-100001"
EXAMPLE_SKU = "EXAMPLE-SKU"


def template_example(kind: str) -> dict[str, str]:
    """The template's example row of ``kind``: a value of the right form in every column."""
    reasons = reason_choices()
    return {"order_number": EXAMPLE_ORDER_NUMBER, "sku": EXAMPLE_SKU, "quantity": "1",
            "reason": reasons[0][0] if reasons else "",
            "note": gettext("Replace this row with your own."), "force": "no", "refund": "no"}


def template_csv(kind: str) -> str:
    """The sample template of ``kind``: its header row and one example row."""
    out = io.StringIO()
    writer = SafeWriter(out)
    columns = template_columns(kind)
    example = template_example(kind)
    writer.writerow(columns)
    writer.writerow([example[column] for column in columns])
    return out.getvalue()


def failed_rows(batch):
    """The rows of ``batch`` that failed (before a run: those the preview refused)."""
    Row = batch.rows.model
    if batch.state == batch.State.PREVIEWED:
        rows = batch.rows.filter(preview_status=Row.Preview.ERROR)
    else:
        rows = batch.rows.filter(status=Row.Result.ERROR)
    return rows.order_by("row_number")


def error_csv_lines(batch) -> Iterator[str]:
    """The error CSV of ``batch``, line by line: its failed rows as uploaded, plus ``error``."""
    columns = template_columns(batch.kind)
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow([*columns, "error"])
    yield out.getvalue()
    for row in failed_rows(batch).iterator(chunk_size=2000):
        out.seek(0)
        out.truncate()
        raw = row.raw or {}
        message = result_message(row) if batch.state != batch.State.PREVIEWED else preview_message(row)
        writer.writerow([*(raw.get(column, "") for column in columns), message])
        yield out.getvalue()


def error_csv(batch) -> str:
    """The whole error CSV of ``batch`` as text."""
    return "".join(error_csv_lines(batch))
