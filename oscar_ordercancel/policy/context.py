"""The facts the policy decides on, for one order or many, in a constant number of queries.

One query reads the orders' lines with everything the policy needs as
annotations (shipped and cancelled quantities, stock tracking, a pending request,
the money debited, whether the status mapping forbids cancelling and its display
name, the site's cancellation settings). Under the engine's locks, one more
locks and reads the payment sources of the orders that have any.

To decide many orders without changing them (a batch preview),
:func:`load_contexts_by_number` reads the orders' own facts on the orders and the
lines' on the lines (each computed once, not once per line), as tuples instead
of model instances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db.models import Exists, F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from oscar.core.loading import get_model

from oscar_ordercancel.conf import EffectiveSettings, effective_settings, get_setting, merged_settings
from oscar_ordercancel.db.bulk import in_values

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class StatusSettings:
    """The status settings the policy reads for every order, read once for many."""

    cancelled: str
    requested: str
    #: The line statuses that may be cancelled (``OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES``).
    line_statuses: frozenset[str]


def status_settings() -> StatusSettings:
    """The status settings in force now."""
    return StatusSettings(
        cancelled=get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS"),
        requested=get_setting("OSCAR_ORDERCANCEL_REQUESTED_STATUS"),
        line_statuses=frozenset(get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES")))


@dataclass
class CancellationContext:
    """An order with its lines and what has been shipped, cancelled and paid."""

    order: object
    lines: list
    shipped: dict[int, int]
    cancelled: dict[int, int]
    settings: EffectiveSettings
    status_blocked: bool = False
    #: The display name of the order status's mapping, or "" (what people read for it).
    status_display: str = ""
    pending_request: bool = False
    debited: Decimal = ZERO
    sources: list | None = None
    #: Ids of the lines whose product class tracks stock (their allocations can be released).
    stock_tracked: frozenset[int] = frozenset()
    extra: dict = field(default_factory=dict)
    #: The status settings, read once per load; ``None`` reads them on each question.
    statuses: StatusSettings | None = None
    #: Whether the order used an offer or a voucher (read under the engine's locks, so that
    #: a cancellation of an order without any asks nothing more); ``True`` when not known.
    discounted: bool = True

    #: ``(lines, {id: line})`` as last built by :attr:`lines_by_id`.
    _by_id: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def lines_by_id(self) -> dict[int, object]:
        """The order's lines keyed by id (rebuilt only when ``lines`` is replaced or grows)."""
        lines, cached = self.lines, self._by_id
        if cached is None or cached[0] is not lines or len(cached[1]) != len(lines):
            cached = self._by_id = (lines, {line.pk: line for line in lines})
        return cached[1]

    def tracks_stock(self, line) -> bool:
        """Whether ``line``'s product class tracks stock (so its allocation can be released)."""
        return line.pk in self.stock_tracked

    def cancellable_quantity(self, line) -> int:
        """Unshipped, not yet cancelled quantity of a line whose status allows it."""
        if line.status not in (self.statuses or status_settings()).line_statuses:
            return 0
        return self.remaining_quantity(line)

    def remaining_quantity(self, line) -> int:
        """Quantity of a line that is neither shipped nor cancelled, whatever its status."""
        left = line.quantity - self.shipped.get(line.pk, 0) - self.cancelled.get(line.pk, 0)
        return max(left, 0)

    @property
    def amount_debited(self) -> Decimal:
        """What the customer has been charged and not refunded."""
        if self.sources is None:
            return self.debited
        from oscar_ordercancel.payment import get_payment_handler

        return get_payment_handler().amount_debited(self.order, self.sources)


class LineFacts(NamedTuple):
    """What the policy reads of an order line, without a model instance.

    :func:`load_contexts_by_number` gives these instead of ``Line`` objects, for
    callers that decide many orders and change none (a batch preview): a tuple
    is made many times faster than a model instance.
    """

    pk: int
    order_id: int
    partner_id: int | None
    partner_sku: str | None
    title: str
    quantity: int
    status: str

    @property
    def id(self) -> int:
        """The line's id, as on the model."""
        return self.pk


