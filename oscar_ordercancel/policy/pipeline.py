"""How cancellable statuses fit Oscar's order status pipeline (shared by checks and the dashboard)."""

from __future__ import annotations

from collections.abc import Iterable

from oscar.core.loading import get_model

from oscar_ordercancel.conf import get_setting

#: Problem codes of :func:`status_problems`.
NOT_IN_PIPELINE = "not_in_pipeline"
TARGET_UNREACHABLE = "target_unreachable"


def order_pipeline() -> dict:
    """Oscar's order status pipeline as the Order model has it (``Order.pipeline``)."""
    return dict(get_model("order", "Order").pipeline or {})


def request_mode() -> bool:
    """Whether cancellations wait for the processors (``OSCAR_ORDERCANCEL_MODE = "request"``)."""
    return get_setting("OSCAR_ORDERCANCEL_MODE") == "request"


def cancel_target_status(*, requested: bool | None = None) -> str:
    """The status a whole-order cancellation moves to: requested (request mode) or cancelled.

    The one definition of this rule (the checks, the dashboard and the engine use it).
    ``requested`` gives the mode instead of reading it from the settings (the engine
    reads it once per cancellation and passes it on).
    """
    if request_mode() if requested is None else requested:
        return get_setting("OSCAR_ORDERCANCEL_REQUESTED_STATUS")
    return get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")


def status_problems(statuses: Iterable[str], pipeline: dict | None = None) -> dict[str, str]:
    """Map each cancellable status the pipeline cannot serve to a problem code."""
    pipeline = order_pipeline() if pipeline is None else pipeline
    target = cancel_target_status()
    problems = {}
    for status in statuses:
        if status not in pipeline:
            problems[status] = NOT_IN_PIPELINE
        elif target not in pipeline[status]:
            problems[status] = TARGET_UNREACHABLE
    return problems
