"""The facts the policy decides on, for one order or many, in a constant number of queries.

One query reads the orders' lines with everything the policy needs as
annotations (shipped and cancelled quantities, stock tracking, a pending request,
the money debited, whether the status mapping forbids cancelling and its display
name, the site's cancellation settings). Under the engine's locks, one more
locks and reads the payment sources of the orders that have any.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from oscar.core.loading import get_model

from oscar_ordercancel.conf import EffectiveSettings, effective_settings, get_setting, merged_settings

ZERO = Decimal("0.00")


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

    @property
    def lines_by_id(self) -> dict[int, object]:
        """The order's lines keyed by id (rebuilt only when ``lines`` is replaced)."""
        cached = self.extra.get("_lines_by_id")
        if cached is None or cached[0] is not self.lines or len(cached[1]) != len(self.lines):
            cached = (self.lines, {line.pk: line for line in self.lines})
            self.extra["_lines_by_id"] = cached
        return cached[1]

    def tracks_stock(self, line) -> bool:
        """Whether ``line``'s product class tracks stock (so its allocation can be released)."""
        return line.pk in self.stock_tracked

    def cancellable_quantity(self, line) -> int:
        """Unshipped, not yet cancelled quantity of a line whose status allows it."""
        if line.status not in get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES"):
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


#: The lookup of a line's site settings row (``CancellationSettings``, one per site).
_SETTINGS = "order__site__cancellation_settings__"


def _line_facts(*, debited: bool = True, sources: bool = False):
    """Annotations that carry every per-line and per-order fact the policy reads.

    ``debited``: the money debited, as one figure; ``sources``: whether the order
    has payment sources at all (the engine then locks and reads them).
    """
    from oscar_ordercancel.payment import get_payment_handler
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")
    OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")

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
    facts = {
        "_tracks_stock": Coalesce(
            "stockrecord__product__product_class__track_stock",
            "stockrecord__product__parent__product_class__track_stock",
            Value(False),
        ),
        "_shipped": Coalesce(Subquery(shipped, output_field=IntegerField()), 0),
        "_cancelled": Coalesce(Subquery(cancelled, output_field=IntegerField()), 0),
        "_pending": Exists(OrderCancellation.objects.filter(
            order_id=OuterRef("order_id"), state=OrderCancellation.State.REQUESTED)),
        "_status_blocked": Exists(OrderStatusMapping.objects.filter(
            status=OuterRef("order__status"), allow_cancellation=False)),
        "_status_display": Subquery(OrderStatusMapping.objects.filter(
            status=OuterRef("order__status")).values("display_name")[:1]),
    }
    facts.update({
        "_settings_pk": F(_SETTINGS + "pk"),
        "_settings_statuses": F(_SETTINGS + "cancellable_statuses"),
        "_settings_allow": F(_SETTINGS + "allow_customer_cancellation"),
        "_settings_window": F(_SETTINGS + "customer_window"),
    })
    if debited:
        facts["_debited"] = get_payment_handler().debited_subquery(OuterRef("order_id"))
    if sources:
        facts["_has_sources"] = Exists(
            get_model("payment", "Source").objects.filter(order_id=OuterRef("order_id")))
    return facts


def _site_settings(order, first_line) -> EffectiveSettings:
    """The settings in force for ``order``, from its first line's facts (else read now)."""
    if first_line is None or order.site_id is None:  # no site: the current site's
        return effective_settings(order.site_id)
    row = None
    if first_line._settings_pk is not None:
        row = get_model("oscar_ordercancel", "CancellationSettings")(
            pk=first_line._settings_pk, site_id=order.site_id,
            cancellable_statuses=first_line._settings_statuses,
            allow_customer_cancellation=first_line._settings_allow,
            customer_window=first_line._settings_window)
    return merged_settings(row)


#: The annotated line querysets, built once per process for each combination of what
#: shapes them (lock, shipped event types, payment handler): building and resolving
#: a dozen subqueries costs more than running them. Never evaluated themselves: each
#: load filters (clones) one.
_FACTS: dict[tuple, object] = {}


def _facts_queryset(*, lock: bool):
    """The lines queryset with every fact annotated (locked ``FOR UPDATE`` with ``lock``)."""
    codes = get_setting("OSCAR_ORDERCANCEL_SHIPPED_EVENT_TYPES")
    key = (lock, None if codes is None else tuple(codes),
           None if lock else get_setting("OSCAR_ORDERCANCEL_PAYMENT_HANDLER"))
    queryset = _FACTS.get(key)
    if queryset is None:
        queryset = get_model("order", "Line").objects.annotate(
            **_line_facts(debited=not lock, sources=lock)).order_by("pk")
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        _FACTS[key] = queryset
    return queryset


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
    site_settings: dict = {}
    contexts = {}
    for order in orders:
        own = per_order.get(order.pk, [])
        first = own[0] if own else None
        if order.site_id not in site_settings:
            site_settings[order.site_id] = _site_settings(order, first)
        contexts[order.pk] = CancellationContext(
            order=order,
            lines=own,
            shipped={line.pk: line._shipped for line in own if line._shipped},
            cancelled={line.pk: line._cancelled for line in own if line._cancelled},
            settings=site_settings[order.site_id],
            status_blocked=bool(first and first._status_blocked),
            status_display=(first._status_display or "") if first else "",
            pending_request=bool(first and first._pending),
            debited=(getattr(first, "_debited", None) if first else None) or ZERO,
            sources=sources[order.pk] if lock else None,
            stock_tracked=frozenset(line.pk for line in own if line._tracks_stock),
        )
    return contexts


def load_context(order, *, lock: bool = False) -> CancellationContext:
    """Load the facts about one order; with ``lock``, its lines and sources are locked."""
    return load_contexts([order], lock=lock)[order.pk]
