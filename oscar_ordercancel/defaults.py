"""Default values of every ``OSCAR_ORDERCANCEL_*`` setting, in one place.

A value here is used only when the project's settings do not name the setting.
Callables are evaluated when read, so they follow the project's Oscar settings.
"""

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES = lambda s: [getattr(s, "OSCAR_INITIAL_ORDER_STATUS", "Pending")]  # noqa: E731
OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES = lambda s: [getattr(s, "OSCAR_INITIAL_LINE_STATUS", "Pending")]  # noqa: E731
OSCAR_ORDERCANCEL_CANCELLED_STATUS = "Cancelled"
OSCAR_ORDERCANCEL_LINE_CANCELLED_STATUS = "Cancelled"
OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION = True
OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = None
OSCAR_ORDERCANCEL_REASONS = (
    ("customer", _("Customer request")),
    ("inventory", _("Out of stock")),
    ("fraud", _("Suspected fraud")),
    ("declined", _("Payment declined")),
    ("staff", _("Staff decision")),
    ("withdrawal", _("Withdrawal from the contract")),
    ("unpaid", _("Not paid in time")),
    ("other", _("Other")),
)
# Added by this package beyond the contract: the reason codes customers may pick
# (staff may pick any of OSCAR_ORDERCANCEL_REASONS); None offers customers every reason.
OSCAR_ORDERCANCEL_CUSTOMER_REASONS = ("customer", "other")
# Added by this package beyond the contract: what customers read for a reason staff chose
# ({code: wording}); a code neither here nor in OSCAR_ORDERCANCEL_CUSTOMER_REASONS (fraud,
# a staff decision) is not shown to the customer at all.
OSCAR_ORDERCANCEL_CUSTOMER_REASON_LABELS = {
    "customer": _("At your request"),
    "inventory": _("An item is out of stock"),
    "declined": _("The payment was declined"),
    "unpaid": _("The payment was not received in time"),
}
OSCAR_ORDERCANCEL_MODE = "immediate"
OSCAR_ORDERCANCEL_REQUESTED_STATUS = "Cancellation requested"
OSCAR_ORDERCANCEL_PROCESSORS = []
OSCAR_ORDERCANCEL_PAYMENT_HANDLER = "oscar_ordercancel.payment.DefaultPaymentHandler"
OSCAR_ORDERCANCEL_NOTIFY_CUSTOMER = True
OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 8, "backoff": 10, "backoff_max": 3600}
# Added by this package beyond the contract: how long (seconds) a cancellation waits
# for another one's row locks on PostgreSQL before it answers "busy, try again";
# None waits as long as the database does.
OSCAR_ORDERCANCEL_LOCK_TIMEOUT = 10
# Added by this package beyond the contract: which Oscar shipping event type
# codes count as "in fulfilment"; None means any shipping event does.
OSCAR_ORDERCANCEL_SHIPPED_EVENT_TYPES = None
# Added by this package beyond the contract (cancel-processor delivery):
#: Seconds a worker holds a claimed job; a job whose lease expired is delivered again
#: (the worker died). Must exceed every processor's timeout.
OSCAR_ORDERCANCEL_LEASE_SECONDS = 300
#: A job written but not picked up by a worker after this many seconds is re-queued by
#: the dispatcher (the wake-up was lost, e.g. the broker was down at commit).
OSCAR_ORDERCANCEL_DISPATCH_GRACE_SECONDS = 60
#: Jobs claimed at once by one delivery task, and ids per task sent by the dispatcher.
OSCAR_ORDERCANCEL_DISPATCH_BATCH = 100
#: A worker that delivered its wake-up's jobs in less than this many seconds goes on
#: claiming other due jobs (50 at a time) until the time is used; 0 turns this off.
OSCAR_ORDERCANCEL_WORKER_TOPUP_SECONDS = 1.0
#: On PostgreSQL a worker claims jobs and records outcomes with one statement each;
#: False uses the ORM (a short transaction each), as other databases do.
OSCAR_ORDERCANCEL_DELIVERY_SINGLE_STATEMENTS = True
#: Characters of a processor's response kept per attempt.
OSCAR_ORDERCANCEL_ATTEMPT_RESPONSE_CHARS = 2048
#: Jobs of one processor failing in a row before staff are alerted (dashboard and e-mail).
OSCAR_ORDERCANCEL_FAILURE_ALERT_THRESHOLD = 5
#: Addresses that get the alert e-mail; None = every active staff user with an e-mail.
OSCAR_ORDERCANCEL_FAILURE_ALERT_EMAILS = None


# Added by this package beyond the contract: CSV / XLSX batches (``cancel_orders`` and the
# dashboard upload). Files larger than this many bytes are refused before any row is read.
OSCAR_ORDERCANCEL_BATCH_MAX_FILE_SIZE = 10 * 1024 * 1024
# Files with more data rows than this are refused before any row is processed.
OSCAR_ORDERCANCEL_BATCH_MAX_ROWS = 100_000
# How many orders one transaction of a running batch cancels together.
OSCAR_ORDERCANCEL_BATCH_CHUNK_SIZE = 500
# A running batch whose progress has not moved for this many seconds is taken to have
# lost its worker; ``resume_stalled_batches`` queues it again.
OSCAR_ORDERCANCEL_BATCH_STALL_SECONDS = 300


# The EU withdrawal function (Art. 11a of Directive 2011/83/EU; docs/withdrawal.rst).
OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
OSCAR_ORDERCANCEL_WITHDRAWAL_PERIOD = timedelta(days=14)
OSCAR_ORDERCANCEL_WITHDRAWAL_DELIVERED_EVENT_TYPES = ("delivered",)
OSCAR_ORDERCANCEL_WITHDRAWAL_TRANSIT_ALLOWANCE = timedelta(days=7)
OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = ()
# Added by this package beyond the contract: how long the trader has to refund after
# the declaration (Art. 13: 14 days), which sets ``refund_due_by``.
OSCAR_ORDERCANCEL_WITHDRAWAL_REFUND_WITHIN = timedelta(days=14)
# How long the confirm step's token stays valid (seconds).
OSCAR_ORDERCANCEL_WITHDRAWAL_TOKEN_MAX_AGE = 30 * 60
# Failed order look-ups allowed per client address and per order number in the window
# (seconds) before the withdrawal page answers 429.
OSCAR_ORDERCANCEL_WITHDRAWAL_LOOKUP_LIMIT = 20
OSCAR_ORDERCANCEL_WITHDRAWAL_LOOKUP_WINDOW = 15 * 60
# The Django cache (alias) that counts them; with several web processes use a shared one.
OSCAR_ORDERCANCEL_WITHDRAWAL_CACHE = "default"
# Addresses e-mailed for each new declaration; None = every active staff user with an
# e-mail (as OSCAR_ORDERCANCEL_FAILURE_ALERT_EMAILS), () = nobody.
OSCAR_ORDERCANCEL_WITHDRAWAL_STAFF_EMAILS = None


# Unpaid orders expire (docs/expiry.rst).
OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER = None
OSCAR_ORDERCANCEL_EXPIRY_STATUSES = lambda s: [getattr(s, "OSCAR_INITIAL_ORDER_STATUS", "Pending")]  # noqa: E731
OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE = {}
OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE = None
OSCAR_ORDERCANCEL_PAYMENT_CHECK = "oscar_ordercancel.payment.is_paid"
OSCAR_ORDERCANCEL_RELEASE_VOUCHERS = True
# Added by this package beyond the contract: orders one sweep transaction expires together.
OSCAR_ORDERCANCEL_EXPIRY_CHUNK_SIZE = 200
