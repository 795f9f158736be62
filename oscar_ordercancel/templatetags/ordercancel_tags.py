"""Template tags for the customer pages: decisions, cancellation history, status names."""

from __future__ import annotations

from django import template

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.policy import can_cancel, decisions_for
from oscar_ordercancel.statuses import status_display as display_name_of

register = template.Library()


@register.simple_tag
def cancel_decision(order, user, channel: str = Channel.CUSTOMER):
    """The policy's whole-order decision for ``user`` on ``order``."""
    actor = None if channel == Channel.GUEST else user
    return can_cancel(order, actor, channel=channel)


@register.simple_tag
def cancel_decisions(orders, user, channel: str = Channel.CUSTOMER) -> dict:
    """Decisions for a page of orders, keyed by order id (two queries in all)."""
    return decisions_for(list(orders), user, channel=channel)


@register.filter
def decision_for(decisions: dict, order):
    """Pick an order's decision out of ``cancel_decisions``."""
    return decisions.get(order.pk)


@register.simple_tag
def order_cancellations(order) -> list:
    """The order's cancellations, newest first, with their lines."""
    return list(order.cancellations.prefetch_related("lines__line"))


@register.simple_tag
def ordercancel_request_mode() -> bool:
    """Whether cancellations wait for the processors (``OSCAR_ORDERCANCEL_MODE = "request"``)."""
    from oscar_ordercancel.conf import get_setting

    return get_setting("OSCAR_ORDERCANCEL_MODE") == "request"


@register.filter
def status_display(status: str | None) -> str:
    """``{{ order.status|status_display }}``: the status mapping's display name, else the status.

    The mappings are read once per request, however many statuses a page shows.
    """
    return display_name_of(status)
