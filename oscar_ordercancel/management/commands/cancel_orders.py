"""``manage.py cancel_orders FILE [--lines] [--dry-run] [--reason] [--note] [--user] [--force] …``."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from oscar_ordercancel import limits
from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.batches.exports import error_csv_lines, failed_rows
from oscar_ordercancel.batches.preview import create_batch
from oscar_ordercancel.batches.reader import FileRefused
from oscar_ordercancel.batches.runner import run_batch, start_batch
from oscar_ordercancel.conf import reason_choices


class Command(BaseCommand):
    @property
    def help(self) -> str:
        """The command's description, in the active language (never translated at import)."""
        return _("Cancel the orders (or, with --lines, the line items) listed in a CSV or XLSX file, "
                 "with the same checks as the dashboard upload. Failed rows go to FILE.errors.csv; "
                 "the exit status is 1 when any row failed.")

    def add_arguments(self, parser) -> None:
        """The file and the batch options."""
        parser.add_argument("file", help=_("CSV or XLSX file"))
        parser.add_argument("--lines", action="store_true",
                            help=_("the file lists line items (order_number, sku, quantity)"))
        parser.add_argument("--dry-run", action="store_true",
                            help=_("only check the rows; change nothing"))
        parser.add_argument("--reason", default="", help=_("reason code for rows without one"))
        parser.add_argument("--note", default="", help=_("staff note for rows without one"))
        parser.add_argument("--user", default=None,
                            help=_("username to cancel as (the policy applies to them)"))
        parser.add_argument("--force", action="store_true",
                            help=_("force paid orders for rows that do not say"))
        parser.add_argument("--refund", action="store_true",
                            help=_("refund what was taken for rows that do not say"))

    def handle(self, *args, **options) -> None:
        """Preview the file, run it unless --dry-run, write the error CSV, exit 1 on failures."""
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No such file: %(path)s") % {"path": path})
        if options["reason"] and options["reason"] not in dict(reason_choices()):
            raise CommandError(_("Unknown reason %(reason)s; use one of: %(codes)s.") % {
                "reason": options["reason"], "codes": ", ".join(dict(reason_choices()))})
        if len(options["note"]) > limits.NOTE:
            raise CommandError(limits.too_long_message("note", len(options["note"])))
        user = None
        if options["user"]:
            User = get_user_model()
            try:
                user = User.objects.get(**{User.USERNAME_FIELD: options["user"]})
            except User.DoesNotExist as exc:
                raise CommandError(_("No user %(name)s.") % {"name": options["user"]}) from exc
        kind = "lines" if options["lines"] else "orders"
        try:
            with path.open("rb") as stream:
                batch = create_batch(stream, path.name, kind, user, reason=options["reason"],
                                     note=options["note"], force=options["force"],
                                     refund=options["refund"], channel=Channel.CLI)
        except FileRefused as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(_("Batch #%(pk)s: %(total)d rows, %(valid)d will cancel, %(invalid)d "
                            "refused.") % {"pk": batch.pk, "total": batch.total_rows,
                                           "valid": batch.valid_rows, "invalid": batch.invalid_rows})
        if not options["dry_run"]:
            batch = start_batch(batch, enqueue=False)
            with tqdm(total=batch.total_rows, initial=batch.processed_rows, unit=_("row"),
                      desc=_("Cancelling"), file=self.stderr._out) as bar:
                batch = run_batch(batch.pk, on_progress=lambda b, done: bar.update(done))
            self.stdout.write(_("Succeeded: %(ok)d, failed: %(failed)d.") % {
                "ok": batch.succeeded_rows, "failed": batch.failed_rows})
        errors = path.with_name(f"{path.stem}.errors.csv")
        if failed_rows(batch).exists():
            with errors.open("w", encoding="utf-8", newline="") as out:
                out.writelines(error_csv_lines(batch))
            self.stdout.write(_("Rows that failed, with their error: %(path)s") % {"path": errors})
            raise SystemExit(1)