#: The line fields a :class:`LineFacts` is made of, in its order.
_FACT_FIELDS = ("pk", "order_id", "partner_id", "partner_sku", "title", "quantity", "status")
#: The annotations of :func:`_line_facts` about the line itself, in the order they are read.
_LINE_FACTS = ("_tracks_stock", "_shipped", "_cancelled")
#: The annotations of :func:`_order_facts` about its order, in the order they are read
#: (the money debited last).
_ORDER_FACT_NAMES = ("_pending", "_status_blocked", "_status_display", "_settings_pk",
                     "_settings_statuses", "_settings_allow", "_settings_window", "_debited")


def _line_facts() -> dict:
    """Annotations of a line: whether it tracks stock, how much has shipped and been cancelled."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")
    ShippingEventQuantity = get_model("order", "ShippingEventQuantity")
    shipped = ShippingEventQuantity.objects.filter(line_id=OuterRef("pk"))
    codes = get_setting("OSCAR_ORDERCANCEL_SHIPPED_EVENT_TYPES")
    if codes is not None:
        shipped = shipped.filter(event__event_type__code__in=codes)
    # The largest quantity any one shipping event type has covered.
    shipped = (shipped.order_by().values("event__event_type_id").annotate(qty=Sum("quantity"))
               .order_by("-qty").values("qty")[:1])
    cancelled = (
        OrderCancellationLine.objects.filter(line_id=OuterRef("pk"))
        .exclude(cancellation__state=OrderCancellation.State.REJECTED)
        .order_by().values("line_id").annotate(qty=Sum("quantity")).values("qty")
    )
    return {
        "_tracks_stock": Coalesce(
            "stockrecord__product__product_class__track_stock",
            "stockrecord__product__parent__product_class__track_stock",
            Value(False),
        ),
        "_shipped": Coalesce(Subquery(shipped, output_field=IntegerField()), 0),
        "_cancelled": Coalesce(Subquery(cancelled, output_field=IntegerField()), 0),
    }


def _order_facts(path: str, *, debited: bool = True) -> dict:
    """Annotations of an order's facts, on its lines (``path`` ``"order__"``) or on the order
    itself (``path`` ``""``): a pending request, whether the status mapping forbids cancelling
    and its display name, the site's settings row, and (``debited``) the money debited."""
    from oscar_ordercancel.payment import get_payment_handler
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")
    order_id = OuterRef("order_id" if path else "pk")
    settings = path + "site__cancellation_settings__"
    facts = {
        "_pending": Exists(OrderCancellation.objects.filter(
            order_id=order_id, state=OrderCancellation.State.REQUESTED)),
        "_status_blocked": Exists(OrderStatusMapping.objects.filter(
            status=OuterRef(path + "status"), allow_cancellation=False)),
        "_status_display": Subquery(OrderStatusMapping.objects.filter(
            status=OuterRef(path + "status")).values("display_name")[:1]),
        "_settings_pk": F(settings + "pk"),
        "_settings_statuses": F(settings + "cancellable_statuses"),
        "_settings_allow": F(settings + "allow_customer_cancellation"),
        "_settings_window": F(settings + "customer_window"),
    }
    if debited:
        facts["_debited"] = get_payment_handler().debited_subquery(order_id)
    return facts


def _site_settings(order, facts: tuple | None) -> EffectiveSettings:
    """The settings in force for ``order``, from its facts (the values of ``_ORDER_FACT_NAMES``;
    without them, read now)."""
    if facts is None or order.site_id is None:  # no site: the current site's
        return effective_settings(order.site_id)
    settings_pk, statuses, allow, window = facts[3:7]
    row = None
    if settings_pk is not None:
        row = get_model("oscar_ordercancel", "CancellationSettings")(
            pk=settings_pk, site_id=order.site_id, cancellable_statuses=statuses,
            allow_customer_cancellation=allow, customer_window=window)
    return merged_settings(row)


#: The annotated querysets, built once per process for each combination of what shapes
#: them (lock, shipped event types, payment handler): building and resolving a dozen
#: subqueries costs more than running them. Never evaluated themselves: each load
#: filters (clones) one.
_FACTS: dict[tuple, object] = {}


def _cached(key: tuple, build):
    queryset = _FACTS.get(key)
    if queryset is None:
        queryset = _FACTS[key] = build()
    return queryset


