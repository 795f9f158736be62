"""Group the outside effects of many cancellations committed together (one message per chunk).

The batch engine cancels a chunk of orders inside ``grouped()``; a signal
receiver that would send one message per cancellation after commit calls
``defer(flush, item)`` instead, and ``flush(items)`` runs once after commit with
the items of the cancellations that were committed (a savepoint rolled back
takes its items with it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

from django.db import transaction

_groups: ContextVar[dict | None] = ContextVar("ordercancel_groups", default=None)


@contextmanager
def grouped() -> Iterator[None]:
    """Collect deferred items while inside; each flush runs once after commit."""
    groups: dict[Callable, list] = {}
    token = _groups.set(groups)
    try:
        yield
    finally:
        _groups.reset(token)
    for flush, items in groups.items():
        transaction.on_commit(partial(_flush, flush, items))


def _flush(flush: Callable, items: list) -> None:
    if items:
        flush(list(items))


def defer(flush: Callable[[list], None], item) -> bool:
    """Add ``item`` to ``flush``'s group once the transaction commits; False when not grouping."""
    groups = _groups.get()
    if groups is None:
        return False
    items = groups.setdefault(flush, [])
    transaction.on_commit(partial(items.append, item))
    return True
