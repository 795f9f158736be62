"""Template tags for the customer pages: decisions, cancellation history, status names, and the
withdrawal function's link (``{% withdrawal_link %}``, for a shop's footer)."""

from __future__ import annotations

from django import template
from django.contrib.sites.shortcuts import get_current_site
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.policy import (
    can_cancel,
    can_withdraw,
    decisions_for,
    withdrawable_orders,
    withdrawal_enabled,
)
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


@register.simple_tag(name="withdraw_url")
def withdraw_url(order=None) -> str:
    """The withdrawal function's address, with the order number filled in when given."""
    url = reverse("oscar_ordercancel:withdraw")
    return f"{url}?{urlencode({'order': order.number})}" if order is not None else url


@register.simple_tag(takes_context=True)
def withdrawal_link(context, order=None, css_class: str = "") -> str:
    """``{% withdrawal_link %}``: the "Withdraw from contract here" link, while the function is on.

    Put it in the shop's footer so that it is there on every page (Art. 11a: "prominently
    displayed and easily accessible"); ``order`` fills in the order number.
    """
    request = context.get("request")
    if request is None or not withdrawal_enabled(get_current_site(request).pk):
        return ""
    return render_to_string("oscar_ordercancel/customer/partials/withdrawal_link.html",
                            {"url": withdraw_url(order), "css_class": css_class}, request=request)


@register.simple_tag
def withdrawal_offered(order) -> bool:
    """Whether the withdrawal function is on for the site ``order`` was placed on."""
    return withdrawal_enabled(order.site_id)


@register.simple_tag
def withdrawal_decision(order, user=None):
    """Whether ``user`` (None: a guest) may still withdraw from ``order``, and what."""
    return can_withdraw(order, user=user if getattr(user, "is_authenticated", False) else None)


@register.simple_tag
def withdrawable_order_ids(orders, user=None) -> set[int]:
    """The ids of a page of orders that may still be withdrawn from (a few queries in all)."""
    return withdrawable_orders(list(orders), user if getattr(user, "is_authenticated", False) else None)


@register.simple_tag
def order_withdrawals(order) -> list:
    """The order's withdrawal declarations, newest first, with their lines."""
    return list(order.withdrawal_declarations.prefetch_related("lines__line"))


@register.filter
def contains(values, value) -> bool:
    """``{% if ids|contains:order.pk %}``."""
    return value in values


@register.simple_tag
def order_expiry(order):
    """When ``order`` will be cancelled for want of payment (local time), or ``None``."""
    from django.utils import timezone

    from oscar_ordercancel.policy.expiry import expires_at

    when = expires_at(order)
    return timezone.localtime(when) if when else None
