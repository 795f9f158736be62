"""What the cancel page shows before anything changes: per-line facts (the policy's).

The effect (stock released, amounts voided and refunded) comes from
``services.preview_cancellation``, computed by the engine's own code.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from oscar_ordercancel.conf import get_setting


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
