"""Who expires: an unpaid order in an expiry status, placed longer ago than its lifetime.

The lifetime of an order is, by precedence: the one of its payment source type
(``OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE``; ``None`` there means never; with
several such sources the longest wins, and ``None`` over any), else its site's
``CancellationSettings.expire_unpaid_after``, else ``OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER``.
Paid is what ``OSCAR_ORDERCANCEL_PAYMENT_CHECK`` says (``payment.is_paid`` by default).

:func:`lifetime_filter` is the same rule as one SQL condition, so that the sweep selects
due orders with one indexed query (``status``, ``date_placed``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.payment import get_payment_check


@dataclass(frozen=True)
class ExpiryRules:
    """The expiry settings in force: Django's, each site's, each payment source type's."""

    statuses: tuple[str, ...]
    default: timedelta | None
    by_site: dict = field(default_factory=dict)
    by_source: dict = field(default_factory=dict)
    reminder_default: timedelta | None = None
    reminder_by_site: dict = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether any order can expire at all."""
        return bool(self.statuses) and (
            self.default is not None or bool(self.by_site)
            or any(value is not None for value in self.by_source.values()))

    @property
    def reminds(self) -> bool:
        """Whether a reminder is configured anywhere."""
        return self.reminder_default is not None or bool(self.reminder_by_site)

    @property
    def longest_reminder(self) -> timedelta:
        """The longest reminder lead of any site (how early the sweep looks for reminders)."""
        leads = [lead for lead in [self.reminder_default, *self.reminder_by_site.values()] if lead]
        return max(leads, default=timedelta(0))

    def lifetime(self, site_id: int | None, source_codes=()) -> timedelta | None:
        """The lifetime of an order of ``site_id`` paid with sources of ``source_codes``."""
        matched = [self.by_source[code] for code in source_codes if code in self.by_source]
        if matched:
            return None if any(value is None for value in matched) else max(matched)
        return self.by_site.get(site_id, self.default)

    def reminder(self, site_id: int | None) -> timedelta | None:
        """How long before expiry the customer of an order of ``site_id`` is reminded."""
        return self.reminder_by_site.get(site_id, self.reminder_default)


def expiry_rules() -> ExpiryRules:
    """Read the expiry settings (one query: the sites that set their own)."""
    CancellationSettings = get_model("oscar_ordercancel", "CancellationSettings")
    by_site, reminder_by_site = {}, {}
    for site_id, after, before in CancellationSettings.objects.filter(
            Q(expire_unpaid_after__isnull=False) | Q(expiry_reminder_before__isnull=False)
    ).values_list("site_id", "expire_unpaid_after", "expiry_reminder_before"):
        if after is not None:
            by_site[site_id] = after
        if before is not None:
            reminder_by_site[site_id] = before
    return ExpiryRules(
        statuses=tuple(get_setting("OSCAR_ORDERCANCEL_EXPIRY_STATUSES") or ()),
        default=get_setting("OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER"),
        by_site=by_site,
        by_source=dict(get_setting("OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE") or {}),
        reminder_default=get_setting("OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE"),
        reminder_by_site=reminder_by_site,
    )


def _has_source(codes) -> Exists:
    Source = get_model("payment", "Source")
    return Exists(Source.objects.filter(order_id=OuterRef("pk"), source_type__code__in=list(codes)))


def lifetime_filter(rules: ExpiryRules, now: datetime, *, lead: timedelta = timedelta(0)) -> Q | None:
    """Orders in an expiry status whose lifetime ends before ``now + lead``, as one condition
    (``None``: no order can expire). Payment is not part of it (see ``unpaid_filter``)."""
    if not rules.active:
        return None
    clauses = []
    codes = list(rules.by_source)
    plain = ~_has_source(codes) if codes else Q()
    for site_id, after in rules.by_site.items():
        clauses.append(plain & Q(site_id=site_id, date_placed__lt=now - after + lead))
    if rules.default is not None:
        clauses.append(plain & ~Q(site_id__in=list(rules.by_site))
                       & Q(date_placed__lt=now - rules.default + lead))
    for code, after in rules.by_source.items():
        if after is None:
            continue
        longer = [other for other, value in rules.by_source.items()
                  if other != code and (value is None or value > after)]
        clause = _has_source([code]) & Q(date_placed__lt=now - after + lead)
        clauses.append(clause & ~_has_source(longer) if longer else clause)
    if not clauses:
        return None
    return Q(status__in=list(rules.statuses)) & reduce(or_, clauses)


def unpaid_condition() -> Q | None:
    """The payment check as a condition when it offers one (the default does), else ``None``."""
    offered = getattr(get_payment_check(), "unpaid_filter", None)
    return offered() if offered is not None else None


def expiry_dates(orders, rules: ExpiryRules | None = None) -> dict[int, datetime]:
    """When each unpaid order of ``orders`` will expire, ``{order id: when}`` (others left out).

    Two or three queries for any number of orders: their source types, and which are unpaid.
    """
    rules = rules or expiry_rules()
    orders = [order for order in orders if rules.active and order.status in rules.statuses]
    if not orders:
        return {}
    Source = get_model("payment", "Source")
    Order = get_model("order", "Order")
    codes = defaultdict(list)
    for order_id, code in Source.objects.filter(order__in=[o.pk for o in orders]).values_list(
            "order_id", "source_type__code"):
        codes[order_id].append(code)
    condition = unpaid_condition()
    if condition is not None:
        unpaid = set(Order.objects.filter(pk__in=[o.pk for o in orders]).filter(condition)
                     .values_list("pk", flat=True))
    else:
        check = get_payment_check()
        unpaid = {order.pk for order in orders if not check(order)}
    dates = {}
    for order in orders:
        lifetime = rules.lifetime(order.site_id, codes[order.pk])
        if order.pk in unpaid and lifetime is not None:
            dates[order.pk] = order.date_placed + lifetime
    return dates


def expires_at(order) -> datetime | None:
    """When ``order`` will expire unpaid, or ``None`` (paid, not in an expiry status, never)."""
    return expiry_dates([order]).get(order.pk)


def describe_expiry(when: datetime, now: datetime | None = None) -> str:
    """"expires in 3 hours" / "overdue: expires at the next sweep", for staff."""
    from django.utils.timesince import timeuntil
    from django.utils.translation import gettext

    now = now or timezone.now()
    if when <= now:
        return gettext("Expired: cancelled at the next sweep")
    return gettext("Expires in %(time)s") % {"time": timeuntil(when, now, depth=1)}
