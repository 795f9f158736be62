"""Template tags of the dashboard screens."""

from django import template

from oscar_ordercancel.conf import get_setting

register = template.Library()


@register.simple_tag
def ordercancel_processors_configured() -> bool:
    """Whether any cancel processor is configured (``OSCAR_ORDERCANCEL_PROCESSORS``)."""
    return bool(get_setting("OSCAR_ORDERCANCEL_PROCESSORS"))


@register.simple_tag
def ordercancel_resubmittable(order) -> bool:
    """Whether to offer "Resubmit as a new order" (its page explains a stock shortage)."""
    from oscar_ordercancel.engine.resubmit import resubmit_lines
    from oscar_ordercancel.exceptions import CancellationError

    if order.status != get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS"):
        return False  # the common case, without a query
    try:
        resubmit_lines(order)
    except CancellationError as exc:
        return exc.code == "insufficient_stock"
    return True


@register.filter
def ordercancel_lookup(mapping: dict | None, key) -> list:
    """``mapping[key]``, or an empty list (e.g. the delivery states of one cancellation)."""
    return (mapping or {}).get(key, [])


@register.simple_tag
def ordercancel_limit(field: str) -> int:
    """The most characters ``field`` takes (``oscar_ordercancel.limits``), for a ``maxlength``."""
    from oscar_ordercancel.limits import limit

    return limit(field)
