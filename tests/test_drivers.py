"""The PostgreSQL-specific paths on both drivers Django supports: psycopg 3 and psycopg2.

Every test here (and the others ``conftest.PG_PATHS`` marks ``pg_paths``) runs in
the main pass on psycopg 3, and ``make test`` runs them again with
``ORDERCANCEL_PG_DRIVER=psycopg2``. The tests that are not marked ``postgres``
also run on SQLite, where the same functions take their portable path.
"""

from __future__ import annotations

import datetime
import io
import json
import uuid
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, models
from django.utils import timezone

from oscar_ordercancel.batches.preview import create_batch
from oscar_ordercancel.batches.runner import run_batch, start_batch
from oscar_ordercancel.db.bulk import bulk_insert, bulk_set, copy_from, copy_text, insert_rows
from oscar_ordercancel.db.transactions import cancellation_transaction
from oscar_ordercancel.jobs import statements
from oscar_ordercancel.models import CancelJob, CancelJobAttempt, CancellationBatch, CancellationBatchRow
from tests import factories

pytestmark = pytest.mark.django_db

#: Text that COPY's text format, CSV and JSON each treat specially.
AWKWARD = 'Tab\there, "quoted", back\\slash, \\N, \\., new\nline, cr\r, Grüße ✓ 🚚, \'; --'


@pytest.mark.postgres
def test_the_process_uses_the_driver_it_was_asked_for():
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    from tests.settings import PG_DRIVER, PG_SERVER_BINDING

    assert connection.vendor == "postgresql"
    assert django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert is_psycopg3 is (PG_DRIVER == "psycopg")
    with connection.cursor() as cursor:
        assert type(connection.connection).__module__.split(".")[0] == PG_DRIVER
        # Django's cursor for psycopg 3 binds on the client unless server_side_binding is on
        assert (type(cursor.cursor).__name__ == "ServerBindingCursor") is PG_SERVER_BINDING


