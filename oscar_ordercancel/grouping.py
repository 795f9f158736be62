"""Group the effects of many cancellations made together (a batch chunk): one write, one message.

The batch engine sends ``order_cancelled`` for each order of a chunk inside
``grouped()``. A receiver that would do something per cancellation can hand
an item to a group instead, and have the whole group handled once:

* ``defer_write(write, item)``: ``write(items)`` runs once, *inside* the
  transaction, when the ``grouped()`` block ends without an error; the outbox
  writes a chunk's cancel jobs with one statement this way. Whatever it writes
  commits or rolls back with the chunk. A block that raises writes nothing,
  and an error in a write propagates like an error in the block.
* ``defer(flush, item)``: ``flush(items)`` runs once *after commit* with the
  items of the cancellations that were committed (a savepoint rolled back
  takes its items with it); the customer e-mails of a chunk become one Celery
  task this way.

Outside ``grouped()`` both return False, and the receiver does its work for
the one cancellation there and then, as the single-order engine needs.

A write runs after every signal of the block has been sent, so another
receiver of the same signal does not yet see what it writes. Items are
written whenever the block ends well: a receiver must not defer a write from
inside a savepoint of its own that it rolls back and carries on.

The groups live in a context variable: each thread (and asyncio task) has its
own, and they exist only while a ``grouped()`` block runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial

from django.db import transaction


@dataclass
class _Groups:
    """The items of one ``grouped()`` block, per function that handles them."""

    writes: dict[Callable, list] = field(default_factory=dict)
    after_commit: dict[Callable, list] = field(default_factory=dict)


_groups: ContextVar[_Groups | None] = ContextVar("ordercancel_groups", default=None)


@contextmanager
def grouped() -> Iterator[None]:
    """Collect deferred items while inside; at the end run each write, and each flush after commit."""
    groups = _Groups()
    token = _groups.set(groups)
    try:
        yield
        for write, items in groups.writes.items():  # still inside the caller's transaction
            write(list(items))
    finally:
        _groups.reset(token)
    for flush, items in groups.after_commit.items():
        transaction.on_commit(partial(_flush, flush, items))


def _flush(flush: Callable, items: list) -> None:
    if items:
        flush(list(items))


def defer_write(write: Callable[[list], object], item) -> bool:
    """Add ``item`` to ``write``'s group, written in the transaction when ``grouped()`` ends;
    False when not grouping."""
    groups = _groups.get()
    if groups is None:
        return False
    groups.writes.setdefault(write, []).append(item)
    return True


def defer(flush: Callable[[list], None], item) -> bool:
    """Add ``item`` to ``flush``'s group once the transaction commits; False when not grouping."""
    groups = _groups.get()
    if groups is None:
        return False
    items = groups.after_commit.setdefault(flush, [])
    transaction.on_commit(partial(items.append, item))
    return True
