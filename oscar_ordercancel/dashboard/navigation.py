"""Add the package's dashboard pages to ``OSCAR_DASHBOARD_NAVIGATION``.

In a shop's settings::

    from oscar.defaults import OSCAR_DASHBOARD_NAVIGATION
    from oscar_ordercancel.dashboard.navigation import add_to_navigation

    OSCAR_DASHBOARD_NAVIGATION = add_to_navigation(OSCAR_DASHBOARD_NAVIGATION)
"""

from __future__ import annotations

import copy

from django.utils.translation import gettext_lazy as _

#: The menu entries, in order. Adding a page to the menu is one line here.
ENTRIES = [
    {"label": _("Order status mappings"), "url_name": "ordercancel_dashboard:ordercancel-mapping-list"},
    {"label": _("Cancellation settings"), "url_name": "ordercancel_dashboard:ordercancel-settings"},
    {"label": _("Bulk cancel (CSV)"), "url_name": "ordercancel_dashboard:ordercancel-batch-upload"},
    {"label": _("Cancel jobs"), "url_name": "ordercancel_dashboard:ordercancel-job-list"},
]

#: The Oscar menu entry our entries join: the group that holds it.
ORDERS_URL_NAME = "dashboard:order-list"


def _find_orders_group(navigation: list) -> dict | None:
    for item in navigation:
        if item.get("url_name") == ORDERS_URL_NAME and item.get("children"):
            return item
        if any(child.get("url_name") == ORDERS_URL_NAME for child in item.get("children", ())):
            return item
    return None


def add_to_navigation(navigation: list, entries: list | None = None) -> list:
    """Return a copy of ``navigation`` with our entries in the menu that holds Oscar's "Orders".

    Idempotent: an entry whose ``url_name`` is already in that menu is not added
    again. Without an Orders menu, an "Orders" menu with our entries is appended.
    """
    navigation = copy.deepcopy(list(navigation))
    entries = ENTRIES if entries is None else entries
    group = _find_orders_group(navigation)
    if group is None:
        group = {"label": _("Orders"), "icon": "fas fa-shopping-cart", "children": []}
        navigation.append(group)
    children = group.setdefault("children", [])
    present = {child.get("url_name") for child in children}
    # Right after Oscar's "Orders" entry (and ours already there), else at the end.
    position = next((i + 1 for i, child in enumerate(children)
                     if child.get("url_name") == ORDERS_URL_NAME), len(children))
    while position < len(children) and children[position].get("url_name", "").startswith(
            "ordercancel_dashboard:"):
        position += 1
    for entry in entries:
        if entry["url_name"] not in present:
            children.insert(position, dict(entry))
            present.add(entry["url_name"])
            position += 1
    return navigation
