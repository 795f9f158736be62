"""The engine's transaction: a lock wait that times out is a clear "busy" refusal, not a 500.

On PostgreSQL the wait for another cancellation's row locks is capped by
``OSCAR_ORDERCANCEL_LOCK_TIMEOUT`` (set for the engine's own transaction only);
on SQLite the database's ``timeout`` option caps it (use ``"transaction_mode":
"IMMEDIATE"`` so that a write transaction takes its lock when it begins).
PostgreSQL's JIT compiler is also turned off there (see :func:`without_jit`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.exceptions import CancellationBusy

#: Words of the lock errors of SQLite, PostgreSQL and MySQL / MariaDB.
LOCK_ERROR_MARKERS = ("database is locked", "database table is locked", "lock timeout",
                      "deadlock detected", "could not obtain lock", "lock wait timeout",
                      "deadlock found")


def is_lock_error(exc: BaseException) -> bool:
    """Whether a database error says that a lock could not be had in time."""
    text = str(exc).lower()
    return any(marker in text for marker in LOCK_ERROR_MARKERS)


def _set_local(**values: str) -> None:
    """On PostgreSQL, ``SET LOCAL`` each of ``values`` in the current transaction (one query)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(values)),
                           [item for pair in values.items() for item in pair])


def without_jit() -> None:
    """On PostgreSQL, inside a transaction: no JIT compilation for the rest of it.

    The facts query of many orders joins a handful of tables with correlated
    subqueries. Once the tables are large its estimated cost passes
    ``jit_above_cost``, and PostgreSQL then spends longer compiling it
    (hundreds of milliseconds, every time) than running it: JIT helps long
    analytical queries, never these.
    """
    _set_local(jit="off")


def _configure() -> None:
    """The engine's own transaction: no JIT, and the lock wait capped."""
    timeout = get_setting("OSCAR_ORDERCANCEL_LOCK_TIMEOUT")
    if timeout:
        _set_local(jit="off", lock_timeout=f"{int(float(timeout) * 1000)}ms")
    else:
        without_jit()


@contextmanager
def cancellation_transaction() -> Iterator[None]:
    """``transaction.atomic()`` in which a lock that cannot be had raises ``CancellationBusy``."""
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic():
            if outermost:  # never change the settings of a caller's transaction
                _configure()
            yield
    except OperationalError as exc:
        if is_lock_error(exc):
            raise CancellationBusy() from exc
        raise
