"""``manage.py expire_unpaid_orders [--dry-run]``: cancel the unpaid orders whose time is up."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from tqdm import tqdm

from oscar_ordercancel.expiry import sweep


class Command(BaseCommand):
    @property
    def help(self) -> str:
        """The command's description, in the active language (never translated at import)."""
        return _("Send the due payment reminders, then cancel the unpaid orders placed longer ago "
                 "than their lifetime (channel expiry, reason unpaid). The exit status is 1 when "
                 "any order could not be cancelled.")

    def add_arguments(self, parser) -> None:
        """--dry-run and --chunk-size."""
        parser.add_argument("--dry-run", action="store_true",
                            help=_("list what would be reminded and cancelled; change nothing"))
        parser.add_argument("--chunk-size", type=int, default=None,
                            help=_("orders cancelled per transaction "
                                   "(default: OSCAR_ORDERCANCEL_EXPIRY_CHUNK_SIZE)"))

    def handle(self, *args, **options) -> None:
        """Run the sweep with a progress bar; print the summary; exit 1 on failures."""
        dry_run = options["dry_run"]
        bars = []

        def start(total: int) -> None:  # the bar appears once the sweep knows how many are due
            bars.append(tqdm(total=total, unit=_("order"),
                             desc=_("Checking") if dry_run else _("Expiring"), file=self.stderr._out))

        try:
            result = sweep(dry_run=dry_run, chunk_size=options["chunk_size"], on_start=start,
                           progress=lambda done: bars[0].update(done))
        finally:
            for bar in bars:
                bar.close()
        if dry_run:
            self.stdout.write(_("Dry run: nothing was changed."))
            for number in result.reminded:
                self.stdout.write(_("Would remind: order %(number)s") % {"number": number})
            for number in result.expired:
                self.stdout.write(_("Would expire: order %(number)s") % {"number": number})
        for number in result.paid:
            self.stdout.write(_("Paid, left alone: order %(number)s") % {"number": number})
        for number, why in result.failed:
            self.stderr.write(_("Not expired: order %(number)s: %(why)s")
                              % {"number": number, "why": why})
        summary = _("Reminded: %(reminded)d, expired: %(expired)d, failed: %(failed)d.") if not \
            dry_run else _("Would remind: %(reminded)d, would expire: %(expired)d.")
        self.stdout.write(summary % {"reminded": len(result.reminded),
                                     "expired": len(result.expired), "failed": len(result.failed)})
        if result.failed:
            raise SystemExit(1)
