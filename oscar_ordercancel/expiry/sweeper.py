"""The expiry sweep: select due orders without waiting for another sweep's, cancel them in chunks.

Each chunk is one transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` takes up to
``OSCAR_ORDERCANCEL_EXPIRY_CHUNK_SIZE`` due orders that no other sweep (nor a customer
cancelling right now) holds, and the batch engine cancels them under those same locks,
so two sweeps at once never take the same order. An order the engine refuses or that
fails (a receiver's veto, a gateway error) is reported and left as it was; the others
go on. Where the database cannot skip locked rows (SQLite) the chunk simply locks, and
the engine's own checks under its locks keep each order cancelled once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.engine.batch import CancelRequest, cancel_many
from oscar_ordercancel.notifications import send_expiry_reminder
from oscar_ordercancel.payment import get_payment_check
from oscar_ordercancel.policy.expiry import (
    ExpiryRules,
    expiry_dates,
    expiry_rules,
    lifetime_filter,
    unpaid_condition,
)

logger = logging.getLogger(__name__)

#: The reason code and channel every expiry is recorded with.
REASON = "unpaid"
CHANNEL = Channel.EXPIRY


@dataclass
class SweepResult:
    """What a sweep did (or, dry, would do): order numbers expired, failed (with why), reminded."""

    dry_run: bool = False
    expired: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    #: Paid orders the payment check found among the due ones (left alone).
    paid: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The result as plain data (the Celery task's return value)."""
        return {"dry_run": self.dry_run, "expired": self.expired, "failed": self.failed,
                "reminded": self.reminded, "paid": self.paid}


def due_orders(now: datetime | None = None, rules: ExpiryRules | None = None):
    """The orders due to expire now, oldest first (``Order.objects.none()`` if none can)."""
    Order = get_model("order", "Order")
    now = now or timezone.now()
    condition = lifetime_filter(rules or expiry_rules(), now)
    if condition is None:
        return Order.objects.none()
    unpaid = unpaid_condition()
    queryset = Order.objects.filter(condition)
    if unpaid is not None:
        queryset = queryset.filter(unpaid)
    return queryset.order_by("date_placed", "pk")


def _take(queryset, size: int, skip: set[int]) -> list[int]:
    """Lock up to ``size`` of ``queryset``'s orders that nobody else holds; their ids."""
    if skip:
        queryset = queryset.exclude(pk__in=skip)
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    else:
        queryset = queryset.select_for_update()
    return list(queryset.values_list("pk", flat=True)[:size])


def _paid_among(ids: list[int]) -> tuple[list[int], list, list[tuple[int, str]]]:
    """Ask a shop's own payment check (one without ``unpaid_filter``) about each order:
    the unpaid ids, the paid orders, and ``(id, why)`` of those it could not answer for."""
    Order = get_model("order", "Order")
    check = get_payment_check()
    unpaid, paid, failed = [], [], []
    for order in Order.objects.filter(pk__in=ids).order_by("date_placed", "pk"):
        try:
            (paid if check(order) else unpaid).append(order)
        except Exception as exc:  # noqa: BLE001 - one order's check failing is its own
            logger.exception("The payment check failed for order %s", order.number)
            failed.append((order.pk, _("The payment check failed (%(error)s); the order was "
                                       "left as it was.") % {"error": type(exc).__name__}))
    return [order.pk for order in unpaid], paid, failed


