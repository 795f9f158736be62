"""Moved to :mod:`oscar_ordercancel.jobs.outbox`; this path still works."""

from oscar_ordercancel.deprecation import moved_module

__getattr__ = moved_module(__name__, "oscar_ordercancel.jobs.outbox")
