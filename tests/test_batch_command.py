"""``manage.py cancel_orders``, a batch surviving a killed worker, and fuzzed files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oscar_ordercancel.batches.preview import create_batch
from oscar_ordercancel.batches.reader import FileRefused
from oscar_ordercancel.batches.runner import start_batch
from oscar_ordercancel.models import CancellationBatch, CancellationBatchRow, OrderCancellation
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


def cancel_orders(*args) -> tuple[int, str]:
    """Run the command; return its exit status and output."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("cancel_orders", *map(str, args), stdout=out, stderr=err)
        return 0, out.getvalue()
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()


@pytest.mark.django_db
def test_the_command_cancels_and_writes_failed_rows_next_to_the_file(tmp_path, staff, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(2)]
    path = tmp_path / "cancel.csv"
    path.write_text(f"order_number\n{orders[0].number}\nNOPE\n{orders[1].number}\n=cmd|calc\n")
    status, output = cancel_orders(path, "--reason", "inventory", "--user", staff.username)
    assert status == 1
    assert "Succeeded: 2, failed: 2." in output
    errors = (tmp_path / "cancel.errors.csv").read_text()
    assert errors.splitlines() == [
        "order_number,reason,note,force,refund,error",
        "NOPE,,,,,There is no order with this number.",
        "'=cmd|calc,,,,,There is no order with this number.",
    ]
    for o in orders:
        o.refresh_from_db()
        assert o.status == "Cancelled"
        record = o.cancellations.get()
        assert (record.channel, record.reason, record.user) == ("cli", "inventory", staff)


