"""The cancellation report's figures, aggregated in the database in a fixed number of queries.

A range is whole days in the shop's time zone (``TIME_ZONE``): a cancellation counts when
its ``date_completed`` falls between the first day's local midnight and the midnight after
the last day. Only completed cancellations count (``state="completed"``). The value of a
cancelled quantity is what the engine records for it (``payment.cancelled_value``): the
line's price incl. tax after discounts, pro rata.

A partner user's scope is their partners' lines: the cancellations that cancelled at least
one of them, the units and value of those lines only, and the orders placed with one of
them (as Oscar's dashboard home counts a partner's orders).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    Count,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, NullIf, TruncDate, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.conf import reason_label
from oscar_ordercancel.policy.rules import actor_role, partner_ids

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=24, decimal_places=6)

#: The default range: the last 30 days, today included.
DEFAULT_DAYS = 30
#: The longest range the report computes: about three years.
MAX_DAYS = 3 * 366
#: Up to this many days the cancellations chart has a bar per day, beyond it a bar per week.
DAILY_BARS_UP_TO = 92
#: How many products the "most cancelled" table lists.
TOP_PRODUCTS = 10


@dataclass(frozen=True)
class Scope:
    """Whose orders the figures cover: every order, or those with lines of ``partner_ids``."""

    partner_ids: frozenset[int] | None = None

    @property
    def is_partner(self) -> bool:
        """Whether the figures are limited to some partners' lines."""
        return self.partner_ids is not None


#: Every order (staff who may cancel any order).
EVERYTHING = Scope()


def scope_for(user) -> Scope | None:
    """What ``user`` may see: every order (staff who may cancel), their partners' (partner
    users), or nothing (``None``)."""
    role = actor_role(user, Channel.DASHBOARD) if getattr(user, "is_authenticated", False) else "none"
    if role == "staff":
        return EVERYTHING
    if role == "partner":
        return Scope(frozenset(partner_ids(user)))
    return None


def shop_timezone() -> tzinfo:
    """The shop's time zone (``TIME_ZONE``), in which a range's days begin and end."""
    return timezone.get_default_timezone()


def today() -> date:
    """Today's date in the shop's time zone."""
    return timezone.localdate(timezone=shop_timezone())


def default_range(days: int = DEFAULT_DAYS, until: date | None = None) -> tuple[date, date]:
    """The last ``days`` whole days up to ``until`` (default today), in the shop's time zone."""
    until = until or today()
    return until - timedelta(days=days - 1), until


def local_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The first day's local midnight and the midnight after the last day (excluded)."""
    tz = shop_timezone()
    start = timezone.make_aware(datetime.combine(date_from, time.min), tz)
    end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), tz)
    return start, end


def _money(value) -> Decimal:
    return (Decimal(value) if value is not None else ZERO).quantize(CENT, ROUND_HALF_UP)


def _line_value() -> ExpressionWrapper:
    """A cancelled line's value: quantity × the line's price incl. tax ÷ the line's quantity."""
    price = F("line__line_price_incl_tax")
    if connection.vendor == "sqlite":  # SQLite stores 10.00 as the integer 10: divide as reals
        price = Cast(price, FloatField())
    return ExpressionWrapper(F("quantity") * price / NullIf(F("line__quantity"), 0), output_field=MONEY)


def cancellations_in(date_from: date, date_to: date, scope: Scope = EVERYTHING) -> QuerySet:
    """The completed cancellations of the range within ``scope`` (no ordering)."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")
    start, end = local_bounds(date_from, date_to)
    queryset = OrderCancellation._default_manager.filter(
        state=OrderCancellation.State.COMPLETED, date_completed__gte=start, date_completed__lt=end)
    if scope.is_partner:
        queryset = queryset.filter(Exists(OrderCancellationLine._default_manager.filter(
            cancellation=OuterRef("pk"), line__partner_id__in=scope.partner_ids)))
    return queryset.order_by()


def cancelled_lines_in(date_from: date, date_to: date, scope: Scope = EVERYTHING) -> QuerySet:
    """The cancelled lines of the range's completed cancellations within ``scope``."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")
    start, end = local_bounds(date_from, date_to)
    queryset = OrderCancellationLine._default_manager.filter(
        cancellation__state=OrderCancellation.State.COMPLETED,
        cancellation__date_completed__gte=start, cancellation__date_completed__lt=end)
    if scope.is_partner:
        queryset = queryset.filter(line__partner_id__in=scope.partner_ids)
    return queryset.order_by()


