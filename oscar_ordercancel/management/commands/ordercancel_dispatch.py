"""``manage.py ordercancel_dispatch``: re-queue due and stuck cancel jobs (or deliver them here)."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.integrations.delivery import deliver, dispatch, due_job_ids


class Command(BaseCommand):
    @property
    def help(self) -> str:
        """The command's description, in the active language (never translated at import)."""
        return _("Queue cancel jobs that are due (retries, expired leases, lost wake-ups) for the "
                 "Celery workers, or deliver them in this process with --now.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--now", "--sync", action="store_true", dest="now",
                            help=_("Deliver in this process instead of queueing (cron, no worker)."))
        parser.add_argument("--grace", type=float, default=None,
                            help=_("Seconds a new job may wait for its worker before it is "
                                   "queued again (default: OSCAR_ORDERCANCEL_DISPATCH_GRACE_SECONDS)."))
        parser.add_argument("--limit", type=int, default=None, help=_("At most this many jobs."))

    def handle(self, *args, now: bool = False, grace=None, limit=None, **options) -> None:
        if now:
            ids = due_job_ids(grace=grace, limit=limit)
            batch = get_setting("OSCAR_ORDERCANCEL_DISPATCH_BATCH")
            outcomes = Counter()
            for start in range(0, len(ids), batch):
                outcomes.update(o.outcome for o in deliver(ids[start:start + batch]))
            summary = ", ".join(f"{name}: {n}" for name, n in sorted(outcomes.items())) or "-"
            self.stdout.write(_("Delivered %(count)s cancel jobs (%(summary)s).")
                              % {"count": sum(outcomes.values()), "summary": summary})
            return
        try:
            count = dispatch(grace=grace, limit=limit)
        except Exception as exc:  # noqa: BLE001 - e.g. the broker is down: say so, exit non-zero
            raise CommandError(_("Could not queue the cancel jobs: %(error)s") % {"error": exc}) from exc
        self.stdout.write(_("Queued %(count)s cancel jobs.") % {"count": count})
