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


#: The dashboard home's "Cancellations" panel covers this many whole days, today included.
RECENT_DAYS = 7


@register.simple_tag(takes_context=True)
def ordercancel_recent_cancellations(context) -> dict | None:
    """The last 7 days' cancellation figures for the dashboard home, or ``None`` for a user
    who may not see the cancellation report (partner users get their orders' figures)."""
    from urllib.parse import urlencode

    from django.urls import NoReverseMatch, reverse

    from oscar_ordercancel.reports import figures

    request = context.get("request")
    scope = figures.scope_for(getattr(request, "user", None))
    if scope is None:
        return None
    try:
        url = reverse("ordercancel_dashboard:ordercancel-cancellation-report")
    except NoReverseMatch:  # the package's dashboard app is not installed
        return None
    date_from, date_to = figures.default_range(RECENT_DAYS)
    return {"totals": figures.summary(date_from, date_to, scope), "days": RECENT_DAYS,
            "date_from": date_from, "date_to": date_to, "is_partner": scope.is_partner,
            "url": f"{url}?{urlencode({'date_from': date_from.isoformat(), 'date_to': date_to.isoformat()})}"}


@register.simple_tag
def ordercancel_expiry_labels(orders) -> dict[int, str]:
    """``{order id: "Expires in 3 hours"}`` for the unpaid orders among ``orders`` that will
    expire (a few queries for all of them; with or without the orders dashboard fork)."""
    from django.utils import timezone

    from oscar_ordercancel.policy.expiry import describe_expiry, expiry_dates

    now = timezone.now()
    return {pk: describe_expiry(when, now) for pk, when in expiry_dates(list(orders or [])).items()}


@register.simple_tag
def ordercancel_expiry_label(order) -> str:
    """"Expires in 3 hours" for an unpaid order that will expire, else ""."""
    return ordercancel_expiry_labels([order]).get(order.pk, "")
