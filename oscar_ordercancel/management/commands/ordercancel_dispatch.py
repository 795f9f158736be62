"""``manage.py ordercancel_dispatch``: re-queue due and stuck cancel jobs (or deliver them here)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from oscar_ordercancel import services


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
            outcomes = services.deliver_due_jobs(grace=grace, limit=limit)
            summary = ", ".join(f"{name}: {n}" for name, n in sorted(outcomes.items())) or "-"
            self.stdout.write(_("Delivered %(count)s cancel jobs (%(summary)s).")
                              % {"count": sum(outcomes.values()), "summary": summary})
            return
        try:
            count = services.dispatch_jobs(grace=grace, limit=limit)
        except Exception as exc:  # noqa: BLE001 - e.g. the broker is down: say so, exit non-zero
            raise CommandError(_("Could not queue the cancel jobs: %(error)s") % {"error": exc}) from exc
        self.stdout.write(_("Queued %(count)s cancel jobs.") % {"count": count})
