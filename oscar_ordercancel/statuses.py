"""What people read for an order status: its mapping's display name, else the status itself.

``OrderStatusMapping.display_name`` is "what staff and customers read instead of
the status". Pages show it through :func:`status_display` (the ``status_display``
template filter); data (the ``status`` field of the API, CSV exports, payloads)
keeps the raw status.

The mappings are read once per HTTP request, however many statuses a page shows:
``request_started`` opens a scope whose first look-up loads every display name in
one query and keeps them until ``request_finished`` (or ``got_request_exception``).
Outside a request (a Celery task, a management command) each look-up queries, unless
the code runs inside :func:`cached_status_names`. Saving or deleting a mapping forgets
what was loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from asgiref.local import Local
from oscar.core.loading import get_model

_state = Local()


def status_names() -> dict[str, str]:
    """``{status: display name}`` of every mapping that names one (cached in a scope)."""
    names = getattr(_state, "names", None)
    if names is not None:
        return names
    OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")
    names = dict(OrderStatusMapping._default_manager.exclude(display_name="").order_by()
                 .values_list("status", "display_name"))
    if getattr(_state, "scoped", False):
        _state.names = names
    return names


def status_display(status: str | None) -> str:
    """The display name of ``status`` from its mapping; the status itself when none is set."""
    if not status:
        return status or ""
    return status_names().get(status) or status


@contextmanager
def cached_status_names() -> Iterator[None]:
    """Read the mappings at most once inside (as a request does), e.g. in a task that renders."""
    outer = getattr(_state, "scoped", False)
    _state.scoped, _state.names = True, None
    try:
        yield
    finally:
        _state.scoped, _state.names = outer, None


def open_scope(**kwargs) -> None:
    """``request_started`` receiver: load the mappings afresh, once for this request."""
    _state.scoped, _state.names = True, None


def close_scope(**kwargs) -> None:
    """``request_finished`` receiver: forget the request's mappings."""
    _state.scoped, _state.names = False, None


def forget(**kwargs) -> None:
    """``post_save`` / ``post_delete`` receiver of the mapping model: reload on next use."""
    _state.names = None