def orders_placed_in(date_from: date, date_to: date, scope: Scope = EVERYTHING) -> QuerySet:
    """Oscar's orders placed in the range within ``scope``."""
    Order = get_model("order", "Order")
    Line = get_model("order", "Line")
    start, end = local_bounds(date_from, date_to)
    queryset = Order._default_manager.filter(date_placed__gte=start, date_placed__lt=end)
    if scope.is_partner:
        queryset = queryset.filter(Exists(Line._default_manager.filter(
            order=OuterRef("pk"), partner_id__in=scope.partner_ids)))
    return queryset.order_by()


def rate_of(cancelled: int, placed: int) -> Decimal | None:
    """``cancelled`` ÷ ``placed`` in per cent, one decimal; ``None`` when nothing was placed."""
    if not placed:
        return None
    return (Decimal(cancelled) * 100 / placed).quantize(Decimal("0.1"), ROUND_HALF_UP)


def channel_label(code: str) -> str:
    """The label of a channel code (the code itself if unknown)."""
    return str(dict(Channel.choices).get(code, code))


def reason_label_or_none(code: str) -> str:
    """A reason code's label; "No reason given" for an empty code."""
    return reason_label(code) if code else _("No reason given")


@dataclass
class Totals:
    """The range's totals: what was cancelled, and the orders placed beside it."""

    cancellations: int = 0
    orders: int = 0
    orders_whole: int = 0
    units: int = 0
    value: Decimal = ZERO
    refunded: Decimal = ZERO
    orders_placed: int = 0
    revenue: Decimal = ZERO

    @property
    def orders_partial(self) -> int:
        """Orders cancelled only in part (no whole-order cancellation in the range)."""
        return self.orders - self.orders_whole

    @property
    def rate(self) -> Decimal | None:
        """Orders cancelled ÷ orders placed, in per cent."""
        return rate_of(self.orders, self.orders_placed)


@dataclass
class Row:
    """The figures of one reason and channel (a row of the table and of the CSV)."""

    reason: str
    channel: str
    cancellations: int = 0
    orders: int = 0
    units: int = 0
    value: Decimal = ZERO
    refunded: Decimal = ZERO

    @property
    def reason_label(self) -> str:
        """The reason's label."""
        return reason_label_or_none(self.reason)

    @property
    def channel_label(self) -> str:
        """The channel's label."""
        return channel_label(self.channel)


@dataclass
class Bucket:
    """One bar of the cancellations chart: a day (or a week), its cancellations per reason."""

    start: date
    end: date
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Cancellations in the bucket."""
        return sum(self.counts.values())


@dataclass
class Week:
    """One week of the range (clipped to it): orders placed, orders cancelled, the rate."""

    start: date
    end: date
    placed: int = 0
    cancelled: int = 0

    @property
    def rate(self) -> Decimal | None:
        """Orders cancelled ÷ orders placed in the week, in per cent."""
        return rate_of(self.cancelled, self.placed)


@dataclass
class ProductFigures:
    """A product among the most cancelled: units and value cancelled."""

    product_id: int | None
    title: str
    units: int
    value: Decimal


@dataclass
class Jobs:
    """The cancel jobs of the range's cancellations, by state."""

    counts: dict[str, int] = field(default_factory=dict)

    def _of(self, *states: str) -> int:
        return sum(self.counts.get(state, 0) for state in states)

    @property
    def succeeded(self) -> int:
        """Delivered to the processor."""
        return self._of("succeeded")

    @property
    def failed(self) -> int:
        """Given up after their attempts (or a permanent error)."""
        return self._of("failed")

    @property
    def pending(self) -> int:
        """Still to be delivered (waiting or running)."""
        return self._of("pending", "running")

    @property
    def rejected(self) -> int:
        """Refused by the processor."""
        return self._of("rejected")

    @property
    def not_sent(self) -> int:
        """Never sent (the request was declined)."""
        return self._of("not_sent")

    @property
    def total(self) -> int:
        """Every job."""
        return sum(self.counts.values())


