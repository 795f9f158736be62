"""Policy: may the consumer withdraw from THIS order (or these quantities) now?

The right of withdrawal (Art. 9–16 of Directive 2011/83/EU) is the consumer's, not a
favour of the shop: none of the cancellation rules (customer toggle, window, status,
payment taken) apply. What limits it:

* the function is enabled for the order's site (``OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED``,
  overridden by the site's ``CancellationSettings.withdrawal_enabled``);
* the period (``OSCAR_ORDERCANCEL_WITHDRAWAL_PERIOD``) runs per line from its delivery:
  a shipping event whose type code is in ``OSCAR_ORDERCANCEL_WITHDRAWAL_DELIVERED_EVENT_TYPES``;
  failing that, from its last shipping event plus ``…_TRANSIT_ALLOWANCE``; a line never
  shipped may always be withdrawn;
* a product class in ``OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES`` has no right
  of withdrawal (Art. 16);
* quantities already cancelled or withdrawn cannot be withdrawn again.

:func:`load_withdrawal_facts` reads what it needs in a fixed number of queries, whatever
the number of lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.policy.decision import Decision

#: The refusal codes of a withdrawal, besides ``unknown_line`` and ``invalid_quantity``.
WITHDRAWAL_CODES = ("withdrawal_disabled", "withdrawal_period_passed", "withdrawal_excluded",
                    "order_not_found", "quantity_not_withdrawable")


@dataclass
class LineWithdrawal:
    """What one order line allows: how much may still be withdrawn, and why not the rest."""

    line: object
    #: Units neither cancelled nor withdrawn before.
    remaining: int
    #: Of those, units whose period has run out.
    expired: int
    excluded: bool
    #: When the period of the line's last delivered (or shipped) units ends; None: open.
    deadline: datetime | None

    @property
    def available(self) -> int:
        """Units that may be withdrawn now."""
        return 0 if self.excluded else max(self.remaining - self.expired, 0)

    def refusal(self) -> str:
        """The code that says why nothing (more) of this line may be withdrawn."""
        if self.excluded and self.remaining:
            return "withdrawal_excluded"
        if self.expired and self.remaining:
            return "withdrawal_period_passed"
        return "quantity_not_withdrawable"


@dataclass
class WithdrawalFacts:
    """An order with what each of its lines allows."""

    order: object
    enabled: bool
    lines: list[LineWithdrawal] = field(default_factory=list)

    @property
    def by_id(self) -> dict[int, LineWithdrawal]:
        """The lines' facts keyed by line id."""
        return {item.line.pk: item for item in self.lines}

    @property
    def withdrawable(self) -> dict[int, int]:
        """``{line id: units}`` that may be withdrawn now (none: nothing)."""
        return {item.line.pk: item.available for item in self.lines if item.available}


