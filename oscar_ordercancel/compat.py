"""The Oscar and Django releases this process runs on, read once, and what differs between them.

The package supports every django-oscar 4 release (4.0, 4.1, 4.2) with each Django
that release supports. Where releases differ, the code asks this module instead of
trying an import and catching the error, so each difference is named in one place:

* Oscar 4.2 made dashboard permissions granular: ``DashboardPermission.get(app_label,
  *codenames)`` (a shop may map a codename to others). Oscar 4.0 and 4.1 take
  category names instead (``DashboardPermission.get("order")`` is every order
  permission); there a screen's permissions are written ``app_label.codename``.
* Oscar 4.2 added two-step bulk actions (``oscar.views.generic.IntermediateBulkAction``
  and its view); ``oscar_ordercancel.dashboard.bulk`` gives 4.0 and 4.1 the same.
* Oscar 4.1 made a guest confirm the order's e-mail address before the order-status
  page opens (``customer:anon-order-form``, ``customer.mixins.AnonymousOrderMixin``);
  on Oscar 4.0 the page's signed hash alone proves the order.
* django-treebeard 6 moved ``get_root_nodes()`` and its kin from the node class to
  its manager. Oscar 4.2 gives ``Category`` treebeard's manager; Oscar 4.0 and 4.1
  do not, so their category tree (and django-oscar-api's category list) fails with
  treebeard 6 or newer, which pip picks by default beside Django 5.2 (and treebeard
  5.3 warns, ``treebeard.E001``, that they will). Such a shop pins
  ``django-treebeard<5.3`` (``OSCAR_LEGACY_TREEBEARD_PIN``); the system check
  ``ordercancel.E013`` says so.
"""

from __future__ import annotations

import django
import oscar

#: ``(major, minor)`` of the installed django-oscar and Django.
OSCAR_VERSION: tuple[int, int] = tuple(oscar.VERSION[:2])
DJANGO_VERSION: tuple[int, int] = tuple(django.VERSION[:2])

#: Oscar 4.2+: ``DashboardPermission.get(app_label, *codenames)``.
GRANULAR_DASHBOARD_PERMISSIONS: bool = OSCAR_VERSION >= (4, 2)

#: Oscar 4.2+: ``IntermediateBulkAction`` / ``IntermediateBulkActionView`` in ``oscar.views.generic``.
OSCAR_INTERMEDIATE_BULK_ACTIONS: bool = OSCAR_VERSION >= (4, 2)

#: Oscar 4.1+: a guest's order-status page asks for the order's e-mail address first.
GUEST_ORDER_EMAIL_CHECK: bool = OSCAR_VERSION >= (4, 1)


#: The first django-treebeard release Oscar 4.0 and 4.1 fail with: ``(6, 0)``.
OSCAR_LEGACY_TREEBEARD_BELOW: tuple[int, int] = (6, 0)
#: What a shop on Oscar 4.0 or 4.1 installs: the treebeard releases that neither fail
#: nor warn (5.3 warns ``treebeard.E001`` about Oscar's ``Category`` manager).
OSCAR_LEGACY_TREEBEARD_PIN = "django-treebeard<5.3"


def treebeard_version() -> tuple[int, int]:
    """``(major, minor)`` of the installed django-treebeard."""
    from importlib.metadata import version

    return tuple(int(part) for part in version("django-treebeard").split(".")[:2])


def treebeard_fits(oscar_version: tuple[int, int] = OSCAR_VERSION,
                   treebeard: tuple[int, int] | None = None) -> bool:
    """Whether this Oscar release's ``Category`` works with the installed django-treebeard."""
    if oscar_version >= (4, 2):
        return True
    return (treebeard or treebeard_version()) < OSCAR_LEGACY_TREEBEARD_BELOW


def dashboard_permissions(app_label: str, *codenames: str) -> list[str]:
    """The permissions (all needed) of a dashboard screen, as this Oscar release writes them."""
    if GRANULAR_DASHBOARD_PERMISSIONS:
        from oscar.core.loading import get_class

        return get_class("dashboard.permissions", "DashboardPermission").get(app_label, *codenames)
    return [f"{app_label}.{codename}" for codename in codenames]


#: What Oscar's own order pages (list, detail) ask of a staff user without partner access:
#: ``order.view_order`` from Oscar 4.2; every order permission before (4.0 and 4.1 check
#: ``DashboardPermission.get("order")``, a list that must all hold).
ORDER_PAGE_PERMISSIONS: tuple[str, ...] = (
    ("order.view_order",) if GRANULAR_DASHBOARD_PERMISSIONS
    else ("order.add_order", "order.change_order", "order.view_order", "order.delete_order"))


def with_order_page_permissions(perms) -> list[str]:
    """``perms`` ("app_label.codename"), with what Oscar's order pages need where it has ``view_order``."""
    perms = list(perms)
    if "order.view_order" in perms:
        perms += [perm for perm in ORDER_PAGE_PERMISSIONS if perm not in perms]
    return perms


#: The tested pairs: each Oscar 4 release with the Django versions it supports
#: (noxfile.py runs each with Python 3.11 to 3.13; the README has the table).
SUPPORTED: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {
    (4, 0): ((4, 2), (5, 2)),
    (4, 1): ((4, 2), (5, 2)),
    (4, 2): ((4, 2), (5, 2), (6, 0), (6, 1)),
}


def is_supported(oscar_version: tuple[int, int] = OSCAR_VERSION,
                 django_version: tuple[int, int] = DJANGO_VERSION) -> bool:
    """Whether this Oscar release with this Django is one the package is tested on."""
    return django_version in SUPPORTED.get(oscar_version, ())