def test_cancel_orders_previews_and_cancels_a_file(tmp_path, staff, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    path = tmp_path / "cancel.csv"
    path.write_text("order_number,note\n" + "".join(f"{o.number},by file\n" for o in orders) + "NOPE,\n")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:  # one row failed
        call_command("cancel_orders", str(path), "--user", staff.username, stdout=out, stderr=io.StringIO())
    assert exit_.value.code == 1
    assert "Succeeded: 3, failed: 1." in out.getvalue()
    for order in orders:
        order.refresh_from_db()
        assert order.status == "Cancelled"
        assert order.cancellations.get().note == "by file"
    batch = CancellationBatch.objects.get()
    assert list(batch.rows.order_by("row_number").values_list("order_id", "preview_status", "status")) == [
        *((o.pk, "will_cancel", "success") for o in orders), (None, "error", "error")]


def test_preview_rows_keep_every_character_of_the_file(staff, order):
    text = ("order_number,reason,note\r\n"
            f'{order.number},other,"{AWKWARD.replace(chr(34), chr(34) * 2)}"\r\n'
            '"\\N",,\r\n')
    batch = create_batch(io.BytesIO(text.encode()), "awkward.csv", "orders", staff)
    good, unknown = batch.rows.order_by("row_number")
    assert good.raw == {"order_number": str(order.number), "reason": "other", "note": AWKWARD}
    assert good.options["note"] == AWKWARD
    assert (good.order_id, good.sku, good.quantity, good.status, good.date_done) == (
        order.pk, "", None, "", None)
    assert (unknown.order_number, unknown.order_id, unknown.preview_code) == ("\\N", None, "unknown_order")

    start_batch(batch, enqueue=False)
    run_batch(batch.pk)
    order.refresh_from_db()
    assert order.status == "Cancelled"
    assert order.cancellations.get().note == AWKWARD


@pytest.mark.postgres
def test_copy_writes_every_type_as_postgresql_reads_it_back():
    columns = {
        "flag": ("boolean", models.BooleanField(null=True)),
        "number": ("bigint", models.BigIntegerField(null=True)),
        "amount": ("numeric(12, 2)", models.DecimalField(max_digits=12, decimal_places=2, null=True)),
        "ratio": ("double precision", models.FloatField(null=True)),
        "words": ("text", models.TextField(null=True)),
        "moment": ("timestamp with time zone", models.DateTimeField(null=True)),
        "day": ("date", models.DateField(null=True)),
        "clock": ("time", models.TimeField(null=True)),
        "span": ("interval", models.DurationField(null=True)),
        "key": ("uuid", models.UUIDField(null=True)),
        "blob": ("bytea", models.BinaryField(null=True)),
        "doc": ("jsonb", models.JSONField(null=True)),
    }
    moment = datetime.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=datetime.UTC)
    rows = [
        [True, -(2**62), Decimal("-12345.67"), 0.1, AWKWARD, moment, datetime.date(2026, 2, 28),
         datetime.time(23, 59, 59, 999999), datetime.timedelta(days=-1, seconds=5, microseconds=7),
         uuid.UUID(int=12345), b"\x00\\\t\n\xff", {"note": AWKWARD, "list": [1, None, True]}],
        [False, 0, Decimal("0.00"), float("inf"), "", moment.astimezone(datetime.timezone(
            datetime.timedelta(hours=-5))), datetime.date(1, 1, 1), datetime.time(0), datetime.timedelta(0),
         uuid.UUID(int=0), b"", []],
        [None] * len(columns),
    ]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE oc_copy_types (position integer, "
                       + ", ".join(f"{name} {kind}" for name, (kind, __) in columns.items()) + ")")
    fields = [field for __, field in columns.values()]
    data = "".join(
        "\t".join([str(index), *(copy_text(f, v, connection) for f, v in zip(fields, row, strict=True))])
        + "\n" for index, row in enumerate(rows))
    copy_from(connection, "oc_copy_types", ["position", *columns], data)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM oc_copy_types ORDER BY position")
        read = [list(row) for row in cursor.fetchall()]
    for row in read:
        row[10] = None if row[10] is None else bytes(row[10])  # psycopg2 reads bytea as memoryview
        row[11] = None if row[11] is None else json.loads(row[11])  # Django reads jsonb as text
    assert read == rows


def test_bulk_insert_and_bulk_set_write_nulls_json_dates_and_text(staff, order):
    batch = CancellationBatch.objects.create(user=staff, file_name="x.csv", kind="orders")
    # every row NULL in order, quantity and date_done: arrays of NULLs only, typed by their cast
    written = [CancellationBatchRow(batch=batch, row_number=n, raw={"note": AWKWARD, "n": n},
                                    options={}, preview_status="error", preview_message=AWKWARD,
                                    preview_params={"n": AWKWARD} if n % 2 else None)
               for n in range(1, 6)]
    bulk_insert(written, returning=True)
    rows = list(batch.rows.order_by("row_number"))
    assert [(r.row_number, r.raw, r.order_id, r.quantity, r.date_done, r.preview_message) for r in rows] == [
        (n, {"note": AWKWARD, "n": n}, None, None, None, AWKWARD) for n in range(1, 6)]
    assert [r.preview_params for r in rows] == [{"n": AWKWARD}, None, {"n": AWKWARD}, None, {"n": AWKWARD}]
    # a JSON value None is SQL NULL, as the ORM writes it
    assert batch.rows.filter(preview_params__isnull=True).count() == 2
    assert [r.pk for r in written] == [r.pk for r in rows]  # returning: the keys, in order

    # more distinct value sets than bulk_set writes one by one: one UPDATE … FROM (VALUES …)
    when = timezone.now().replace(microsecond=0)
    for n, row in enumerate(rows):
        row.status = "success" if n % 2 else "error"
        row.message = f"{AWKWARD} {n}"
        row.date_done = None if n == 0 else when + datetime.timedelta(minutes=n)
        row.order_id = order.pk if n == 4 else None
    bulk_set(rows, ["status", "message", "date_done", "order"])
    assert [(r.status, r.message, r.date_done, r.order_id) for r in batch.rows.order_by("row_number")] == [
        (r.status, r.message, r.date_done, r.order_id) for r in rows]


