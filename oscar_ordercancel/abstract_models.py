"""Abstract models: a shop forks ``oscar_ordercancel`` and subclasses these to replace one.

The fork is built as Oscar's ``oscar_fork_app`` builds one: an app config that subclasses
``oscar_ordercancel.apps.OrderCancelConfig`` with the fork's own ``name`` (the label stays
``oscar_ordercancel``) and takes its place in ``INSTALLED_APPS``; a ``models.py`` that
defines the replaced model on its abstract class and then does
``from oscar_ordercancel.models import *``; the package's migrations copied, followed by
the fork's own. The package's folder is then no longer an installed app, so the fork
also lists its template tag libraries and management commands as one-line modules that
import them, and the settings name its ``templates`` (in ``TEMPLATES["DIRS"]``),
``static`` (``STATICFILES_DIRS``) and ``locale`` (``LOCALE_PATHS``) folders.
``tests/ordercancel_fork`` is such a fork; ``make test`` runs the package against it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_ordercancel import limits


class Channel(models.TextChoices):
    """Where a cancellation came from."""

    CUSTOMER = "customer", _("Customer account")
    GUEST = "guest", _("Guest order page")
    API = "api", _("Customer API")
    DASHBOARD = "dashboard", _("Dashboard")
    ADMIN_API = "admin_api", _("Staff API")
    BATCH = "batch", _("CSV batch")
    CLI = "cli", _("Command line")
    CODE = "code", _("Python API")
    SYSTEM = "system", _("System")
    WITHDRAWAL = "withdrawal", _("Withdrawal from the contract")
    EXPIRY = "expiry", _("Unpaid order expired")


#: Channels on which the customer rules (owner, site toggle, window) apply.
CUSTOMER_CHANNELS = frozenset({Channel.CUSTOMER, Channel.GUEST, Channel.API})


class AbstractOrderStatusMapping(models.Model):
    """How an Oscar order status is shown, what the ERP calls it, and whether it may be cancelled."""

    status = models.CharField(_("Order status"), max_length=100, unique=True)
    display_name = models.CharField(_("Display name"), max_length=128, blank=True)
    erp_status_code = models.CharField(_("ERP status code"), max_length=64, blank=True)
    allow_cancellation = models.BooleanField(_("Allow cancellation"), default=True)

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["status"]
        verbose_name = _("Order status mapping")
        verbose_name_plural = _("Order status mappings")

    def __str__(self) -> str:
        return self.display_name or self.status


class AbstractCancellationSettings(models.Model):
    """Per-site cancellation settings; an empty field inherits the Django setting."""

    site = models.OneToOneField(
        "sites.Site", on_delete=models.CASCADE, related_name="cancellation_settings",
        verbose_name=_("Site"),
    )
    allow_customer_cancellation = models.BooleanField(
        _("Allow customer cancellation"), null=True, blank=True,
        help_text=_("Empty: use OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION."),
    )
    cancellable_statuses = models.JSONField(
        _("Cancellable statuses"), null=True, blank=True,
        help_text=_("Empty: use OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES."),
    )
    customer_window = models.DurationField(
        _("Customer cancellation window"), null=True, blank=True,
        help_text=_("Empty: use OSCAR_ORDERCANCEL_CUSTOMER_WINDOW."),
    )
    withdrawal_enabled = models.BooleanField(
        _("Withdrawal function"), null=True, blank=True,
        help_text=_("Empty: use OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED."),
    )
    expire_unpaid_after = models.DurationField(
        _("Unpaid orders expire after"), null=True, blank=True,
        help_text=_("Empty: use OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER."),
    )
    expiry_reminder_before = models.DurationField(
        _("Remind the customer before expiry"), null=True, blank=True,
        help_text=_("Empty: use OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE."),
    )

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        verbose_name = _("Cancellation settings")
        verbose_name_plural = _("Cancellation settings")

    def __str__(self) -> str:
        return str(self.site)

    @classmethod
    def for_site(cls, site=None):
        """Return the settings row of ``site`` (a Site or its id; default: the current site)."""
        from django.contrib.sites.models import Site

        if site is None:
            try:
                site = Site.objects.get_current()
            except Site.DoesNotExist:
                return None
        site_id = getattr(site, "pk", site)
        return cls._default_manager.filter(site_id=site_id).first()


class AbstractOrderCancellation(models.Model):
    """One cancellation of an order, whole or some lines: who, when, why, from where."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        COMPLETED = "completed", _("Completed")
        REJECTED = "rejected", _("Rejected")

    Channel = Channel

    order = models.ForeignKey(
        "order.Order", on_delete=models.CASCADE, related_name="cancellations",
        verbose_name=_("Order"),
    )
    is_full = models.BooleanField(_("Whole order"), default=False)
    state = models.CharField(
        _("State"), max_length=16, choices=State.choices, default=State.COMPLETED, db_index=True
    )
    reason = models.CharField(_("Reason"), max_length=64, blank=True)
    comment = models.TextField(_("Customer comment"), blank=True, max_length=limits.COMMENT)
    note = models.TextField(_("Staff note"), blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("Cancelled by"),
    )
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("On behalf of"),
    )
    channel = models.CharField(_("Channel"), max_length=16, choices=Channel.choices)
    forced = models.BooleanField(_("Forced"), default=False)
    refund_requested = models.BooleanField(_("Refund requested"), default=False)
    notify_customer = models.BooleanField(
        _("Notify the customer"), null=True, blank=True,
        help_text=_("Empty: follow OSCAR_ORDERCANCEL_NOTIFY_CUSTOMER."),
    )
    refund_amount = models.DecimalField(_("Refunded"), max_digits=12, decimal_places=2, default=0)
    void_amount = models.DecimalField(_("Voided"), max_digits=12, decimal_places=2, default=0)
    previous_status = models.CharField(_("Status before"), max_length=100, blank=True)
    rejection_reason = models.TextField(_("Rejection reason"), blank=True)
    date_created = models.DateTimeField(_("Requested at"), default=timezone.now, editable=False,
                                        db_index=True)
    date_completed = models.DateTimeField(
        _("Completed or rejected at"), null=True, blank=True,
        help_text=_("When it took effect, or when the request was rejected (see the state)."))
    batch = models.ForeignKey(
        "oscar_ordercancel.CancellationBatch", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="cancellations", verbose_name=_("CSV batch"),
    )
    vouchers_released = models.JSONField(
        _("Voucher and offer usage given back"), default=list, blank=True,
        help_text=_("What a whole-order cancellation gave back (OSCAR_ORDERCANCEL_RELEASE_VOUCHERS)."),
    )

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["-date_created", "-pk"]
        verbose_name = _("Order cancellation")
        verbose_name_plural = _("Order cancellations")
        permissions = [("cancel_order", _("Can cancel orders"))]
        # The cancellation report's range queries (completed cancellations by date).
        indexes = [models.Index(fields=["state", "date_completed"], name="ordercancel_report_range")]

    def __str__(self) -> str:
        return _("Cancellation #%(pk)s of order %(number)s") % {
            "pk": self.pk, "number": self.order.number,
        }

    @property
    def reason_label(self) -> str:
        """The configured label of the reason code."""
        from oscar_ordercancel.conf import reason_label

        return reason_label(self.reason)

    @property
    def customer_reason_label(self) -> str:
        """The reason as customers may read it; "" for a staff-only reason code."""
        from oscar_ordercancel.conf import customer_reason_label

        return customer_reason_label(self.reason)


