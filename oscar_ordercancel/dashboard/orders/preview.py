"""What the cancel page shows before anything changes: per-line facts and the effect.

Both read the policy's facts (``load_context``) and ask the engine's own helpers
(stock ``releasable``, the payment handler's ``plan``), so the preview says what
``cancel_order`` will do, computed by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from oscar.core.loading import get_model

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.engine.payment import cancelled_value, get_payment_handler
from oscar_ordercancel.engine.stock import releasable


def line_facts(facts) -> list[dict]:
    """Per line: ordered, shipped, cancelled, cancellable now, and why that is less."""
    in_processing = get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES")
    rows = []
    for line in facts.lines:
        shipped, cancelled = facts.shipped.get(line.pk, 0), facts.cancelled.get(line.pk, 0)
        cancellable = facts.cancellable_quantity(line)
        why = []
        if shipped:
            why.append(ngettext("%(n)d shipped", "%(n)d shipped", shipped) % {"n": shipped})
        if cancelled:
            why.append(ngettext("%(n)d already cancelled", "%(n)d already cancelled", cancelled)
                       % {"n": cancelled})
        if facts.remaining_quantity(line) and line.status not in in_processing:
            why.append(_("line is being processed (%(status)s)") % {"status": line.status})
        rows.append({"line": line, "ordered": line.quantity, "shipped": shipped,
                     "cancelled": cancelled, "cancellable": cancellable, "why": ", ".join(why)})
    return rows


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


def cancellation_preview(facts, decision, *, refund: bool) -> Preview:
    """What ``cancel_order`` would do with ``decision``'s quantities; nothing is changed."""
    lines_by_id = facts.lines_by_id
    quantities = decision.quantities
    preview = Preview(full=decision.full, value=cancelled_value(lines_by_id, quantities))
    for pk, qty in quantities.items():
        line = lines_by_id[pk]
        preview.rows.append({"line": line, "quantity": qty, "stock": releasable(line, qty)})
    Source = get_model("payment", "Source")
    sources = list(Source.objects.filter(order=facts.order).select_related("source_type").order_by("pk"))
    plan = get_payment_handler().plan(facts.order, sources, lines_by_id, quantities,
                                      full=decision.full, refund=refund)
    preview.void, preview.refund = plan.voided, plan.refunded
    return preview
