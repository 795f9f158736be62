"""Policy: may THIS actor cancel (or withdraw from) THIS order, or these quantities, now?"""

from __future__ import annotations

from collections.abc import Mapping

from oscar_ordercancel.policy.context import (
    CancellationContext,
    contexts_from_facts,
    load_context,
    load_contexts,
    load_contexts_by_number,
    read_facts_by_number,
)
from oscar_ordercancel.policy.decision import (
    CUSTOMER_MESSAGES,
    MESSAGES,
    SILENT_CODES,
    Decision,
    message_for,
)
from oscar_ordercancel.policy.rules import (
    actor_role,
    evaluate,
    is_cancelling_staff,
    pinned_partners,
)
from oscar_ordercancel.policy.withdrawal import (
    WithdrawalFacts,
    can_withdraw,
    decide_withdrawal,
    load_withdrawal_facts,
    load_withdrawal_facts_many,
    withdrawable_orders,
    withdrawal_enabled,
)

__all__ = [
    "CUSTOMER_MESSAGES",
    "SILENT_CODES",
    "MESSAGES",
    "CancellationContext",
    "Decision",
    "WithdrawalFacts",
    "actor_role",
    "can_cancel",
    "can_withdraw",
    "decide_withdrawal",
    "decisions_for",
    "evaluate",
    "is_cancelling_staff",
    "load_context",
    "load_withdrawal_facts",
    "load_withdrawal_facts_many",
    "load_contexts",
    "load_contexts_by_number",
    "read_facts_by_number",
    "contexts_from_facts",
    "message_for",
    "pinned_partners",
    "withdrawable_orders",
    "withdrawal_enabled",
]


def can_cancel(
    order,
    user,
    lines: Mapping | None = None,
    force: bool = False,
    *,
    channel: str | None = None,
) -> Decision:
    """Return whether ``user`` may cancel ``order`` (or ``lines``: ``{line: qty}``) now."""
    return evaluate(load_context(order), user, lines=lines, force=force, channel=channel)


def decisions_for(orders, user, *, channel: str | None = None,
                  force: bool = False) -> dict[int, Decision]:
    """Whole-order decisions for many orders (e.g. an order list) in two queries."""
    return {
        pk: evaluate(ctx, user, force=force, channel=channel)
        for pk, ctx in load_contexts(orders).items()
    }
