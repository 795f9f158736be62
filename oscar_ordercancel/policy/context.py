"""The facts the policy decides on, loaded in a constant number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum, Value
from django.db.models.functions import Coalesce
from oscar.core.loading import get_model

from oscar_ordercancel.conf import EffectiveSettings, effective_settings, get_setting


@dataclass
class CancellationContext:
    """An order with its lines and what has been shipped, cancelled and paid."""

    order: object
    lines: list
    shipped: dict[int, int]
    cancelled: dict[int, int]
    sources: list
    mapping: object | None
    settings: EffectiveSettings
    pending_request: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def lines_by_id(self) -> dict[int, object]:
        """The order's lines keyed by id."""
        return {line.pk: line for line in self.lines}

    def cancellable_quantity(self, line) -> int:
        """Unshipped, not yet cancelled quantity of a line whose status allows it."""
        if line.status not in get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES"):
            return 0
        left = line.quantity - self.shipped.get(line.pk, 0) - self.cancelled.get(line.pk, 0)
        return max(left, 0)

    def remaining_quantity(self, line) -> int:
        """Quantity of a line that is neither shipped nor cancelled, whatever its status."""
        left = line.quantity - self.shipped.get(line.pk, 0) - self.cancelled.get(line.pk, 0)
        return max(left, 0)

    @property
    def amount_debited(self) -> Decimal:
        """What the customer has been charged and not refunded."""
        from oscar_ordercancel.engine.payment import get_payment_handler

        return get_payment_handler().amount_debited(self.order, self.sources)


def _shipped_quantities(order) -> dict[int, int]:
    """Per line, the largest quantity any shipping event type has covered."""
    ShippingEventQuantity = get_model("order", "ShippingEventQuantity")
    rows = ShippingEventQuantity.objects.filter(line__order_id=order.pk)
    codes = get_setting("OSCAR_ORDERCANCEL_SHIPPED_EVENT_TYPES")
    if codes is not None:
        rows = rows.filter(event__event_type__code__in=codes)
    per_line: dict[int, int] = defaultdict(int)
    for row in rows.values("line_id", "event__event_type_id").annotate(qty=Sum("quantity")):
        per_line[row["line_id"]] = max(per_line[row["line_id"]], row["qty"] or 0)
    return dict(per_line)


def _cancelled_quantities(order) -> tuple[dict[int, int], bool]:
    """Per line, the quantity already cancelled or awaiting confirmation; and whether any waits."""
    from oscar_ordercancel.models import OrderCancellation, OrderCancellationLine

    rows = (
        OrderCancellationLine.objects.filter(cancellation__order_id=order.pk)
        .exclude(cancellation__state=OrderCancellation.State.REJECTED)
        .values("line_id", "cancellation__state")
        .annotate(qty=Sum("quantity"))
    )
    per_line: dict[int, int] = defaultdict(int)
    pending = False
    for row in rows:
        per_line[row["line_id"]] += row["qty"] or 0
        pending = pending or row["cancellation__state"] == OrderCancellation.State.REQUESTED
    return dict(per_line), pending


def load_context(order, *, lock: bool = False) -> CancellationContext:
    """Load the facts about ``order``; with ``lock``, its lines are locked ``FOR UPDATE``."""
    from oscar_ordercancel.models import OrderStatusMapping

    Line = get_model("order", "Line")
    Source = get_model("payment", "Source")
    # Whether a line's stock is tracked, without loading whole product rows.
    lines = Line.objects.filter(order_id=order.pk).annotate(
        _tracks_stock=Coalesce(
            "stockrecord__product__product_class__track_stock",
            "stockrecord__product__parent__product_class__track_stock",
            Value(False),
        )
    ).order_by("pk")
    if lock:
        lines = lines.select_for_update(of=("self",))
    lines = list(lines)
    cancelled, pending = _cancelled_quantities(order)
    return CancellationContext(
        order=order,
        lines=lines,
        shipped=_shipped_quantities(order),
        cancelled=cancelled,
        sources=list(Source.objects.filter(order_id=order.pk).select_related("source_type")),
        mapping=OrderStatusMapping.objects.filter(status=order.status).first(),
        settings=effective_settings(order.site_id),
        pending_request=pending,
    )
