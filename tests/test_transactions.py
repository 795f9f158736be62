"""The engine's own transaction settings on PostgreSQL: a capped lock wait and no JIT."""

import io

import pytest
from django.db import connection, transaction

from oscar_ordercancel.batches import preview
from oscar_ordercancel.db.transactions import cancellation_transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def test_the_engine_transaction_compiles_nothing_and_caps_its_lock_wait(settings):
    """JIT compiled the facts query of a large chunk on every run (hundreds of ms): it is off
    for the engine's transaction, and only for it."""
    settings.OSCAR_ORDERCANCEL_LOCK_TIMEOUT = 2
    before = show("jit")
    with cancellation_transaction():
        assert show("jit") == "off"
        assert show("lock_timeout") == "2s"
    assert show("jit") == before
    settings.OSCAR_ORDERCANCEL_LOCK_TIMEOUT = None
    with cancellation_transaction():
        assert show("jit") == "off"


def test_a_callers_transaction_keeps_its_settings(settings):
    settings.OSCAR_ORDERCANCEL_LOCK_TIMEOUT = 2
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = on")
        with cancellation_transaction():
            assert show("jit") == "on"
            assert show("lock_timeout") != "2s"


def test_the_preview_runs_without_jit(staff, order, monkeypatch):
    seen = []
    read = preview._read_facts

    def spy(*args, **kwargs):
        seen.append(show("jit"))
        return read(*args, **kwargs)

    monkeypatch.setattr(preview, "_read_facts", spy)
    batch = preview.create_batch(io.BytesIO(f"order_number\n{order.number}\n".encode()),
                                 "a.csv", "orders", staff)
    assert batch.valid_rows == 1 and seen == ["off"]
