"""Unpaid orders expire: the sweep that cancels them and the reminder sent before.

``sweep(dry_run=False)`` is what ``manage.py expire_unpaid_orders`` and the Celery beat
task ``oscar_ordercancel.tasks.expire_unpaid_orders`` run; ``due_orders()`` is the
selection. Who expires is the policy's (``policy.expiry``); each expiry is an ordinary
cancellation by the batch engine (channel ``expiry``, reason ``unpaid``).
"""

from oscar_ordercancel.expiry.sweeper import SweepResult, due_orders, remind, sweep

__all__ = ["SweepResult", "due_orders", "remind", "sweep"]