class AbstractOrderCancellationLine(models.Model):
    """The quantity of one order line a cancellation covers."""

    cancellation = models.ForeignKey(
        "oscar_ordercancel.OrderCancellation", on_delete=models.CASCADE, related_name="lines",
        verbose_name=_("Cancellation"),
    )
    line = models.ForeignKey(
        "order.Line", on_delete=models.CASCADE, related_name="cancellation_lines",
        verbose_name=_("Order line"),
    )
    quantity = models.PositiveIntegerField(_("Quantity"))
    stock_released = models.PositiveIntegerField(_("Stock allocation released"), default=0)

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["pk"]
        verbose_name = _("Cancelled line")
        verbose_name_plural = _("Cancelled lines")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.line}"


class AbstractCancelJob(models.Model):
    """One cancellation to deliver to one cancel processor: the outbox row, source of truth.

    Written in the cancellation's transaction; Celery only carries the wake-up.
    The idempotency key stays the same across retries and resends, so a receiver
    that has already seen it can answer "done" without acting twice.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")
        #: Never to be sent (again): its request was settled before the processor answered.
        NOT_SENT = "not_sent", _("Not sent")

    class NotSentReason(models.TextChoices):
        """Why a job is ``not_sent`` (the words shown are in ``integrations.monitor``)."""

        DECLINED_BY_STAFF = "declined_by_staff", _("The request was declined by staff")
        DECLINED_BY_PROCESSOR = "declined_by_processor", _("Another processor declined the request")
        DECLINED = "declined", _("The request was declined")

    # Every write of a job touches each of its indexes, and a busy outbox is all writes:
    # the cancellation, processor and state are served by the composite indexes and
    # the unique constraint below (each leads with one of them), not by indexes of their own.
    cancellation = models.ForeignKey(
        "oscar_ordercancel.OrderCancellation", on_delete=models.CASCADE, related_name="jobs",
        verbose_name=_("Cancellation"), db_index=False, null=True, blank=True,
    )
    #: The withdrawal declaration an ``OrderWithdrawal`` job tells of (then no cancellation).
    withdrawal = models.ForeignKey(
        "oscar_ordercancel.WithdrawalDeclaration", on_delete=models.CASCADE, related_name="jobs",
        verbose_name=_("Withdrawal declaration"), db_index=False, null=True, blank=True,
    )
    processor = models.CharField(_("Processor"), max_length=64)
    state = models.CharField(_("State"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(
        _("Attempts"), default=0,
        help_text=_("Attempts in the current round (Retry now and Resend start a new round)."),
    )
    next_attempt_at = models.DateTimeField(_("Next attempt"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(_("Lease expires"), null=True, blank=True)
    last_error = models.TextField(_("Last error"), blank=True)
    rejection_reason = models.TextField(_("Rejection reason"), blank=True)
    not_sent_reason = models.CharField(_("Why not sent"), max_length=32, blank=True,
                                       choices=NotSentReason.choices)
    idempotency_key = models.CharField(_("Idempotency key"), max_length=100, unique=True)
    payload = models.JSONField(_("Payload"), encoder=DjangoJSONEncoder)
    date_created = models.DateTimeField(_("Created"), default=timezone.now, editable=False,
                                        db_index=True)
    date_updated = models.DateTimeField(_("Updated"), auto_now=True)
    date_finished = models.DateTimeField(_("Finished"), null=True, blank=True)

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["-date_created", "-pk"]
        verbose_name = _("Cancel job")
        verbose_name_plural = _("Cancel jobs")
        constraints = [
            models.UniqueConstraint(fields=["cancellation", "processor"],
                                    name="ordercancel_one_job_per_processor"),
            models.UniqueConstraint(fields=["withdrawal", "processor"],
                                    name="ordercancel_one_withdrawal_job_per_processor"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="ordercancel_job_due"),
            models.Index(fields=["processor", "date_finished"], name="ordercancel_job_streak"),
        ]

    def __str__(self) -> str:
        if self.withdrawal_id:
            return _("%(processor)s job for withdrawal #%(withdrawal)s") % {
                "processor": self.processor, "withdrawal": self.withdrawal_id,
            }
        return _("%(processor)s job for cancellation #%(cancellation)s") % {
            "processor": self.processor, "cancellation": self.cancellation_id,
        }

    @property
    def subject(self):
        """What the job tells of: its cancellation, or its withdrawal declaration."""
        return self.cancellation if self.cancellation_id else self.withdrawal

    @property
    def order(self):
        """The order of the cancellation or withdrawal the job tells of."""
        return self.subject.order

    @property
    def is_finished(self) -> bool:
        """Succeeded, rejected, failed or not sent: nothing more happens unless staff act."""
        return self.state in (self.State.SUCCEEDED, self.State.REJECTED, self.State.FAILED,
                              self.State.NOT_SENT)


class AbstractCancelJobAttempt(models.Model):
    """One call of a processor for a job: when, how long, what came back."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        REJECTED = "rejected", _("Rejected")
        RETRY = "retry", _("Failed, will retry")
        FAILED = "failed", _("Failed")
        LOST = "lost", _("No answer (worker stopped)")

    job = models.ForeignKey(
        "oscar_ordercancel.CancelJob", on_delete=models.CASCADE, related_name="attempt_log",
        verbose_name=_("Job"),
    )
    started_at = models.DateTimeField(_("Started"), db_index=True)
    duration_ms = models.PositiveIntegerField(_("Duration (ms)"), default=0)
    outcome = models.CharField(_("Outcome"), max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.TextField(_("Error"), blank=True)
    response = models.TextField(_("Response (start)"), blank=True)

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["-started_at", "-pk"]
        verbose_name = _("Cancel job attempt")
        verbose_name_plural = _("Cancel job attempts")

    def __str__(self) -> str:
        return f"{self.job_id} @ {self.started_at:%Y-%m-%d %H:%M:%S}: {self.outcome}"


class AbstractCancellationBatch(models.Model):
    """A CSV / XLSX upload of orders or line items to cancel: its options, state and progress."""

    class Kind(models.TextChoices):
        ORDERS = "orders", _("Orders")
        LINES = "lines", _("Line items")

    class State(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("Uploaded by"),
    )
    file_name = models.CharField(_("File name"), max_length=255)
    kind = models.CharField(_("Kind"), max_length=16, choices=Kind.choices, default=Kind.ORDERS)
    channel = models.CharField(_("Channel"), max_length=16, choices=Channel.choices,
                               default=Channel.BATCH)
    reason = models.CharField(_("Default reason"), max_length=64, blank=True)
    note = models.TextField(_("Default staff note"), blank=True)
    force = models.BooleanField(_("Force by default"), default=False)
    refund = models.BooleanField(_("Refund by default"), default=False)
    notify_customer = models.BooleanField(_("Notify the customers"), null=True, blank=True)
    state = models.CharField(_("State"), max_length=16, choices=State.choices,
                             default=State.PREVIEWED, db_index=True)
    total_rows = models.PositiveIntegerField(_("Rows"), default=0)
    valid_rows = models.PositiveIntegerField(_("Valid rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("Processed rows"), default=0)
    succeeded_rows = models.PositiveIntegerField(_("Succeeded"), default=0)
    failed_rows = models.PositiveIntegerField(_("Failed"), default=0)
    error = models.TextField(_("Error"), blank=True)
    task_id = models.CharField(_("Task id"), max_length=255, blank=True)
    date_created = models.DateTimeField(_("Uploaded at"), default=timezone.now, db_index=True)
    date_started = models.DateTimeField(_("Started at"), null=True, blank=True)
    date_finished = models.DateTimeField(_("Finished at"), null=True, blank=True)
    #: Last time the running batch made progress (a stalled worker is noticed by it).
    date_progress = models.DateTimeField(_("Last progress"), null=True, blank=True)

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["-date_created", "-pk"]
        verbose_name = _("Cancellation batch")
        verbose_name_plural = _("Cancellation batches")

    def __str__(self) -> str:
        return _("Batch #%(pk)s (%(file)s)") % {"pk": self.pk, "file": self.file_name}

    @property
    def invalid_rows(self) -> int:
        """Rows the preview refused."""
        return self.total_rows - self.valid_rows

    @property
    def is_finished(self) -> bool:
        """Whether the batch has stopped running for good."""
        return self.state in (self.State.COMPLETED, self.State.FAILED)

    @property
    def duration(self):
        """How long the run took (or has taken so far), or None before it started."""
        if not self.date_started:
            return None
        return (self.date_finished or timezone.now()) - self.date_started

    @property
    def percent(self) -> int:
        """Processed rows as a whole percentage of all rows."""
        if not self.total_rows:
            return 100 if self.is_finished else 0
        return int(100 * self.processed_rows / self.total_rows)

    def seconds_left(self) -> int | None:
        """Estimated seconds until the run ends, from the pace so far."""
        if self.state != self.State.RUNNING or not self.date_started:
            return None
        done = self.processed_rows
        left = self.total_rows - done
        if not done:
            return None
        elapsed = (timezone.now() - self.date_started).total_seconds()
        return max(int(elapsed / done * left), 0)


class AbstractCancellationBatchRow(models.Model):
    """One row of a batch file: what it asked for, what the preview said, how it ended."""

    class Preview(models.TextChoices):
        WILL_CANCEL = "will_cancel", _("Will cancel")
        ERROR = "error", _("Error")

    class Result(models.TextChoices):
        PENDING = "", _("Pending")
        SUCCESS = "success", _("SUCCESS")
        ERROR = "error", _("ERROR")

    batch = models.ForeignKey(
        "oscar_ordercancel.CancellationBatch", on_delete=models.CASCADE, related_name="rows",
        verbose_name=_("Batch"),
    )
    row_number = models.PositiveIntegerField(_("Row"))
    raw = models.JSONField(_("Values as uploaded"), default=dict)
    order_number = models.CharField(_("Order number"), max_length=limits.ORDER_NUMBER, blank=True)
    order = models.ForeignKey(
        "order.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("Order"),
    )
    sku = models.CharField(_("SKU"), max_length=limits.SKU, blank=True)
    quantity = models.PositiveIntegerField(_("Quantity"), null=True, blank=True)
    #: The row's options after defaults: reason, note, force, refund, lines ({line id: qty}).
    options = models.JSONField(_("Options"), default=dict)
    preview_status = models.CharField(_("Preview"), max_length=16, choices=Preview.choices)
    preview_code = models.CharField(_("Preview code"), max_length=64, blank=True)
    preview_message = models.TextField(_("Preview message"), blank=True)
    #: What the preview message is made of, so that it is written in the reader's language
    #: when shown (``oscar_ordercancel.batches.messages``); None on rows of older versions.
    preview_params = models.JSONField(_("Preview message parameters"), null=True, blank=True)
    status = models.CharField(_("Result"), max_length=16, choices=Result.choices, blank=True,
                              default=Result.PENDING, db_index=True)
    code = models.CharField(_("Result code"), max_length=64, blank=True)
    message = models.TextField(_("Message"), blank=True)
    #: What the result message is made of (as ``preview_params``).
    params = models.JSONField(_("Message parameters"), null=True, blank=True)
    cancellation = models.ForeignKey(
        "oscar_ordercancel.OrderCancellation", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("Cancellation"),
    )
    date_done = models.DateTimeField(_("Done at"), null=True, blank=True)

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["batch", "row_number"]
        unique_together = [("batch", "row_number")]
        # A running batch reads its next pending rows in file order.
        indexes = [models.Index(fields=["batch", "status", "row_number"],
                                name="ordercancel_batchrow_todo")]
        verbose_name = _("Cancellation batch row")
        verbose_name_plural = _("Cancellation batch rows")

    def __str__(self) -> str:
        return _("Row %(row)s of batch #%(batch)s") % {"row": self.row_number, "batch": self.batch_id}


class AbstractWithdrawalDeclaration(models.Model):
    """A consumer's declaration of withdrawal from an order (Art. 11a, Directive 2011/83/EU).

    What was declared (order, name, e-mail, lines and quantities, when) never changes
    once recorded, and ``content_digest`` (SHA-256 of it) proves it; only the handling
    fields (state, goods received, refund, closing) move on as staff deal with it. The
    package never deletes a declaration (docs/withdrawal.rst, "Retention").
    """

    class Channel(models.TextChoices):
        ACCOUNT = "account", _("Customer account")
        GUEST = "guest", _("Withdrawal page")
        API = "api", _("Customer API")
        STAFF = "staff", _("Staff, for the customer")

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        CANCELLED = "cancelled", _("Cancelled at once")
        AWAITING_RETURN = "awaiting_return", _("Awaiting return")
        REFUNDED = "refunded", _("Refunded")
        CLOSED = "closed", _("Closed")

    order = models.ForeignKey(
        "order.Order", on_delete=models.PROTECT, related_name="withdrawal_declarations",
        verbose_name=_("Order"),
    )
    reference = models.CharField(_("Reference"), max_length=32, unique=True)
    name = models.CharField(_("Name"), max_length=255)
    email = models.EmailField(_("E-mail address"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("Customer account"),
    )
    channel = models.CharField(_("Channel"), max_length=16, choices=Channel.choices)
    date_declared = models.DateTimeField(_("Declared at"), db_index=True)
    state = models.CharField(_("State"), max_length=16, choices=State.choices,
                             default=State.RECEIVED, db_index=True)
    refund_due_by = models.DateTimeField(_("Refund due by"), null=True, blank=True)
    cancellation = models.OneToOneField(
        "oscar_ordercancel.OrderCancellation", null=True, blank=True, on_delete=models.PROTECT,
        related_name="withdrawal", verbose_name=_("Cancellation of the lines not yet shipped"),
    )
    date_acknowledged = models.DateTimeField(_("Acknowledgement sent at"), null=True, blank=True)
    content_digest = models.CharField(_("Content digest (SHA-256)"), max_length=64)
    #: A salted hash of the client address the declaration came from, or "".
    client_hash = models.CharField(_("Client address (salted hash)"), max_length=64, blank=True)
    date_goods_received = models.DateTimeField(_("Goods received at"), null=True, blank=True)
    refund_amount = models.DecimalField(_("Refunded"), max_digits=12, decimal_places=2, default=0)
    date_refunded = models.DateTimeField(_("Refunded at"), null=True, blank=True)
    date_closed = models.DateTimeField(_("Closed at"), null=True, blank=True)
    staff_note = models.TextField(_("Staff note"), blank=True)
    #: The single-use key of the confirmation that recorded it: a second confirmation with
    #: the same key (a double click) finds this declaration instead of making another.
    request_key = models.CharField(_("Confirmation key"), max_length=64, unique=True, null=True,
                                   blank=True, editable=False)

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["-date_declared", "-pk"]
        verbose_name = _("Withdrawal declaration")
        verbose_name_plural = _("Withdrawal declarations")

    def __str__(self) -> str:
        return _("Withdrawal %(reference)s from order %(number)s") % {
            "reference": self.reference, "number": self.order.number,
        }

    @property
    def is_open(self) -> bool:
        """Awaiting the goods or the refund: staff still have something to do."""
        return self.state in (self.State.RECEIVED, self.State.AWAITING_RETURN)

    @property
    def is_overdue(self) -> bool:
        """Open past ``refund_due_by`` (the 14 days the trader has to refund)."""
        return bool(self.is_open and self.refund_due_by and self.refund_due_by < timezone.now())


class AbstractWithdrawalDeclarationLine(models.Model):
    """The quantity of one order line a withdrawal declaration covers, and what became of it."""

    class Outcome(models.TextChoices):
        CANCELLED = "cancelled", _("Cancelled at once")
        AWAITING_RETURN = "awaiting_return", _("Awaiting return")

    declaration = models.ForeignKey(
        "oscar_ordercancel.WithdrawalDeclaration", on_delete=models.CASCADE, related_name="lines",
        verbose_name=_("Declaration"),
    )
    line = models.ForeignKey(
        "order.Line", on_delete=models.PROTECT, related_name="withdrawal_lines",
        verbose_name=_("Order line"),
    )
    quantity = models.PositiveIntegerField(_("Quantity"))
    outcome = models.CharField(_("Outcome"), max_length=16, choices=Outcome.choices)

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["pk"]
        verbose_name = _("Withdrawn line")
        verbose_name_plural = _("Withdrawn lines")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.line}"


class AbstractExpiryReminder(models.Model):
    """The one reminder an unpaid order's customer gets before it expires (sent at most once)."""

    order = models.OneToOneField(
        "order.Order", on_delete=models.CASCADE, related_name="expiry_reminder",
        verbose_name=_("Order"),
    )
    date_sent = models.DateTimeField(_("Sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("Expires at"))

    class Meta:
        abstract = True
        app_label = "oscar_ordercancel"
        ordering = ["-date_sent"]
        verbose_name = _("Expiry reminder")
        verbose_name_plural = _("Expiry reminders")

    def __str__(self) -> str:
        return _("Expiry reminder for order %(number)s") % {"number": self.order.number}