@pytest.mark.django_db
def test_a_dry_run_changes_nothing_and_a_clean_file_exits_zero(tmp_path, staff, customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    line = order.lines.order_by("pk").first()
    path = tmp_path / "lines.csv"
    path.write_text(f"order_number;sku;quantity\n{order.number};{line.partner_sku};1\n")
    before = factories.snapshot(order)
    status, output = cancel_orders(path, "--lines", "--dry-run")
    assert status == 0 and "1 will cancel" in output
    assert factories.snapshot(order) == before
    assert not (tmp_path / "lines.errors.csv").exists()
    status, __ = cancel_orders(path, "--lines")
    assert status == 0
    line.refresh_from_db()
    assert order.cancellations.get().lines.get().line == line


@pytest.mark.django_db
def test_the_command_refuses_bad_files_and_arguments(tmp_path, order):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(CommandError, match="binary"):
        cancel_orders(path)
    with pytest.raises(CommandError, match="No such file"):
        cancel_orders(tmp_path / "missing.csv")
    path.write_text(f"order_number\n{order.number}\n")
    with pytest.raises(CommandError, match="Unknown reason"):
        cancel_orders(path, "--reason", "whim")
    with pytest.raises(CommandError, match="No user"):
        cancel_orders(path, "--user", "ghost")
    assert factories.snapshot(order)["cancellations"] == 0


@pytest.mark.django_db
def test_the_default_note_of_the_command_has_the_notes_limit(tmp_path, staff, customer):
    order = factories.place_order(customer, [("10.00", 1)])
    path = tmp_path / "cancel.csv"
    path.write_text(f"order_number\n{order.number}\n")
    with pytest.raises(CommandError) as refused:
        cancel_orders(path, "--note", "n" * 2001)
    assert str(refused.value) == "The note can be at most 2,000 characters long; this one has 2,001."
    assert factories.snapshot(order)["cancellations"] == 0 and not CancellationBatch.objects.exists()
    status, __ = cancel_orders(path, "--note", "Supplier gone", "--user", staff.username)
    assert status == 0 and order.cancellations.get().note == "Supplier gone"


# -- a worker killed mid-batch ------------------------------------------------------------------

WORKER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django
    django.setup()
    from django.db import connection
    connection.settings_dict["NAME"] = {db!r}
    from oscar_ordercancel import signals
    done = []

    def die_mid_chunk(**kwargs):
        done.append(1)
        if len(done) == {kill_after}:
            os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, as a worker lost to the OOM killer

    signals.order_cancelled.connect(die_mid_chunk, weak=False)
    from oscar_ordercancel.batches.runner import run_batch
    run_batch({batch}, chunk_size={chunk})
""")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_resumes_and_does_every_row_exactly_once(staff, customer):
    from oscar_ordercancel.batches.runner import run_batch

    orders = [factories.place_order(customer, [("10.00", 1), ("5.00", 1)]) for __ in range(12)]
    text = "order_number\n" + "\n".join(str(o.number) for o in orders) + "\n"
    batch = create_batch(io.BytesIO(text.encode()), "big.csv", "orders", staff)
    start_batch(batch, enqueue=False)
    script = WORKER.format(root=str(ROOT), db=connection.settings_dict["NAME"], kill_after=8,
                           batch=batch.pk, chunk=5)
    worker = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120,
                            env={**os.environ, "ORDERCANCEL_STRICT": "0"})
    assert worker.returncode == -9, worker.stderr.decode()[-2000:]
    batch.refresh_from_db()
    # Two chunks of 5 were committed; the third died with its transaction.
    assert (batch.state, batch.processed_rows, batch.succeeded_rows) == ("running", 5, 5)
    assert OrderCancellation.objects.count() == 5

    batch = run_batch(batch.pk, chunk_size=5)  # the restarted worker
    assert (batch.state, batch.processed_rows, batch.succeeded_rows, batch.failed_rows) == (
        "completed", 12, 12, 0)
    assert CancellationBatchRow.objects.filter(batch=batch, status="success").count() == 12
    for o in orders:
        o.refresh_from_db()
        assert o.status == "Cancelled"
        assert o.cancellations.count() == 1 and o.notes.count() == 1
        assert o.status_changes.count() == 1
    assert sorted(OrderCancellation.objects.values_list("order_id", flat=True)) == sorted(
        o.pk for o in orders)


# -- fuzzed files ---------------------------------------------------------------------------------

HEADERS = ["order_number", "Order Number", " SKU ", "quantity", "reason", "note", "force",
           "refund", "colour", "", "=cmd", "ORDER_NUMBER"]
CELL = st.one_of(st.text(max_size=20), st.sampled_from(["=1+1", "+44", "-3", "@SUM(A1)", "\t",
                                                       "yes", "2", "0", "x" * 5000]))


@st.composite
def files(draw, valid_numbers):
    """Random bytes, or CSVs of random headers and cells (formulas, huge cells) in odd encodings."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=5))
    cells = st.one_of(CELL, st.sampled_from(valid_numbers))
    body = draw(st.lists(st.lists(cells, max_size=6), max_size=6))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    text = "\n".join(delimiter.join(row) for row in [header, *body])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    return text.encode(encoding, errors="replace")


@pytest.mark.django_db
def test_fuzzed_files_never_crash_and_never_touch_orders_they_do_not_validly_name(staff, customer):
    named = factories.place_order(customer, [("10.00", 1)])
    untouched = factories.place_order(customer, [("10.00", 1)])
    before = factories.snapshot(untouched)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=files([str(named.number)]), kind=st.sampled_from(["orders", "lines"]),
           name=st.sampled_from(["f.csv", "f.xlsx", "f.txt"]))
    def check(data, kind, name):
        try:
            batch = create_batch(io.BytesIO(data), name, kind, staff)
        except FileRefused as refused:
            assert refused.message
            return
        batch = start_batch(batch, enqueue=False)
        from oscar_ordercancel.batches.runner import run_batch

        batch = run_batch(batch.pk)
        assert batch.state == "completed"
        assert batch.processed_rows == batch.total_rows
        for row in batch.rows.all():
            assert row.status in ("success", "error") and row.message
            if row.status == "success":
                assert row.order_number == str(named.number) and row.preview_status == "will_cancel"

    check()
    assert factories.snapshot(untouched) == before
    assert set(CancellationBatch.objects.values_list("state", flat=True)) <= {"completed"}
