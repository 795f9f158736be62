"""Template tags of the dashboard screens."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.statuses import status_display

register = template.Library()


@register.simple_tag
def ordercancel_processors_configured() -> bool:
    """Whether any cancel processor is configured (``OSCAR_ORDERCANCEL_PROCESSORS``)."""
    return bool(get_setting("OSCAR_ORDERCANCEL_PROCESSORS"))


@register.simple_tag
def ordercancel_resubmittable(order) -> bool:
    """Whether to offer "Resubmit as a new order" (its page explains a stock shortage)."""
    from oscar_ordercancel.exceptions import CancellationError
    from oscar_ordercancel.services import resubmit_lines

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


@register.filter
def ordercancel_status(status: str | None) -> str:
    """A status as staff read it: its mapping's display name, with the status itself as the
    tooltip when the two differ (the status filter and "Change status" use the status)."""
    if not status:
        return ""
    shown = status_display(status)
    if shown == status:
        return format_html('<span class="ordercancel-status">{}</span>', status)
    return format_html('<span class="ordercancel-status" title="{}">{}</span>',
                       _("Order status: %(status)s") % {"status": status}, shown)


@register.simple_tag
def ordercancel_limit(field: str) -> int:
    """The most characters ``field`` takes (``oscar_ordercancel.limits``), for a ``maxlength``."""
    from oscar_ordercancel.limits import limit

    return limit(field)