def _shape() -> tuple:
    """What shapes the annotated querysets besides their use."""
    codes = get_setting("OSCAR_ORDERCANCEL_SHIPPED_EVENT_TYPES")
    return (None if codes is None else tuple(codes), get_setting("OSCAR_ORDERCANCEL_PAYMENT_HANDLER"))


def _facts_queryset(*, lock: bool):
    """The lines queryset with every fact of the line and its order annotated (locked
    ``FOR UPDATE`` with ``lock``, with whether the order has payment sources instead of the
    money debited: the engine then locks and reads them)."""
    def build():
        queryset = get_model("order", "Line").objects.annotate(
            **_line_facts(), **_order_facts("order__", debited=not lock))
        if not lock:
            return queryset.order_by("pk")
        return queryset.annotate(_has_sources=Exists(get_model("payment", "Source").objects.filter(
            order_id=OuterRef("order_id"))), _has_discounts=_discounted()).order_by(
            "pk").select_for_update(of=("self",))
    return _cached(("lines", lock, *_shape()), build)


def _discounted() -> Exists:
    """Whether the line's order used an offer or a voucher (the engine then gives it back)."""
    order = OuterRef("order_id")
    return (Exists(get_model("order", "OrderDiscount").objects.filter(order_id=order))
            | Exists(get_model("voucher", "VoucherApplication").objects.filter(order_id=order)))


def load_contexts(orders, *, lock: bool = False) -> dict[int, CancellationContext]:
    """Load the facts of ``orders`` keyed by order id.

    With ``lock`` (the engine), their lines and payment sources are locked
    ``FOR UPDATE`` and the sources are loaded, since the payment handler acts on them.
    """
    orders = list(orders)
    ids = [o.pk for o in orders]
    sources: dict[int, list] = defaultdict(list)
    per_order: dict[int, list] = defaultdict(list)
    for line in _facts_queryset(lock=lock).filter(order_id__in=ids):
        per_order[line.order_id].append(line)
    if lock:  # the sources of orders that have any (or no lines to tell)
        paid = [pk for pk in ids if pk not in per_order or per_order[pk][0]._has_sources]
        Source = get_model("payment", "Source")
        for source in (Source.objects.filter(order_id__in=paid).select_related("source_type")
                       .select_for_update(of=("self",)).order_by("pk") if paid else ()):
            sources[source.order_id].append(source)
    make = _ContextMaker()
    contexts = {}
    for order in orders:
        own = per_order.get(order.pk, [])
        contexts[order.pk] = make(
            order, own, [tuple(getattr(line, name) for name in _LINE_FACTS) for line in own],
            tuple(getattr(own[0], name, None) for name in _ORDER_FACT_NAMES) if own else None,
            sources=sources[order.pk] if lock else None)
        if lock and own:
            contexts[order.pk].discounted = bool(own[0]._has_discounts)
    return contexts


class OrderFacts(NamedTuple):
    """What the policy reads of an order, without a model instance (see :class:`LineFacts`)."""

    pk: int
    number: str
    status: str
    user_id: int | None
    site_id: int | None
    date_placed: object

    @property
    def id(self) -> int:
        """The order's id, as on the model."""
        return self.pk

    @property
    def pipeline(self) -> dict:
        """Oscar's status pipeline (``OSCAR_ORDER_STATUS_PIPELINE``), as on the model."""
        return get_model("order", "Order").pipeline


_ORDER_FIELDS = ("pk", "number", "status", "user_id", "site_id", "date_placed")


class FactRows(NamedTuple):
    """What :func:`read_facts_by_number` read: rows, to be made contexts without a query."""

    orders: list[tuple]
    lines: list[tuple]
    #: The settings of orders without a site (the current site's), read when there are any.
    siteless: EffectiveSettings | None = None


def load_contexts_by_number(numbers: Iterable[str]) -> dict[str, CancellationContext]:
    """The facts of the orders with these numbers, keyed by number, to decide on, not change.

    For deciding many orders at once (a batch preview): one query reads the orders
    with their own facts, one their lines with theirs, without making model
    instances (the contexts hold :class:`OrderFacts` and :class:`LineFacts`).
    Unknown numbers are left out. The same as ``contexts_from_facts(read_facts_by_number(…))``.
    """
    return contexts_from_facts(read_facts_by_number(numbers))


