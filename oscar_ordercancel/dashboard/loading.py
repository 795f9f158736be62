"""Load the dashboard app's classes so that a shop's fork of ``ordercancel_dashboard`` wins."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from django.apps import apps
from oscar.core.exceptions import ClassNotFoundError

PACKAGE = "oscar_ordercancel.dashboard"


def _import(path: str) -> ModuleType | None:
    try:
        return import_module(path)
    except ModuleNotFoundError as exc:
        # Only a missing module is skipped; an import error inside one propagates.
        if exc.name and (path == exc.name or path.startswith(exc.name + ".")):
            return None
        raise


def get_dashboard_class(module: str, classname: str) -> type:
    """Return ``classname`` from ``<app>.<module>`` of the installed ``ordercancel_dashboard`` app, else ours.

    Like ``get_class("dashboard.orders.views", ...)`` for Oscar's apps: a shop that
    forks the app (same label, its own package) overrides only what it defines.
    """
    app_name = apps.get_app_config("ordercancel_dashboard").name
    paths = dict.fromkeys([f"{app_name}.{module}", f"{PACKAGE}.{module}"])
    for path in paths:
        found = _import(path)
        if found is not None and hasattr(found, classname):
            return getattr(found, classname)
    raise ClassNotFoundError(f"No class '{classname}' found in {', '.join(paths)}")
