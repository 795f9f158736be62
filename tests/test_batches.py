"""CSV batches: file checks, the preview (one policy decision per row), the run and its results."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oscar.core.loading import get_model

from oscar_ordercancel import signals
from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.batches import preview
from oscar_ordercancel.batches.exports import error_csv, template_csv
from oscar_ordercancel.batches.preview import create_batch
from oscar_ordercancel.batches.reader import FileRefused
from oscar_ordercancel.batches.runner import run_batch, start_batch
from oscar_ordercancel.batches.safecsv import neutralise
from oscar_ordercancel.exceptions import CancellationVetoed
from oscar_ordercancel.models import CancellationBatch, OrderCancellation
from tests import factories

pytestmark = pytest.mark.django_db
Partner = get_model("partner", "Partner")


def upload(text: str | bytes, user, kind: str = "orders", name: str = "cancel.csv", **options):
    """Preview ``text`` as an uploaded file."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return create_batch(io.BytesIO(data), name, kind, user, **options)


def run(batch):
    """Start a previewed batch and run it to the end, as the Celery task does."""
    start_batch(batch, enqueue=False)
    return run_batch(batch.pk)


def rows(batch) -> dict[int, object]:
    return {row.row_number: row for row in batch.rows.order_by("row_number")}


def sku(order, index: int = 0) -> str:
    return order.lines.order_by("pk")[index].partner_sku


def csv_rows(text: str) -> list[list[str]]:
    import csv

    return list(csv.reader(io.StringIO(text)))


# -- the file ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding,delimiter", [("utf-8", ","), ("utf-8-sig", ";"), ("utf-8", "\t"),
                                                ("utf-8-sig", ",")])
def test_utf8_with_or_without_bom_and_any_delimiter_is_read(staff, order, encoding, delimiter):
    text = delimiter.join([" Order Number ", "REASON", "Note"]) + "\r\n"
    text += delimiter.join([str(order.number), "staff", "Ünïcode note"]) + "\r\n"
    batch = upload(text.encode(encoding), staff)
    row = rows(batch)[2]
    assert (batch.total_rows, batch.valid_rows) == (1, 1)
    assert row.preview_status == "will_cancel"
    assert row.options["note"] == "Ünïcode note" and row.options["reason"] == "staff"


def test_xlsx_workbooks_are_read(staff, order):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Order number", "SKU", "Quantity"])
    sheet.append([order.number, sku(order), 1.0])
    out = io.BytesIO()
    workbook.save(out)
    batch = upload(out.getvalue(), staff, kind="lines", name="cancel.xlsx")
    assert rows(batch)[2].preview_status == "will_cancel"
    assert rows(batch)[2].quantity == 1


@pytest.mark.parametrize("content,words", [
    (b"", "empty"),
    (b"\n\n", "empty"),
    (b"order_number\n", "no rows"),
    (b"order_number,colour\n100\n", "Unknown column \u201ccolour\u201d"),
    (b"sku,Quantity\nA,1\n", "Missing column order_number"),
    (b"order_number,Order Number\n1,1\n", "more than once"),
    (b"order_number\n\xff\xfe1\x00\x002\x00", "binary"),
    ("order_number,note\n1,caf\u00e9\n".encode("latin-1"), "not UTF-8"),
    (b"PK\x03\x04 not really a zip", ".xlsx"),
])
def test_bad_files_are_refused_before_any_row(staff, order, content, words):
    before = factories.snapshot(order)
    with pytest.raises(FileRefused) as refused:
        upload(content, staff, kind="lines" if content.startswith(b"sku") else "orders")
    assert words in refused.value.message
    assert not CancellationBatch.objects.exists()
    assert factories.snapshot(order) == before


@pytest.mark.parametrize("content", [
    "order_number,note\n100001,Grüße\n".encode("utf-16"),      # with a byte-order mark
    "order_number,note\n100001,Grüße\n".encode("utf-16-le"),   # without one
    "order_number,note\n100001,Grüße\n".encode("utf-16-be"),
], ids=["bom", "little-endian", "big-endian"])
def test_a_utf16_file_is_told_to_be_saved_as_utf8(staff, content):
    with pytest.raises(FileRefused) as refused:
        upload(content, staff)
    assert "not UTF-8 (it looks like UTF-16)" in refused.value.message
    assert "binary" not in refused.value.message
    assert not CancellationBatch.objects.exists()