def read_facts_by_number(numbers: Iterable[str]) -> FactRows:
    """The database work of :func:`load_contexts_by_number`: two queries, no context made."""
    orders_queryset = _cached(("orders", *_shape()), lambda: get_model("order", "Order").objects
                              .annotate(**_order_facts("")).order_by())
    orders = list(in_values(orders_queryset, "number", set(numbers)).values_list(
        *_ORDER_FIELDS, *_ORDER_FACT_NAMES))
    if not orders:
        return FactRows([], [])
    lines_queryset = _cached(("facts", *_shape()), lambda: get_model("order", "Line").objects
                             .annotate(**_line_facts()).order_by("pk"))
    lines = _driver_rows(in_values(lines_queryset, "order_id", [row[0] for row in orders]),
                         _FACT_FIELDS, _LINE_FACTS)
    site = _ORDER_FIELDS.index("site_id")
    siteless = effective_settings(None) if any(row[site] is None for row in orders) else None
    return FactRows(orders, lines, siteless)


def contexts_from_facts(facts: FactRows) -> dict[str, CancellationContext]:
    """The contexts, by order number, of what :func:`read_facts_by_number` read (no query)."""
    width, lines = len(_ORDER_FIELDS), len(_FACT_FIELDS)
    per_order: dict[int, list] = defaultdict(list)
    line_facts: dict[int, list] = defaultdict(list)
    for row in facts.lines:
        line = LineFacts._make(row[:lines])
        per_order[line.order_id].append(line)
        line_facts[line.order_id].append(row[lines:])
    make = _ContextMaker()
    if facts.siteless is not None:
        make.site_settings[None] = facts.siteless
    contexts = {}
    for row in facts.orders:
        order = OrderFacts._make(row[:width])
        contexts[order.number] = make(order, per_order.get(order.pk, []),
                                      line_facts.get(order.pk, []), row[width:])
    return contexts


def _driver_rows(queryset, fields: tuple[str, ...], annotations: tuple[str, ...]) -> list[tuple]:
    """The rows of ``queryset.values_list(*fields, *annotations)`` as the database driver gives
    them, without Django's converter call per row (for 10,000 lines they cost more than the
    query). Only for columns the driver already returns as Python wants them (numbers, text,
    booleans); when the statement's columns are not the ones asked for, ``values_list``'s rows.
    """
    queryset = queryset.values_list(*fields, *annotations)
    compiler = queryset.query.get_compiler(queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # filtered on no values at all
        return []
    with compiler.connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        if names[len(fields):] == list(annotations) and len(names) == len(fields) + len(annotations):
            return cursor.fetchall()
    return list(queryset)


class _ContextMaker:
    """Makes the contexts of one load: the settings read once per site and per load."""

    def __init__(self) -> None:
        self.site_settings: dict = {}
        self.statuses = status_settings()

    def __call__(self, order, lines: list, line_facts: list[tuple], order_facts: tuple | None, *,
                 sources: list | None = None) -> CancellationContext:
        """The context of ``order`` with its ``lines``, their facts (values of ``_LINE_FACTS``)
        and the order's (values of ``_ORDER_FACT_NAMES``; ``None`` when it has no lines to
        carry them)."""
        pending, blocked, display = order_facts[:3] if order_facts else (False, False, "")
        if order.site_id not in self.site_settings:
            self.site_settings[order.site_id] = _site_settings(order, order_facts)
        pairs = list(zip(lines, line_facts, strict=True))
        return CancellationContext(
            order=order,
            lines=lines,
            shipped={line.pk: facts[1] for line, facts in pairs if facts[1]},
            cancelled={line.pk: facts[2] for line, facts in pairs if facts[2]},
            settings=self.site_settings[order.site_id],
            status_blocked=bool(blocked),
            status_display=display or "",
            pending_request=bool(pending),
            debited=(order_facts[-1] if order_facts else None) or ZERO,
            sources=sources,
            stock_tracked=frozenset(line.pk for line, facts in pairs if facts[0]),
            statuses=self.statuses,
        )


def load_context(order, *, lock: bool = False) -> CancellationContext:
    """Load the facts about one order; with ``lock``, its lines and sources are locked."""
    return load_contexts([order], lock=lock)[order.pk]
