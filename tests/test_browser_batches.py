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
    header, example = Path(download.value.path()).read_text().strip().splitlines()
    assert header == "order_number,sku,quantity,reason,note,force,refund"
    assert example == "EXAMPLE-100001,EXAMPLE-SKU,1,customer,Replace this row with your own.,no,no"

    def sku(order, index=0):
        return order.lines.order_by("pk")[index].partner_sku

    rows = [
        [orders[0].number, sku(orders[0]), "2", "inventory", "=HYPERLINK(\"http://x.example\")", "", ""],
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
    # the reason and note each row will be cancelled with: a formula is plain to see
    first = page.locator("#batch_rows tbody tr").first.inner_text()
    assert "Out of stock" in first and '=HYPERLINK("http://x.example")' in first
    assert "Warehouse shortage, week 47" in page.locator("#batch_rows tbody tr").nth(1).inner_text()
    assert page.locator("#batch_rows .badge-info").count() == 4  # Will cancel
    assert page.locator("#batch_rows .badge-danger").count() == 3  # Error
    screenshot("batch-preview")
    for order in orders:
        order.refresh_from_db()
        assert order.status == "Pending" and not order.cancellations.exists()

    page.click("#start_button")
    page.wait_for_selector("#batch_progress")
    assert page.inner_text("#progress_state") == "Queued"
    batch = CancellationBatch.objects.get()
    seen = []

    def watch(batch, done):
        """After the first chunk: the page, still polling, shows the bar moving."""
        if seen or not done:
            return
        page.wait_for_function(
            "document.getElementById('progress_processed').textContent !== '3'")
        page.wait_for_timeout(700)  # Bootstrap animates the bar's width
        seen.append((page.inner_text("#progress_state"), page.inner_text("#progress_processed"),
                     page.get_attribute("#progress_bar_cancelled", "class"),
                     page.evaluate("document.getElementById('progress_bar_cancelled').style.width")))
        screenshot("batch-progress")

    runner.run_batch(batch.pk, chunk_size=2, on_progress=watch)  # the worker
    assert seen == [("Running", "5", "progress-bar bg-success progress-bar-striped progress-bar-animated",
                     f"{2 * 100 / 7:.2f}%")]
    page.wait_for_selector("#failed_warning")  # the page reloads when the batch has finished
    assert "3 rows were not cancelled." in page.inner_text("#failed_warning")
    assert page.locator("#batch_rows .badge-success").count() == 4
    states = page.locator("#batch_rows .badge").all_inner_texts()
    assert sorted(set(states)) == ["Cancelled", "Error"]
    assert page.get_attribute("#progress_bar_cancelled", "class") == "progress-bar bg-success"
    assert page.get_attribute("#progress_state", "class") == "badge badge-success"
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
    assert orders[0].cancellations.get().note == '=HYPERLINK("http://x.example")'  # as written
    assert orders[1].cancellations.get().note == "Warehouse shortage, week 47"  # the default
