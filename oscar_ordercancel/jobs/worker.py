"""What a delivery worker keeps from one task to the next: the jobs it ran while topping up.

A worker that tops up (``delivery.deliver(topup=…)``) runs jobs whose own
wake-up, the one the outbox sent when they committed, is still on its way. When
that wake-up reaches the same worker process, a :class:`TakenJobs` that noted
them lets it be dropped without asking the database. Only that one message is
skipped; every other wake-up (a retry, a resend, the dispatcher's) asks the
database.

The memory belongs to a worker process on purpose: the Celery task
``deliver_cancel_jobs`` keeps one per process and passes it to ``deliver``;
other callers pass none (or their own). It never holds more than ``size``
jobs, forgetting the oldest first. If job ids could be handed out again (a
database restored from a backup, a test database rolled back), a wake-up for a
new job with a remembered id would be dropped: the job is not lost, the
dispatcher wakes it after ``OSCAR_ORDERCANCEL_DISPATCH_GRACE_SECONDS``, and
:meth:`TakenJobs.forget` empties the memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable


class TakenJobs:
    """Jobs this worker ran on their first attempt while topping up, whose fresh wake-up may
    still come to it (bounded, thread-safe)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, job_ids: Iterable[int]) -> None:
        """Remember ``job_ids``."""
        with self._lock:
            for pk in job_ids:
                self._ids[pk] = None
            while len(self._ids) > self.size:
                self._ids.popitem(last=False)

    def take_all(self, job_ids: Iterable[int]) -> bool:
        """Forget ``job_ids`` and return True when every one of them was remembered."""
        job_ids = list(job_ids)
        with self._lock:
            if not job_ids or any(pk not in self._ids for pk in job_ids):
                return False
            for pk in job_ids:
                del self._ids[pk]
            return True

    def forget(self) -> None:
        """Forget every job (when ids may be given out again, e.g. after a database restore)."""
        with self._lock:
            self._ids.clear()
