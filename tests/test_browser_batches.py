"""Staff cancel from a CSV file in a real browser: template, upload, preview, progress, error CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from oscar_ordercancel.batches import runner
from oscar_ordercancel.models import CancellationBatch
from tests import factories
from tests.test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_staff_cancel_line_items_from_a_csv_file(live_server, page, screenshot, monkeypatch):
    clerk = factories.create_user("clerk@example.com", is_staff=True,
                                  perms=["oscar_ordercancel.cancel_order", "order.view_order"])
    customer = factories.create_user("buyer@example.com")
    orders = [factories.place_order(customer, [("12.50", 2), ("4.99", 1)]) for __ in range(3)]
    shipped = factories.place_order(customer, [("9.00", 1)])
    shipped.set_status("Being processed")
    # The worker is this test: Start only queues the batch, and the page polls its progress.
    monkeypatch.setattr(runner, "enqueue_batch", lambda batch_id: None)
    log_in(page, live_server, clerk.email)

    page.goto(f"{live_server.url}/dashboard/ordercancel/batches/upload/")
    page.click("#tab_lines")
    page.wait_for_selector("#download_template")
    with page.expect_download() as download:
        page.click("#download_template")
    header = Path(download.value.path()).read_text().strip()
    assert header == "order_number,sku,quantity,reason,note,force,refund"

    def sku(order, index=0):
        return order.lines.order_by("pk")[index].partner_sku

    rows = [
        [orders[0].number, sku(orders[0]), "2", "inventory", "", "", ""],
        [orders[1].number, sku(orders[1], 1), "1", "", "", "", ""],
        [orders[2].number, sku(orders[2]), "2", "", "", "", ""],
        [orders[2].number, sku(orders[2], 1), "1", "", "", "", ""],
        [orders[0].number, sku(orders[0], 1), "3", "", "", "", ""],   # only 1 is available
        ["NO-SUCH-ORDER", "SKU-X", "1", "", "", "", ""],
        [shipped.number, sku(shipped), "1", "", "", "", ""],
    ]
    out = io.StringIO()
    csv.writer(out).writerows([header.split(","), *rows])
    page.set_input_files("input[name=file]", files=[
        {"name": "warehouse-shortage.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()}])
    page.fill("textarea[name=note]", "Warehouse shortage, week 47")
    screenshot("batch-upload")
    page.click("#preview_button")

    page.wait_for_selector("#batch_counts")
    assert page.inner_text("#count_total") == "7"
    assert page.inner_text("#count_valid") == "4"
    assert page.inner_text("#count_invalid") == "3"
    table = page.inner_text("#batch_rows")
    assert "asks for 3 of SKU" in table and "but the order has only 1." in table
    assert "There is no order with this number." in table
    screenshot("batch-preview")
    for order in orders:
        order.refresh_from_db()
        assert order.status == "Pending" and not order.cancellations.exists()

    page.click("#start_button")
    page.wait_for_selector("#batch_progress")
    assert page.inner_text("#progress_state") == "Queued"
    batch = CancellationBatch.objects.get()
    runner.run_batch(batch.pk, chunk_size=2)  # the worker
    page.wait_for_selector("#progress_bar[aria-valuenow='100']")
    page.wait_for_timeout(700)  # Bootstrap animates the bar's width
    screenshot("batch-progress")
    page.wait_for_selector("#failed_warning")
    assert "3 rows were not cancelled." in page.inner_text("#failed_warning")
    assert page.locator("#batch_rows .badge-success").count() == 4
    screenshot("batch-results")

    with page.expect_download() as download:
        page.click("#failed_warning #error_csv")
    errors = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert errors[0] == [*header.split(","), "error"]
    assert [line[:3] for line in errors[1:]] == [
        [str(orders[0].number), sku(orders[0], 1), "3"], ["NO-SUCH-ORDER", "SKU-X", "1"],
        [str(shipped.number), sku(shipped), "1"]]
    assert errors[1][-1] == f"The row asks for 3 of SKU “{sku(orders[0], 1)}”, but the order has only 1."
    assert errors[2][-1] == "There is no order with this number."

    for order in orders[1:]:
        order.refresh_from_db()
    assert [o.status for o in orders[1:]] == ["Pending", "Cancelled"]  # two rows: every line
    assert orders[2].cancellations.count() == 2
    orders[0].refresh_from_db()
    assert orders[0].cancellations.get().note == "Warehouse shortage, week 47"
