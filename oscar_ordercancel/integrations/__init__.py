"""Moved: the job queue is :mod:`oscar_ordercancel.jobs`, e-mails :mod:`oscar_ordercancel.notifications`.

The old module paths below still work and warn with ``DeprecationWarning``.
"""
