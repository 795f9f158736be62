"""Database work of the caller's transaction run in a helper thread while the caller computes.

A batch preview spends about as long waiting for PostgreSQL (reading the facts of
a chunk of rows, writing the rows decided before) as it spends deciding in
Python. :func:`alongside` lets the two overlap on a machine with two cores: one
helper thread runs the database work on the caller's own connection, so inside
its transaction, the way Django's ``LiveServerThread`` shares a connection with
the test that started it. Only one job runs at a time, and the caller never uses
the connection while a job is in flight (it waits for the job's ``result()``
first); leaving the block waits for the last job, so a transaction never commits
or rolls back under a running statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from django.db import connections


def _done_now(fn: Callable, *args) -> Future:
    """Run ``fn(*args)`` here; its result (or exception) in a finished ``Future``."""
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller by result(), as a thread would
        future.set_exception(exc)
    return future


@contextmanager
def alongside(using: str) -> Iterator[Callable[..., Future]]:
    """Yield ``submit(fn, *args) -> Future``: ``fn`` runs in a helper thread on this thread's
    connection ``using``, within its transaction, while the caller goes on with work that does
    not touch the database.

    On PostgreSQL only; elsewhere (SQLite connections are not shared between threads)
    ``submit`` runs ``fn`` at once, in the caller's thread.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield _done_now
        return

    def on_connection(fn: Callable, *args):
        connections[using] = connection  # this thread's alias is the caller's connection
        try:
            return fn(*args)
        finally:
            del connections[using]

    connection.inc_thread_sharing()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ordercancel-db")
    try:
        yield lambda fn, *args: pool.submit(on_connection, fn, *args)
    finally:
        pool.shutdown(wait=True)
        connection.dec_thread_sharing()