def test_a_huge_header_cell_names_the_line_and_the_limit(staff, order):
    content = ("order_number" + "x" * 2_000_000 + ",note\n" + f"{order.number},a\n").encode()
    with pytest.raises(FileRefused) as refused:
        upload(content, staff)
    message = refused.value.message
    assert message.startswith("Line 1 has a cell of more than 131,072 characters"), message
    assert "field larger than field limit" not in message
    assert not CancellationBatch.objects.exists()


def test_an_unterminated_quote_refuses_the_file_and_names_its_line(staff, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    text = (f'order_number,note\n{orders[0].number},fine\n{orders[1].number},"oops\n'
            f"{orders[2].number},swallowed\n")
    with pytest.raises(FileRefused) as refused:
        upload(text, staff)
    assert refused.value.message.startswith('The quote (") opened on line 3 is never closed')
    assert not CancellationBatch.objects.exists()
    # a stray quote inside a cell is refused too, instead of being read some way or other
    with pytest.raises(FileRefused, match='Line 2 has a quote'):
        upload(f'order_number,note\n{orders[0].number},"say "hi"" there\n', staff)
    # quoted cells over several lines, with doubled quotes, are still read
    batch = upload(f'order_number,note\n{orders[0].number},"two\nlines, ""quoted"""\n', staff)
    assert rows(batch)[2].options["note"] == 'two\nlines, "quoted"'


def test_doubled_quotes_far_down_the_file_are_read_as_spreadsheets_write_them(staff, order):
    """The delimiter is guessed from the first 64 KB; quoting is always the spreadsheets' own."""
    filler = "".join(f"NOPE-{index},plain\n" for index in range(6000))
    text = f'order_number,note\n{filler}{order.number},"say ""hi"""\n'
    batch = upload(text, staff)
    last = batch.rows.get(order_number=str(order.number))
    assert last.options["note"] == 'say "hi"'


def test_files_over_the_size_and_row_limits_are_refused(staff, order, settings):
    settings.OSCAR_ORDERCANCEL_BATCH_MAX_FILE_SIZE = 100
    with pytest.raises(FileRefused, match="files of up to"):
        upload("order_number\n" + "1\n" * 60, staff)
    settings.OSCAR_ORDERCANCEL_BATCH_MAX_FILE_SIZE = 10 * 1024 * 1024
    settings.OSCAR_ORDERCANCEL_BATCH_MAX_ROWS = 3
    with pytest.raises(FileRefused, match="more than 3 rows"):
        upload("order_number\n1\n2\n3\n4\n", staff)
    assert upload("order_number\n1\n2\n3\n", staff).total_rows == 3
    assert factories.snapshot(order)["cancellations"] == 0


def test_line_template_lists_the_columns_and_written_cells_never_start_a_formula():
    assert csv_rows(template_csv("lines"))[0] == ["order_number", "sku", "quantity", "reason",
                                                  "note", "force", "refund"]
    assert csv_rows(template_csv("orders"))[0][0] == "order_number"
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("100023") == "100023" and neutralise(None) == ""


# -- the preview ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [10_000, 2], ids=["one chunk", "chunks of two rows"])
def test_every_error_kind_is_in_the_preview_and_the_error_csv(staff, customer, chunk, monkeypatch):
    # In chunks of two, the rows of one chunk are written while the next is decided
    # (PostgreSQL), and a duplicate is found in a later chunk than its first row.
    monkeypatch.setattr(preview, "PREVIEW_CHUNK", chunk)
    good = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    shipped = factories.place_order(customer, [("10.00", 1)])
    shipped.set_status("Being processed")
    paid = factories.place_order(customer, [("10.00", 1)])
    factories.pay(paid, debited=paid.total_incl_tax)
    text = "order_number,sku,quantity,note\n" + "\n".join([
        f"{good.number},{sku(good)},1,=HYPERLINK(\"http://evil\")",   # 2 will cancel
        f"NOPE-1,{sku(good)},1,",                                    # 3 unknown order
        f"{shipped.number},{sku(shipped)},1,",                       # 4 status
        f"{good.number},NO-SUCH-SKU,1,",                             # 5 sku not on order
        f"{good.number},{sku(good, 1)},5,",                          # 6 quantity over
        f"{paid.number},{sku(paid)},1,",                             # 7 paid without force
        f"{good.number},{sku(good)},1,",                             # 8 duplicate of row 2
        f"{good.number},{sku(good, 1)},x,",                          # 9 bad quantity
    ]) + "\n"
    before = {o.pk: factories.snapshot(o) for o in (good, shipped, paid)}
    batch = upload(text, staff, kind="lines")
    found = {n: (r.preview_status, r.preview_code, r.preview_message) for n, r in rows(batch).items()}
    assert found[2][:2] == ("will_cancel", "")
    assert found[3][:2] == ("error", "unknown_order")
    assert found[4][:2] == ("error", "not_cancellable_status")
    assert found[5][:2] == ("error", "sku_not_in_order") and "NO-SUCH-SKU" in found[5][2]
    assert found[6][:2] == ("error", "quantity_not_cancellable")
    assert found[6][2] == f"The row asks for 5 of SKU “{sku(good, 1)}”, but the order has only 1."
    assert found[7][:2] == ("error", "paid_needs_force")
    assert found[8][:2] == ("error", "duplicate_row") and "row 2" in found[8][2]
    assert found[9][:2] == ("error", "invalid_quantity")
    assert found[9][2] == "The quantity must be a whole number of at least 1, not “x”."
    assert (batch.total_rows, batch.valid_rows) == (8, 1)
    assert {o.pk: factories.snapshot(o) for o in (good, shipped, paid)} == before  # nothing changed

    batch = run(batch)
    assert (batch.succeeded_rows, batch.failed_rows, batch.state) == (1, 7, "completed")
    table = csv_rows(error_csv(batch))
    assert table[0] == ["order_number", "sku", "quantity", "reason", "note", "force", "refund", "error"]
    errors = {line[0] + "/" + line[1] + "/" + line[2]: line[-1] for line in table[1:]}
    assert len(table) == 8
    assert errors[f"NOPE-1/{sku(good)}/1"] == "There is no order with this number."
    assert errors[f"{good.number}/{sku(good, 1)}/5"] == found[6][2]
    # a file has no Force box to tick: the message names the column to set
    assert errors[f"{paid.number}/{sku(paid)}/1"] == (
        "Payment has been taken: to cancel anyway, set the force column of this row to yes.")


def test_a_preview_that_fails_while_writing_rows_leaves_no_batch(staff, customer, monkeypatch):
    orders = [factories.place_order(customer) for __ in range(3)]
    monkeypatch.setattr(preview, "PREVIEW_CHUNK", 1)
    later, calls = preview.copy_columns_later, []

    def failing_second(*args, **kwargs):  # the second chunk's rows: written beside the third
        write = later(*args, **kwargs)

        def writing():
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("disk full")
            write()
        return writing

    monkeypatch.setattr(preview, "copy_columns_later", failing_second)
    before = CancellationBatch.objects.count()
    with pytest.raises(RuntimeError, match="disk full"):
        upload("order_number\n" + "\n".join(str(o.number) for o in orders) + "\n", staff)
    assert CancellationBatch.objects.count() == before
    assert not get_model("oscar_ordercancel", "CancellationBatchRow").objects.exists()


def test_a_huge_quantity_is_too_large_and_says_the_most(staff, order):
    line_sku = sku(order)
    text = (f"order_number,sku,quantity\n{order.number},{line_sku},12345678901234567890\n"
            f"{order.number},{sku(order, 1)},two\n{order.number},{sku(order, 1)}, \n")
    batch = upload(text, staff, kind="lines")
    huge, word, empty = rows(batch)[2], rows(batch)[3], rows(batch)[4]
    assert (empty.preview_code, empty.preview_message) == ("missing_quantity", "The quantity is missing.")
    assert (huge.preview_code, huge.preview_message) == (
        "quantity_too_large",
        "The quantity 12345678901234567890 is too large: at most 2,147,483,647 can be cancelled "
        "from a line.")
    assert huge.raw["quantity"] == "12345678901234567890"
    assert (word.preview_code, word.preview_message) == (
        "invalid_quantity", "The quantity must be a whole number of at least 1, not “two”.")


def test_more_than_a_line_has_says_how_many_it_has_and_why_not_more(staff, customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    first = order.lines.order_by("pk")[0]
    text = f"order_number,sku,quantity\n{order.number},{first.partner_sku},99\n"
    message = rows(upload(text, staff, kind="lines"))[2].preview_message
    assert message == f"The row asks for 99 of SKU “{first.partner_sku}”, but the order has only 2."
    factories.ship(order, first, 1)
    text = f"order_number,sku,quantity\n{order.number},{first.partner_sku},2\n"
    message = rows(upload(text, staff, kind="lines"))[2].preview_message
    assert message == (f"The row asks for 2 of SKU “{first.partner_sku}”, but only 1 of the 2 "
                       "ordered can still be cancelled: 1 has shipped.")


def test_a_long_note_is_kept_whole_or_refused_never_cut(staff, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(2)]
    kept, too_long = "k" * 1500, "t" * 2500
    text = f"order_number,note\n{orders[0].number},{kept}\n{orders[1].number},{too_long}\n"
    batch = upload(text, staff)
    assert rows(batch)[2].options["note"] == kept
    refused = rows(batch)[3]
    assert (refused.preview_code, refused.preview_message) == (
        "too_long", "The note can be at most 2,000 characters long; this one has 2,500.")
    batch = run(batch)
    assert OrderCancellation.objects.get(order=orders[0]).note == kept
    assert not orders[1].cancellations.exists()
    table = csv_rows(error_csv(batch))
    # the whole value comes back, to be shortened and uploaded again
    assert table[0][2] == "note" and table[1][2] == too_long


def test_row_messages_are_written_in_the_language_of_the_reader(staff, customer):
    from django.utils import translation

    from oscar_ordercancel.batches.messages import preview_message, result_message

    done = factories.place_order(customer, [("10.00", 1)])
    with translation.override("en"):
        batch = run(upload(f"order_number\n{done.number}\nNOPE\n", staff))
    cancelled, unknown = rows(batch)[2], rows(batch)[3]
    assert result_message(cancelled) == "Cancelled the whole order."
    with translation.override("de"):
        assert result_message(cancelled) == "Die gesamte Bestellung wurde storniert."
        assert result_message(unknown) == "Es gibt keine Bestellung mit dieser Nummer."
        assert preview_message(cancelled) == "Storniert die gesamte Bestellung."
        assert csv_rows(error_csv(batch))[1][-1] == "Es gibt keine Bestellung mit dieser Nummer."
    # a row of an older version kept only its words: they are shown as they were
    CancellationBatch.objects.get(pk=batch.pk).rows.filter(row_number=3).update(
        params=None, message="Old words.")
    with translation.override("de"):
        assert result_message(rows(batch)[3]) == "Old words."


def test_a_row_the_user_may_not_cancel_is_refused(customer, order):
    nobody = factories.create_user("nobody@example.com", is_staff=True)
    batch = upload(f"order_number\n{order.number}\n", nobody)
    assert rows(batch)[2].preview_code == "not_permitted"
    batch = run(batch)
    assert batch.failed_rows == 1 and factories.snapshot(order)["cancellations"] == 0


def test_a_partner_batch_cancels_only_that_partners_orders(customer):
    ours = [factories.place_order(customer, [("10.00", 1)], partner="Acme") for __ in range(2)]
    theirs = factories.place_order(customer, [("10.00", 1)], partner="Globex")
    partner_user = factories.create_user("acme@example.com", is_staff=True,
                                         perms=["partner.dashboard_access"])
    Partner.objects.get(name="Acme").users.add(partner_user)
    text = "order_number\n" + "\n".join(str(o.number) for o in [ours[0], theirs, ours[1]]) + "\n"
    batch = upload(text, partner_user)
    assert [r.preview_code for r in rows(batch).values()] == ["", "partner_lines", ""]
    assert "partner you do not manage" in rows(batch)[3].preview_message
    batch = run(batch)
    assert (batch.succeeded_rows, batch.failed_rows) == (2, 1)
    assert rows(batch)[3].status == "error" and "partner" in rows(batch)[3].message
    for o in ours:
        o.refresh_from_db()
        assert o.status == "Cancelled"
    theirs.refresh_from_db()
    assert theirs.status == "Pending" and not theirs.cancellations.exists()


# -- the run -------------------------------------------------------------------------------------


def test_a_batch_cancellation_is_a_full_engine_cancellation(staff, customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    factories.pay(order)  # authorised only: voided, no force needed
    partial = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    seen = []
    signals.order_cancellation_requested.connect(lambda **kw: seen.append(("requested", kw["channel"])),
                                                 weak=False, dispatch_uid="t-req")
    signals.order_cancelled.connect(lambda **kw: seen.append(("cancelled", kw["cancellation"].channel)),
                                    weak=False, dispatch_uid="t-done")
    try:
        batch = run(upload(f"order_number,reason,note\n{order.number},inventory,sorry\n", staff))
        lines_batch = run(upload(f"order_number,sku,quantity\n{partial.number},{sku(partial)},1\n",
                                 staff, kind="lines"))
    finally:
        signals.order_cancellation_requested.disconnect(dispatch_uid="t-req")
        signals.order_cancelled.disconnect(dispatch_uid="t-done")
    assert seen == [("requested", "batch"), ("cancelled", "batch")] * 2
    order.refresh_from_db()
    record = OrderCancellation.objects.get(order=order)
    assert order.status == "Cancelled" and record.batch == batch and record.channel == Channel.BATCH
    assert (record.reason, record.note, record.user, record.is_full) == ("inventory", "sorry", staff, True)
    assert record.void_amount == order.total_incl_tax
    assert [(line.status, line.num_allocated) for line in order.lines.order_by("pk")] == [
        ("Cancelled", 0), ("Cancelled", 0)]
    assert [line.stockrecord.num_allocated for line in order.lines.all()] == [0, 0]
    assert sorted(r.stock_released for r in record.lines.all()) == [1, 2]
    assert order.status_changes.get().new_status == "Cancelled"
    assert "Order cancelled" in order.notes.get().message
    assert rows(batch)[2].cancellation == record
    partial.refresh_from_db()
    part = partial.cancellations.get()
    assert partial.status == "Pending" and not part.is_full and part.batch == lines_batch
    assert [(r.line.partner_sku, r.quantity, r.stock_released) for r in part.lines.all()] == [
        (sku(partial), 1, 1)]
    assert "Cancelled 1 ×" in partial.notes.get().message


def test_one_failing_order_never_undoes_the_others(staff, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    vetoed = orders[1]

    def veto(order, **kwargs):
        if order.pk == vetoed.pk:
            raise CancellationVetoed(message="The warehouse has picked it.")

    signals.order_cancellation_requested.connect(veto, weak=False, dispatch_uid="t-veto")
    try:
        batch = run(upload("order_number\n" + "\n".join(str(o.number) for o in orders) + "\n", staff))
    finally:
        signals.order_cancellation_requested.disconnect(dispatch_uid="t-veto")
    assert [(r.status, r.code) for r in rows(batch).values()] == [
        ("success", "ok"), ("error", "vetoed"), ("success", "ok")]
    assert rows(batch)[3].message == "The warehouse has picked it."
    statuses = []
    for o in orders:
        o.refresh_from_db()
        statuses.append((o.status, o.cancellations.count(), o.notes.count()))
    assert statuses == [("Cancelled", 1, 1), ("Pending", 0, 0), ("Cancelled", 1, 1)]


def test_running_the_same_file_again_cancels_nothing_twice(staff, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    text = "order_number\n" + "\n".join(str(o.number) for o in orders) + "\n"
    assert run(upload(text, staff)).succeeded_rows == 3
    again = upload(text, staff)
    assert {r.preview_code for r in rows(again).values()} == {"already_cancelled"}
    again = run(again)
    assert (again.succeeded_rows, again.failed_rows) == (0, 3)
    assert {r.message for r in rows(again).values()} == {"This order has already been cancelled."}
    assert OrderCancellation.objects.count() == 3
    lines_text = f"order_number,sku,quantity\n{orders[0].number},{sku(orders[0])},1\n"
    assert run(upload(lines_text, staff, kind="lines")).failed_rows == 1
    assert OrderCancellation.objects.count() == 3


def test_line_rows_of_one_order_are_each_cancelled_once(staff, customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    text = (f"order_number,sku,quantity\n{order.number},{sku(order)},1\n{order.number},{sku(order, 1)},1\n"
            f"{order.number},{sku(order)}\u200b,1\n")
    batch = upload(text, staff, kind="lines")
    assert rows(batch)[4].preview_code == "sku_not_in_order"
    batch = run(batch)
    assert batch.succeeded_rows == 2
    order.refresh_from_db()
    assert order.cancellations.count() == 2 and order.status == "Pending"
    assert run(upload(f"order_number,sku,quantity\n{order.number},{sku(order)},1\n", staff,
                      kind="lines")).succeeded_rows == 1
    order.refresh_from_db()
    assert order.status == "Cancelled"  # the last line: the whole order is now cancelled


def test_starting_twice_runs_once(staff, order):
    batch = upload(f"order_number\n{order.number}\n", staff)
    run(batch)
    batch = start_batch(batch, enqueue=False)
    assert run_batch(batch.pk).succeeded_rows == 1
    assert OrderCancellation.objects.count() == 1


def test_queries_per_row_do_not_grow_with_the_number_of_orders(staff, customer):
    def queries_for(n: int) -> int:
        orders = [factories.place_order(customer, [("10.00", 1), ("5.00", 2), ("4.00", 1)])
                  for __ in range(n)]
        batch = upload("order_number\n" + "\n".join(str(o.number) for o in orders) + "\n", staff)
        start_batch(batch, enqueue=False)
        with CaptureQueriesContext(connection) as captured:
            done = run_batch(batch.pk)
        assert done.succeeded_rows == n
        return len(captured)

    few, many = queries_for(3), queries_for(30)
    assert many <= few + 2, (few, many)
    assert many / 30 < 1.5  # queries per order


def test_money_is_refunded_only_when_asked(staff, customer):
    paid = [factories.place_order(customer, [("10.00", 1)]) for __ in range(2)]
    for o in paid:
        factories.pay(o, debited=o.total_incl_tax)
    text = f"order_number,force,refund\n{paid[0].number},yes,yes\n{paid[1].number},yes,no\n"
    batch = run(upload(text, staff))
    assert batch.succeeded_rows == 2
    refunds = [OrderCancellation.objects.get(order=o).refund_amount for o in paid]
    assert refunds == [Decimal("10.00") + paid[0].shipping_incl_tax, Decimal("0.00")]


def test_an_order_list_selection_becomes_a_batch(staff, customer):
    Order = get_model("order", "Order")
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    from oscar_ordercancel.batches.preview import create_batch_for_orders

    batch = create_batch_for_orders(Order.objects.filter(pk__in=[o.pk for o in orders]), staff,
                                    reason="fraud")
    assert (batch.file_name, batch.total_rows, batch.valid_rows) == ("Order list selection", 3, 3)
    assert run(batch).succeeded_rows == 3
    assert {c.reason for c in OrderCancellation.objects.all()} == {"fraud"}


def test_a_receiver_crashing_on_one_order_rolls_back_only_that_order(staff, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    broken = orders[2]

    def crash(order, **kwargs):
        if order.pk == broken.pk:
            raise RuntimeError("ERP adapter bug")

    signals.order_cancelled.connect(crash, weak=False, dispatch_uid="t-crash")
    try:
        batch = run(upload("order_number\n" + "\n".join(str(o.number) for o in orders) + "\n", staff))
    finally:
        signals.order_cancelled.disconnect(dispatch_uid="t-crash")
    assert [r.code for r in rows(batch).values()] == ["ok", "ok", "unexpected_error"]
    assert "RuntimeError" in rows(batch)[4].message
    before = factories.snapshot(broken)
    assert (before["status"], before["cancellations"], before["notes"]) == ("Pending", 0, 0)
    assert before["lines"] == [("Pending", 1, False)] and before["stock"] == [1]


def test_a_batch_writes_the_same_records_as_the_single_engine(staff, customer):
    """The batch path writes notes, status changes and cancellation lines in bulk: each with
    every field the single engine gives it."""
    from oscar_ordercancel.services import cancel_order

    def records(order):
        cancellation = order.cancellations.get()
        note = order.notes.get()
        change = order.status_changes.get()
        return {
            "lines": sorted((r.line.quantity, r.quantity, r.stock_released)
                            for r in cancellation.lines.all()),
            "note": (note.message, note.note_type, note.user_id),
            "change": (change.old_status, change.new_status),
            "stamped": note.date_created is not None and change.date_created is not None,
        }

    single = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    cancel_order(single, user=staff, reason="inventory", note="sorry")
    batched = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    run(upload(f"order_number,reason,note\n{batched.number},inventory,sorry\n", staff))
    single.refresh_from_db()
    batched.refresh_from_db()
    expected = records(single)
    assert expected["stamped"] and expected["note"][2] == staff.pk
    assert expected["lines"] == [(1, 1, 1), (2, 2, 2)]
    assert records(batched) == expected


# -- with cancel processors: a chunk's jobs in one statement, one wake-up per dispatch batch --------

PROCESSORS = [{"name": name, "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}
              for name in ("erp", "warehouse")]


@pytest.fixture
def wake_ups(monkeypatch):
    """The job ids of each wake-up the outbox publishes (as if a broker were configured)."""
    from oscar_ordercancel import queue

    sent = []

    def send_task(name, args=(), kwargs=None, **options):
        if name == queue.DELIVER_CANCEL_JOBS:
            sent.append((list(args[0]), kwargs))

    monkeypatch.setattr(queue, "celery_configured", lambda: True)
    monkeypatch.setattr(queue, "send_task", send_task)
    return sent


def previewed(staff, orders, reason="inventory"):
    batch = upload("order_number,reason\n" + "".join(f"{o.number},{reason}\n" for o in orders), staff)
    start_batch(batch, enqueue=False)
    return batch


def three_line_orders(customer, n):
    return [factories.place_order(customer, [("10.00", 1), ("5.00", 2), ("4.00", 1)]) for __ in range(n)]


def job_inserts(captured) -> int:
    from oscar_ordercancel.models import CancelJob

    table = CancelJob._meta.db_table
    return sum(1 for q in captured if q["sql"].lstrip().upper().startswith("INSERT")
               and table in q["sql"])


def test_a_chunk_writes_its_jobs_with_one_insert_and_one_wake_up_per_dispatch_batch(
        staff, customer, settings, wake_ups, django_capture_on_commit_callbacks):
    from oscar_ordercancel.models import CancelJob

    settings.OSCAR_ORDERCANCEL_PROCESSORS = PROCESSORS
    settings.OSCAR_ORDERCANCEL_DISPATCH_BATCH = 4
    orders = three_line_orders(customer, 5)
    batch = previewed(staff, orders)
    with django_capture_on_commit_callbacks(execute=True), \
            CaptureQueriesContext(connection) as captured:
        assert run_batch(batch.pk).succeeded_rows == 5
        assert wake_ups == []  # nothing is published before the chunk commits
    assert job_inserts(captured) == 1
    jobs = list(CancelJob.objects.order_by("pk"))
    assert len(jobs) == 10
    assert sorted((job.cancellation.order_id, job.processor) for job in jobs) == sorted(
        (order.pk, name) for order in orders for name in ("erp", "warehouse"))
    assert {job.state for job in jobs} == {"pending"}
    assert len({job.idempotency_key for job in jobs}) == 10
    assert [len(ids) for ids, __ in wake_ups] == [4, 4, 2]  # ceil(10 / 4) wake-ups
    assert sorted(pk for ids, __ in wake_ups for pk in ids) == [job.pk for job in jobs]
    assert all(kwargs == {"fresh": True} for __, kwargs in wake_ups)


def test_a_chunk_writes_the_payloads_the_single_engine_writes(staff, customer, settings, wake_ups):
    """Built from the records in memory, each payload is what the single path's builder reads."""
    from oscar_ordercancel.jobs.outbox import build_payload
    from oscar_ordercancel.models import CancelJob, OrderStatusMapping

    settings.OSCAR_ORDERCANCEL_PROCESSORS = PROCESSORS
    OrderStatusMapping.objects.create(status="Cancelled", erp_status_code="CX")
    whole = three_line_orders(customer, 2)
    factories.pay(whole[0])  # voided: the amounts differ from order to order
    run(previewed(staff, whole))
    part = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    run(upload(f"order_number,sku,quantity,reason\n{part.number},{sku(part)},1,fraud\n", staff,
               kind="lines"))
    jobs = list(CancelJob.objects.select_related("cancellation__order").order_by("pk"))
    assert len(jobs) == 6
    for job in jobs:
        cancellation = job.cancellation
        expected = build_payload(cancellation.order, cancellation, mode="immediate")
        assert job.payload == {**expected, "idempotency_key": job.idempotency_key,
                               "processor": job.processor}
    payloads = {job.cancellation.order_id: job.payload for job in jobs}
    assert payloads[whole[0].pk]["amounts"]["voided"] == str(whole[0].total_incl_tax)
    assert payloads[whole[0].pk]["order"]["erp_status_code"] == "CX"
    assert [line["quantity"] for line in payloads[whole[1].pk]["lines"]] == [1, 2, 1]
    assert payloads[part.pk]["lines"][0]["quantity"] == 1
    assert payloads[part.pk]["cancellation"]["full"] is False
    assert payloads[part.pk]["reason"] == {"code": "fraud", "label": "Suspected fraud"}


def test_a_chunk_whose_jobs_cannot_be_written_rolls_back_and_each_order_writes_one_set(
        staff, customer, settings, wake_ups, monkeypatch, django_capture_on_commit_callbacks):
    """The chunk's jobs are written in its transaction: when the write fails, the chunk rolls
    back with it, and the orders run again one by one, each writing its own jobs once."""
    from oscar_ordercancel.jobs import outbox
    from oscar_ordercancel.models import CancelJob

    settings.OSCAR_ORDERCANCEL_PROCESSORS = PROCESSORS
    orders = three_line_orders(customer, 3)
    writes = []
    insert = outbox.insert_rows

    def failing_once(model, rows, **kwargs):
        writes.append(len(rows))
        if len(writes) == 1:
            raise RuntimeError("the database refused the chunk's jobs")
        return insert(model, rows, **kwargs)

    monkeypatch.setattr(outbox, "insert_rows", failing_once)
    batch = previewed(staff, orders)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_batch(batch.pk).succeeded_rows == 3  # the whole chunk failed, then each passed
    assert writes == [6, 2, 2, 2]
    jobs = list(CancelJob.objects.order_by("pk"))
    assert sorted((job.cancellation.order_id, job.processor) for job in jobs) == sorted(
        (order.pk, name) for order in orders for name in ("erp", "warehouse"))
    assert OrderCancellation.objects.count() == 3
    assert sorted(pk for ids, __ in wake_ups for pk in ids) == [job.pk for job in jobs]


def test_an_order_that_fails_in_a_chunk_leaves_no_jobs_and_the_others_one_set_each(
        staff, customer, settings, wake_ups, django_capture_on_commit_callbacks):
    from oscar_ordercancel.models import CancelJob

    settings.OSCAR_ORDERCANCEL_PROCESSORS = PROCESSORS
    orders = three_line_orders(customer, 3)
    broken = orders[1]

    def crash(order, **kwargs):
        if order.pk == broken.pk:
            raise RuntimeError("ERP adapter bug")

    signals.order_cancelled.connect(crash, weak=False, dispatch_uid="t-crash-jobs")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            done = run_batch(previewed(staff, orders).pk)
    finally:
        signals.order_cancelled.disconnect(dispatch_uid="t-crash-jobs")
    assert (done.succeeded_rows, done.failed_rows) == (2, 1)
    jobs = list(CancelJob.objects.order_by("pk"))
    assert sorted((job.cancellation.order_id, job.processor) for job in jobs) == sorted(
        (order.pk, name) for order in (orders[0], orders[2]) for name in ("erp", "warehouse"))
    assert not OrderCancellation.objects.filter(order=broken).exists()
    assert sorted(pk for ids, __ in wake_ups for pk in ids) == [job.pk for job in jobs]


def test_a_batch_with_processors_costs_at_most_a_tenth_of_a_query_more_per_order(
        staff, customer, settings, wake_ups, django_assert_max_num_queries):
    n = 30

    def queries(orders) -> int:
        batch = previewed(staff, orders)
        with CaptureQueriesContext(connection) as captured:
            assert run_batch(batch.pk).succeeded_rows == len(orders)
        return len(captured)

    queries(three_line_orders(customer, 2))  # warm up (content types, site, statuses)
    settings.OSCAR_ORDERCANCEL_PROCESSORS = []
    without = queries(three_line_orders(customer, n))
    settings.OSCAR_ORDERCANCEL_PROCESSORS = PROCESSORS
    orders = three_line_orders(customer, n)
    batch = previewed(staff, orders)
    with django_assert_max_num_queries(without + int(0.1 * n)):
        assert run_batch(batch.pk).succeeded_rows == n


def test_a_batch_inside_wake_ups_held_writes_its_jobs_and_wakes_nobody(
        staff, customer, settings, wake_ups, django_capture_on_commit_callbacks):
    from oscar_ordercancel.jobs.outbox import wake_ups_held
    from oscar_ordercancel.models import CancelJob

    settings.OSCAR_ORDERCANCEL_PROCESSORS = PROCESSORS
    batch = previewed(staff, three_line_orders(customer, 2))
    with django_capture_on_commit_callbacks(execute=True), wake_ups_held():
        run_batch(batch.pk)
    assert CancelJob.objects.filter(state="pending").count() == 4
    assert wake_ups == []