@dataclass
class Report:
    """Everything the report page, its charts and its CSV show for one range and scope."""

    date_from: date
    date_to: date
    scope: Scope
    totals: Totals
    rows: list[Row]
    buckets: list[Bucket]
    bucket_kind: str
    reasons: list[tuple[str, str]]
    weeks: list[Week]
    products: list[ProductFigures]
    jobs: Jobs

    @property
    def days(self) -> int:
        """Days in the range."""
        return (self.date_to - self.date_from).days + 1


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week_trunc(field_name: str) -> TruncWeek:
    return TruncWeek(field_name, tzinfo=shop_timezone(), output_field=DateField())


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def summary(date_from: date, date_to: date, scope: Scope = EVERYTHING) -> Totals:
    """The range's totals only (three queries): the dashboard home's panel."""
    totals = _totals(date_from, date_to, scope)
    lines = cancelled_lines_in(date_from, date_to, scope).aggregate(
        units=Sum("quantity"), value=Sum(_line_value()))
    totals.units, totals.value = lines["units"] or 0, _money(lines["value"])
    placed = orders_placed_in(date_from, date_to, scope).aggregate(
        n=Count("pk"), revenue=Sum("total_incl_tax"))
    totals.orders_placed, totals.revenue = placed["n"], _money(placed["revenue"])
    return totals


def _totals(date_from: date, date_to: date, scope: Scope) -> Totals:
    figures = cancellations_in(date_from, date_to, scope).aggregate(
        cancellations=Count("pk"), orders=Count("order_id", distinct=True),
        orders_whole=Count("order_id", distinct=True, filter=Q(is_full=True)),
        refunded=Sum("refund_amount"))
    return Totals(cancellations=figures["cancellations"], orders=figures["orders"],
                  orders_whole=figures["orders_whole"], refunded=_money(figures["refunded"]))


def reason_channel_rows(date_from: date, date_to: date, scope: Scope = EVERYTHING) -> list[Row]:
    """One row per reason and channel with cancellations in the range (two queries)."""
    rows: dict[tuple[str, str], Row] = {}
    for group in cancellations_in(date_from, date_to, scope).values("reason", "channel").annotate(
            n=Count("pk"), orders=Count("order_id", distinct=True), refunded=Sum("refund_amount")):
        rows[group["reason"], group["channel"]] = Row(
            group["reason"], group["channel"], cancellations=group["n"], orders=group["orders"],
            refunded=_money(group["refunded"]))
    for group in cancelled_lines_in(date_from, date_to, scope).values(
            reason=F("cancellation__reason"), channel=F("cancellation__channel")).annotate(
            units=Sum("quantity"), value=Sum(_line_value())):
        row = rows.get((group["reason"], group["channel"]))
        if row is not None:
            row.units, row.value = group["units"] or 0, _money(group["value"])
    return sorted(rows.values(), key=lambda row: (-row.cancellations, row.reason, row.channel))


