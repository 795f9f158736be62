"""The engine's transaction: a lock wait that times out is a clear "busy" refusal, not a 500.

On PostgreSQL the wait for another cancellation's row locks is capped by
``OSCAR_ORDERCANCEL_LOCK_TIMEOUT`` (set for the engine's own transaction only);
on SQLite the database's ``timeout`` option caps it (use ``"transaction_mode":
"IMMEDIATE"`` so that a write transaction takes its lock when it begins).
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


def _cap_lock_wait() -> None:
    timeout = get_setting("OSCAR_ORDERCANCEL_LOCK_TIMEOUT")
    if timeout and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)",
                           [f"{int(float(timeout) * 1000)}ms"])


@contextmanager
def cancellation_transaction() -> Iterator[None]:
    """``transaction.atomic()`` in which a lock that cannot be had raises ``CancellationBusy``."""
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic():
            if outermost:  # never change the lock timeout of a caller's transaction
                _cap_lock_wait()
            yield
    except OperationalError as exc:
        if is_lock_error(exc):
            raise CancellationBusy() from exc
        raise
