"""Add the package's dashboard pages to ``OSCAR_DASHBOARD_NAVIGATION``: one "Cancellations" menu.

In a shop's settings::

    from oscar.defaults import OSCAR_DASHBOARD_NAVIGATION
    from oscar_ordercancel.dashboard.navigation import add_to_navigation

    OSCAR_DASHBOARD_NAVIGATION = add_to_navigation(OSCAR_DASHBOARD_NAVIGATION)
"""

from __future__ import annotations

import copy

from django.utils.translation import gettext_lazy as _

from oscar_ordercancel.dashboard.pages import MENU_PAGES

#: The menu entries, in order. Each label is also the title and the breadcrumb of its page.
ENTRIES = [{"label": label, "url_name": url_name} for label, url_name in MENU_PAGES]

#: The menu that holds the entries (its ``children`` are filled in by ``add_to_navigation``).
#: Oscar ignores the ``ordercancel`` key; it tells a later call which menu is ours.
MENU = {"label": _("Cancellations"), "icon": "fas fa-ban", "ordercancel": True}

#: The Oscar menu entry our menu follows: it goes right after the menu that holds it.
ORDERS_URL_NAME = "dashboard:order-list"


def _url_names(item: dict) -> set[str]:
    names = {item["url_name"]} if item.get("url_name") else set()
    for child in item.get("children", ()):
        names |= _url_names(child)
    return names


def add_to_navigation(navigation: list, entries: list | None = None) -> list:
    """Return a copy of ``navigation`` with a "Cancellations" menu of ``entries`` (default ``ENTRIES``).

    The menu goes right after the one that holds Oscar's "Orders" (Oscar's default menu
    calls it "Fulfilment"), else at the end. An entry whose page is already somewhere in
    the menu is not added again, so the result is the same when applied twice, and a shop
    that placed one of the pages itself keeps it where it put it.
    """
    navigation = copy.deepcopy(list(navigation))
    entries = ENTRIES if entries is None else entries
    present = set().union(*(_url_names(item) for item in navigation)) if navigation else set()
    menu = next((item for item in navigation if item.get("ordercancel")), None)
    if menu is None:
        menu = {**MENU, "children": []}
        position = next((i + 1 for i, item in enumerate(navigation)
                         if ORDERS_URL_NAME in _url_names(item)), len(navigation))
        navigation.insert(position, menu)
    for entry in entries:
        if entry["url_name"] not in present:
            menu["children"].append(dict(entry))
            present.add(entry["url_name"])
    if not menu["children"]:
        navigation.remove(menu)
    return navigation
