"""Processors by name, from ``OSCAR_ORDERCANCEL_PROCESSORS`` (read when used)."""

from __future__ import annotations

from django.utils.module_loading import import_string

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.processors.base import CancelProcessor


def get_processor(name: str) -> CancelProcessor | None:
    """An instance of the processor configured as ``name``, or None if there is none."""
    for entry in get_setting("OSCAR_ORDERCANCEL_PROCESSORS"):
        if entry.get("name") == name:
            return import_string(entry["class"])(name, entry.get("options") or {})
    return None


def configured_processors() -> list[CancelProcessor]:
    """Instances of every configured processor."""
    return [import_string(entry["class"])(entry["name"], entry.get("options") or {})
            for entry in get_setting("OSCAR_ORDERCANCEL_PROCESSORS")]