def withdrawal_enabled(site=None) -> bool:
    """Whether the withdrawal function is on for ``site`` (a Site, its id, or the current one)."""
    row = get_model("oscar_ordercancel", "CancellationSettings").for_site(site)
    if row is not None and row.withdrawal_enabled is not None:
        return row.withdrawal_enabled
    return bool(get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED"))


def _lines_with_counts(order_ids: list[int]) -> list:
    """The orders' lines with the units cancelled and awaiting return after a withdrawal."""
    Line = get_model("order", "Line")
    CancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")
    DeclarationLine = get_model("oscar_ordercancel", "WithdrawalDeclarationLine")
    cancelled = (CancellationLine.objects.filter(line_id=OuterRef("pk"))
                 .exclude(cancellation__state="rejected")
                 .order_by().values("line_id").annotate(qty=Sum("quantity")).values("qty"))
    # Units cancelled at once by a withdrawal are in ``cancelled`` already.
    awaiting = (DeclarationLine.objects.filter(line_id=OuterRef("pk"),
                                               outcome=DeclarationLine.Outcome.AWAITING_RETURN)
                .order_by().values("line_id").annotate(qty=Sum("quantity")).values("qty"))
    return list(Line.objects.filter(order_id__in=order_ids).annotate(
        _cancelled=Coalesce(Subquery(cancelled, output_field=IntegerField()), 0),
        _withdrawn=Coalesce(Subquery(awaiting, output_field=IntegerField()), 0),
        _class_slug=Coalesce(F("product__product_class__slug"),
                             F("product__parent__product_class__slug")),
    ).order_by("pk"))


def _shipping(order_ids: list[int]) -> dict[int, list[tuple[str, datetime, int]]]:
    """``{line id: [(event type code, date, quantity), …]}`` of the orders' shipping events."""
    Quantity = get_model("order", "ShippingEventQuantity")
    events = defaultdict(list)
    for line_id, code, date, quantity in Quantity.objects.filter(
            event__order_id__in=order_ids).values_list(
            "line_id", "event__event_type__code", "event__date_created", "quantity"):
        events[line_id].append((code, date, quantity))
    return events


def _expiry(events: list, now: datetime) -> tuple[int, datetime | None]:
    """Units of a line whose period has ended, and when the period of its last units ends."""
    period = get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_PERIOD")
    delivered_types = set(get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_DELIVERED_EVENT_TYPES"))
    delivered = [(date, quantity) for code, date, quantity in events if code in delivered_types]
    if delivered:
        starts = delivered
    else:  # shipped, delivery not recorded: the period starts after the transit allowance
        transit = get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_TRANSIT_ALLOWANCE")
        starts = [(date + transit, quantity) for __, date, quantity in events]
    if not starts:
        return 0, None
    expired = sum(quantity for start, quantity in starts if start + period < now)
    return expired, max(start for start, __ in starts) + period


def load_withdrawal_facts_many(orders, *, now: datetime | None = None) -> dict[int, WithdrawalFacts]:
    """What each line of each of ``orders`` allows to withdraw now, by order id.

    Two queries for all the orders together, and one per site for its switch.
    """
    now = now or timezone.now()
    orders = list(orders)
    excluded = set(get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES"))
    switches = {site_id: withdrawal_enabled(site_id) for site_id in {o.site_id for o in orders}}
    facts = {order.pk: WithdrawalFacts(order=order, enabled=switches[order.site_id])
             for order in orders}
    ids = list(facts)
    if not ids or not any(switches.values()):
        return facts
    shipping = _shipping(ids)
    for line in _lines_with_counts(ids):
        expired, deadline = _expiry(shipping.get(line.pk, []), now)
        remaining = max(line.quantity - line._cancelled - line._withdrawn, 0)
        facts[line.order_id].lines.append(LineWithdrawal(
            line=line, remaining=remaining, expired=min(expired, remaining),
            excluded=line._class_slug in excluded, deadline=deadline))
    return facts


def load_withdrawal_facts(order, *, now: datetime | None = None) -> WithdrawalFacts:
    """What each line of ``order`` allows to withdraw now, in three queries."""
    return load_withdrawal_facts_many([order], now=now)[order.pk]


def withdrawable_orders(orders, user=None) -> set[int]:
    """The ids of ``orders`` that ``user`` may still withdraw from (an order list), in few queries."""
    return {pk for pk, facts in load_withdrawal_facts_many(orders).items()
            if decide_withdrawal(facts, user)}


def _is_staff(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_staff)


def decide_withdrawal(facts: WithdrawalFacts, user=None, lines: Mapping | None = None) -> Decision:
    """The decision on ``facts``: ``lines`` (``{line or id: quantity}``) or everything withdrawable."""
    order = facts.order
    if not facts.enabled:
        return Decision.deny("withdrawal_disabled")
    if (user is not None and getattr(user, "is_authenticated", False) and not _is_staff(user)
            and order.user_id != user.pk):
        return Decision.deny("order_not_found")
    by_id = facts.by_id
    if lines is None:
        wanted = facts.withdrawable
        if not wanted:
            refusals = [item.refusal() for item in facts.lines if item.remaining]
            return Decision.deny(_most_telling(refusals))
    else:
        wanted = {}
        for key, quantity in lines.items():
            line_id = getattr(key, "pk", key)
            if line_id not in by_id:
                return Decision.deny("unknown_line")
            if type(quantity) is not int or quantity < 1:  # a bool is no quantity
                return Decision.deny("invalid_quantity")
            item = by_id[line_id]
            if quantity > item.available:
                return Decision.deny(item.refusal() if not item.available
                                     else "quantity_not_withdrawable",
                                     details={"line": line_id, "available": item.available})
            wanted[line_id] = wanted.get(line_id, 0) + quantity
        if not wanted:
            return Decision.deny("quantity_not_withdrawable")
    full = all(wanted.get(item.line.pk, 0) >= item.remaining for item in facts.lines)
    return Decision.allow(wanted, full)


def _most_telling(codes: list[str]) -> str:
    """Of the lines' refusals, the one that best says why nothing may be withdrawn."""
    for code in ("withdrawal_period_passed", "withdrawal_excluded"):
        if code in codes:
            return code
    return "quantity_not_withdrawable"


def can_withdraw(order, user=None, lines: Mapping | None = None) -> Decision:
    """Return whether ``order`` (or ``lines``: ``{line: qty}``) may be withdrawn from now."""
    return decide_withdrawal(load_withdrawal_facts(order), user=user, lines=lines)