def test_insert_rows_fills_the_other_fields_once_and_returns_the_keys(customer, staff, settings):
    from oscar.core.loading import get_model

    from oscar_ordercancel.services import cancel_order

    settings.OSCAR_ORDERCANCEL_PROCESSORS = []
    order = factories.place_order(customer)
    cancellation = cancel_order(order, user=staff)
    now = timezone.now()
    ids = insert_rows(CancelJob, [
        {"cancellation_id": cancellation.pk, "processor": f"p{n}", "idempotency_key": f"k{n}",
         "payload": {"note": AWKWARD, "n": n, "none": None}} for n in range(3)
    ], same={"state": "pending", "date_created": now, "next_attempt_at": now}, returning=True)
    jobs = list(CancelJob.objects.order_by("pk"))
    assert [job.pk for job in jobs] == ids
    assert [(j.processor, j.idempotency_key, j.payload, j.state, j.attempts, j.last_error,
             j.lease_expires_at, j.date_created, j.next_attempt_at) for j in jobs] == [
        (f"p{n}", f"k{n}", {"note": AWKWARD, "n": n, "none": None}, "pending", 0, "", None, now, now)
        for n in range(3)]
    assert all(job.date_updated is not None for job in jobs)  # auto_now, as a save would
    # one row: every column is sent once, as a scalar (no array to unnest)
    OrderNote = get_model("order", "OrderNote")
    note = OrderNote(order=order, message=AWKWARD, note_type="System")
    bulk_insert([note], returning=True)
    assert OrderNote.objects.get(pk=note.pk).message == AWKWARD


@pytest.mark.postgres
def test_the_delivery_statements_take_empty_and_missing_job_lists(customer, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{"name": "log", "class": "oscar_ordercancel.processors.log."
                                              "LoggingProcessor", "options": {}}]
    from oscar_ordercancel.services import cancel_order

    cancel_order(factories.place_order(customer), user=staff)
    job = CancelJob.objects.get()
    now = timezone.now()
    claim = {"now": now, "lease": now + datetime.timedelta(minutes=5), "limit": 10, "lost_error": "lost"}
    assert statements.any_due(CancelJob, [], now) is False
    assert statements.claim(CancelJob, CancelJobAttempt, [], **claim) == []
    assert statements.any_due(CancelJob, [job.pk], now) is True
    claimed = statements.claim(CancelJob, CancelJobAttempt, [job.pk], **claim)
    assert [(j.pk, j.state, j.attempts) for j in claimed] == [(job.pk, "running", 1)]
    assert claimed[0].lease_expires_at == claim["lease"]

    attempt = CancelJobAttempt(job=claimed[0], started_at=now, outcome=CancelJobAttempt.Outcome.SUCCEEDED,
                               error=AWKWARD, response=AWKWARD, http_status=None)
    done = {"state": "succeeded", "last_error": AWKWARD, "lease_expires_at": None}
    assert statements.record([(claimed[0], done, attempt)]) == {job.pk}
    job.refresh_from_db()
    assert (job.state, job.last_error, job.lease_expires_at) == ("succeeded", AWKWARD, None)
    stored = job.attempt_log.get()
    assert (stored.outcome, stored.error, stored.response, stored.http_status) == (
        "succeeded", AWKWARD, AWKWARD, None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_engine_transaction_sets_its_lock_timeout_and_no_jit_for_itself_only(settings):
    settings.OSCAR_ORDERCANCEL_LOCK_TIMEOUT = 1.5

    def show(name: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW {name}")
            return cursor.fetchone()[0]

    before = (show("lock_timeout"), show("jit"))
    with cancellation_transaction():
        assert (show("lock_timeout"), show("jit")) == ("1500ms", "off")
    assert (show("lock_timeout"), show("jit")) == before