def build_report(date_from: date, date_to: date, scope: Scope = EVERYTHING) -> Report:
    """Every figure of the report for the range and scope, in eight queries."""
    if date_to < date_from:
        raise ValueError("date_to is before date_from")
    cancellations = cancellations_in(date_from, date_to, scope)
    lines = cancelled_lines_in(date_from, date_to, scope)

    totals = _totals(date_from, date_to, scope)
    rows = reason_channel_rows(date_from, date_to, scope)
    totals.units = sum(row.units for row in rows)
    totals.value = sum((row.value for row in rows), ZERO)

    # Cancellations per day (per week beyond DAILY_BARS_UP_TO days), stacked by reason.
    days = (date_to - date_from).days + 1
    kind = "day" if days <= DAILY_BARS_UP_TO else "week"
    trunc = TruncDate("date_completed", tzinfo=shop_timezone()) if kind == "day" \
        else _week_trunc("date_completed")
    per_bucket: dict[date, dict[str, int]] = defaultdict(dict)
    for group in cancellations.annotate(bucket=trunc).values("bucket", "reason").annotate(n=Count("pk")):
        per_bucket[_as_date(group["bucket"])][group["reason"]] = group["n"]
    buckets = []
    start = date_from if kind == "day" else _monday(date_from)
    step = timedelta(days=1 if kind == "day" else 7)
    while start <= date_to:
        end = start if kind == "day" else start + timedelta(days=6)
        buckets.append(Bucket(max(start, date_from), min(end, date_to), per_bucket.get(start, {})))
        start += step
    order_of_reasons = defaultdict(int)
    for row in rows:
        order_of_reasons[row.reason] += row.cancellations
    reasons = [(code, reason_label_or_none(code))
               for code in sorted(order_of_reasons, key=lambda code: (-order_of_reasons[code], code))]

    # The rate per week: orders cancelled ÷ orders placed in each (clipped) week.
    cancelled_per_week = {
        _as_date(group["week"]): group["orders"] for group in cancellations.annotate(
            week=_week_trunc("date_completed")).values("week").annotate(
            orders=Count("order_id", distinct=True))}
    placed_per_week, revenue = {}, ZERO
    for group in orders_placed_in(date_from, date_to, scope).annotate(
            week=_week_trunc("date_placed")).values("week").annotate(
            n=Count("pk"), revenue=Sum("total_incl_tax")):
        placed_per_week[_as_date(group["week"])] = group["n"]
        revenue += group["revenue"] or ZERO
    totals.orders_placed, totals.revenue = sum(placed_per_week.values()), _money(revenue)
    weeks = []
    monday = _monday(date_from)
    while monday <= date_to:
        weeks.append(Week(max(monday, date_from), min(monday + timedelta(days=6), date_to),
                          placed=placed_per_week.get(monday, 0), cancelled=cancelled_per_week.get(monday, 0)))
        monday += timedelta(days=7)

    products = [
        ProductFigures(group["line__product_id"], group["title"] or "", group["units"] or 0,
                       _money(group["value"]))
        for group in lines.values("line__product_id").annotate(
            title=Max("line__title"), units=Sum("quantity"), value=Sum(_line_value()),
        ).order_by("-units", "-value", "line__product_id")[:TOP_PRODUCTS]]

    CancelJob = get_model("oscar_ordercancel", "CancelJob")
    jobs = Jobs({group["state"]: group["n"] for group in CancelJob._default_manager.filter(
        cancellation__in=cancellations.values("pk")).order_by().values("state").annotate(n=Count("pk"))})

    return Report(date_from=date_from, date_to=date_to, scope=scope, totals=totals, rows=rows,
                  buckets=buckets, bucket_kind=kind, reasons=reasons, weeks=weeks,
                  products=products, jobs=jobs)


#: The CSV download's columns, in order (the public contract).
CSV_COLUMNS = ("reason", "channel", "cancellations", "orders", "units", "value", "refunded")


def csv_rows(rows: list[Row]) -> Iterator[tuple]:
    """The CSV's rows (codes, counts, amounts with two decimals), one per reason and channel."""
    for row in rows:
        yield (row.reason, row.channel, row.cancellations, row.orders, row.units,
               f"{row.value:.2f}", f"{row.refunded:.2f}")