def sweep(*, dry_run: bool = False, now: datetime | None = None, chunk_size: int | None = None,
          progress: Callable[[int], None] | None = None,
          on_start: Callable[[int], None] | None = None) -> SweepResult:
    """Send the due reminders, then cancel every order due to expire; return what was done.

    ``progress(n)`` is called after each chunk with the orders it handled; ``on_start(total)``
    once with how many are due. A dry run changes nothing and lists what would happen.
    """
    now = now or timezone.now()
    rules = expiry_rules()
    result = SweepResult(dry_run=dry_run)
    result.reminded = remind(now=now, rules=rules, dry_run=dry_run)
    queryset = due_orders(now, rules)
    if on_start is not None:
        on_start(queryset.count())
    custom_check = unpaid_condition() is None
    if dry_run:
        for pk in queryset.values_list("pk", flat=True).iterator(chunk_size=2000):
            ids, paid, failed = _paid_among([pk]) if custom_check else ([pk], [], [])
            result.paid += [order.number for order in paid]
            result.failed += failed
            if ids:
                result.expired.append(pk)
            if progress is not None:
                progress(1)
        numbers = dict(get_model("order", "Order").objects.filter(pk__in=result.expired)
                       .values_list("pk", "number"))
        result.expired = [numbers[pk] for pk in result.expired]
        return _numbered_failures(result)
    size = max(int(chunk_size or get_setting("OSCAR_ORDERCANCEL_EXPIRY_CHUNK_SIZE")), 1)
    left_alone: set[int] = set()  # failed or paid: not taken again by this sweep
    note = _("Not paid in time: cancelled automatically.")
    while True:
        with transaction.atomic():
            ids = taken = _take(queryset, size, left_alone)
            if not ids:
                break
            if custom_check:
                ids, paid, failed = _paid_among(ids)
                result.paid += [order.number for order in paid]
                result.failed += failed
                left_alone.update(set(taken) - set(ids))
            outcomes = cancel_many([
                CancelRequest(order_id=pk, user=None, reason=REASON, channel=CHANNEL, note=note)
                for pk in ids])
        for outcome in outcomes:
            if outcome.ok:
                result.expired.append(outcome.cancellation.order.number)
            else:
                left_alone.add(outcome.request.order_id)
                result.failed.append((outcome.request.order_id, str(outcome.error)))
        if progress is not None:
            progress(len(taken))
    return _numbered_failures(result)


def _numbered_failures(result: SweepResult) -> SweepResult:
    """Name the failed orders by number (they are collected by id), and log them."""
    if result.failed:
        numbers = dict(get_model("order", "Order").objects.filter(
            pk__in=[pk for pk, __ in result.failed]).values_list("pk", "number"))
        result.failed = [(numbers.get(pk, str(pk)), why) for pk, why in result.failed]
        for number, why in result.failed:
            logger.warning("Unpaid order %s was not expired: %s", number, why)
    return result


def remind(*, now: datetime | None = None, rules: ExpiryRules | None = None,
           dry_run: bool = False) -> list[str]:
    """E-mail the customers of the orders whose reminder is due, once each; their numbers.

    A reminder is due ``expiry_reminder_before`` before the order expires (and not once it
    is due itself). Each is claimed by inserting its ``ExpiryReminder`` row (unique per
    order) before it is sent, so two sweeps at once send it once; a reminder that cannot
    be sent gives its claim back, to be tried by the next sweep.
    """
    now = now or timezone.now()
    rules = rules or expiry_rules()
    if not rules.reminds:
        return []
    ExpiryReminder = get_model("oscar_ordercancel", "ExpiryReminder")
    Order = get_model("order", "Order")
    soon = lifetime_filter(rules, now, lead=rules.longest_reminder)
    if soon is None:
        return []
    candidates = Order.objects.filter(soon).exclude(pk__in=ExpiryReminder.objects.values("order_id"))
    due_now = lifetime_filter(rules, now)
    candidates = candidates.exclude(due_now).select_related("user", "site")
    sent = []
    orders = list(candidates.order_by("date_placed", "pk"))
    dates = expiry_dates(orders, rules)  # a few queries for all of them
    for order in orders:
        when = dates.get(order.pk)
        lead = rules.reminder(order.site_id)
        if when is None or lead is None or when - lead > now or when <= now:
            continue
        if not (order.user_id or order.guest_email):
            continue
        if dry_run:
            sent.append(order.number)
            continue
        try:
            with transaction.atomic():
                reminder = ExpiryReminder.objects.create(order=order, expires_at=when, date_sent=now)
        except IntegrityError:
            continue  # another sweep claimed it
        try:
            send_expiry_reminder(order, when)
        except Exception:  # noqa: BLE001 - give the claim back; the next sweep tries again
            logger.exception("Could not send the expiry reminder of order %s", order.number)
            reminder.delete()
            continue
        sent.append(order.number)
    return sent
