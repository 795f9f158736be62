"""What a cancellation would do, computed by the engine's own steps; nothing is changed.

``services.preview_cancellation`` serves it to the surfaces: stock ``releasable``
and the payment handler's ``plan`` are the code ``cancel_order`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from oscar.core.loading import get_model

from oscar_ordercancel.engine.stock import releasable
from oscar_ordercancel.payment import cancelled_value, get_payment_handler


@dataclass
class Preview:
    """The effect of a cancellation: lines, stock released, money voided and refunded."""

    full: bool
    rows: list = field(default_factory=list)
    value: Decimal = Decimal("0.00")
    void: Decimal = Decimal("0.00")
    refund: Decimal = Decimal("0.00")

    @property
    def stock_released(self) -> int:
        """Units whose allocation goes back to stock."""
        return sum(row["stock"] for row in self.rows)


def preview_cancellation(facts, decision, *, refund: bool) -> Preview:
    """What ``cancel_order`` would do with ``decision``'s quantities; nothing is changed."""
    lines_by_id = facts.lines_by_id
    quantities = decision.quantities
    preview = Preview(full=decision.full, value=cancelled_value(lines_by_id, quantities))
    for pk, qty in quantities.items():
        line = lines_by_id[pk]
        preview.rows.append({"line": line, "quantity": qty, "stock": releasable(
            line, qty, tracks_stock=facts.tracks_stock(line))})
    Source = get_model("payment", "Source")
    sources = list(Source.objects.filter(order=facts.order).select_related("source_type").order_by("pk"))
    plan = get_payment_handler().plan(facts.order, sources, lines_by_id, quantities,
                                      full=decision.full, refund=refund)
    preview.void, preview.refund = plan.voided, plan.refunded
    return preview
