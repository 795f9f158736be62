"""Old import paths of names that moved: they keep working and say where the name lives now."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved_module(old: str, new: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old``: each name is read from ``new`` with a DeprecationWarning."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(importlib.import_module(new), name)
        warnings.warn(f"{old}.{name} has moved to {new}.{name}; import it from there.",
                      DeprecationWarning, stacklevel=2)
        return value

    return __getattr__
