"""Payment on cancellation: void what is only authorised, refund what was debited.

A shop plugs its gateway in with ``OSCAR_ORDERCANCEL_PAYMENT_HANDLER``: subclass
``DefaultPaymentHandler`` and override ``void_source`` / ``refund_source`` to call
the gateway (raise ``PaymentError`` to roll the whole cancellation back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, Exists, F, OuterRef, Q, Subquery, Sum
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel.conf import get_setting

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass
class PaymentOutcome:
    """What the handler did: amounts voided and refunded."""

    voided: Decimal = ZERO
    refunded: Decimal = ZERO
    notes: list[str] = field(default_factory=list)


@dataclass
class PaymentPlan:
    """What a cancellation would void and refund: ``(source, amount)`` pairs."""

    voids: list = field(default_factory=list)
    refunds: list = field(default_factory=list)

    @property
    def voided(self) -> Decimal:
        """The total to void."""
        return sum((amount for __, amount in self.voids), ZERO)

    @property
    def refunded(self) -> Decimal:
        """The total to refund."""
        return sum((amount for __, amount in self.refunds), ZERO)


def get_payment_handler() -> DefaultPaymentHandler:
    """Instantiate the configured payment handler."""
    return import_string(get_setting("OSCAR_ORDERCANCEL_PAYMENT_HANDLER"))()


def cancelled_value(lines_by_id: dict, quantities: dict[int, int]) -> Decimal:
    """The incl.-tax price of the cancelled quantities."""
    total = ZERO
    for pk, qty in quantities.items():
        line = lines_by_id[pk]
        if line.quantity:
            total += line.line_price_incl_tax * qty / line.quantity
    return total.quantize(CENT, ROUND_HALF_UP)


class DefaultPaymentHandler:
    """Records voids and refunds on Oscar's payment ``Source`` rows and payment events."""

    void_event_type = "Voided"
    refund_event_type = "Refunded"
    void_txn_type = "Void"

    def amount_debited(self, order, sources) -> Decimal:
        """Money taken from the customer and not yet refunded."""
        return sum((s.amount_debited - s.amount_refunded for s in sources), ZERO)

    def debited_subquery(self, order_ref):
        """``amount_debited`` as a SQL expression for many orders at once (the order list)."""
        Source = get_model("payment", "Source")
        debited = (
            Source.objects.filter(order_id=order_ref).order_by().values("order_id")
            .annotate(total=Sum(F("amount_debited") - F("amount_refunded"))).values("total")
        )
        return Subquery(debited, output_field=DecimalField(max_digits=12, decimal_places=2))

    def amount_voidable(self, order, sources) -> Decimal:
        """Money authorised but not yet taken."""
        return sum((max(s.amount_allocated - s.amount_debited, ZERO) for s in sources), ZERO)

    def plan(self, order, sources, lines_by_id, quantities, *, full: bool,
             refund: bool) -> PaymentPlan:
        """What ``apply`` would void and refund, per source, without changing anything."""
        plan = PaymentPlan()
        value = cancelled_value(lines_by_id, quantities)
        to_void = self.amount_voidable(order, sources) if full else value
        to_refund = (self.amount_debited(order, sources) if full else value) if refund else ZERO
        for source in sources:
            void = min(to_void, max(source.amount_allocated - source.amount_debited, ZERO))
            if void > 0:
                plan.voids.append((source, void))
                to_void -= void
            back = min(to_refund, source.amount_debited - source.amount_refunded)
            if back > 0:
                plan.refunds.append((source, back))
                to_refund -= back
        return plan

    def apply(self, order, sources, lines_by_id, quantities, *, full: bool, refund: bool,
              cancellation) -> PaymentOutcome:
        """Void (and with ``refund``, refund) the value of the cancelled quantities."""
        plan = self.plan(order, sources, lines_by_id, quantities, full=full, refund=refund)
        outcome = PaymentOutcome()
        for source, amount in plan.voids:
            self.void_source(source, amount, cancellation)
            outcome.voided += amount
        for source, amount in plan.refunds:
            self.refund_source(source, amount, cancellation)
            outcome.refunded += amount
        line_quantities = [(lines_by_id[pk], qty) for pk, qty in quantities.items()]
        if outcome.voided:
            self.record_event(order, self.void_event_type, outcome.voided, line_quantities,
                              cancellation)
        if outcome.refunded:
            self.record_event(order, self.refund_event_type, outcome.refunded, line_quantities,
                              cancellation)
        return outcome

    def void_source(self, source, amount: Decimal, cancellation) -> None:
        """Release an authorisation. Override to call the gateway."""
        source.amount_allocated -= amount
        source.save(update_fields=["amount_allocated"])
        source._create_transaction(self.void_txn_type, amount, self.reference(cancellation))

    def refund_source(self, source, amount: Decimal, cancellation) -> None:
        """Give money back. Override to call the gateway."""
        source.refund(amount, reference=self.reference(cancellation))

    def refund_withdrawal(self, order, sources, amount: Decimal, declaration) -> Decimal:
        """Refund ``amount`` of a withdrawal's returned goods to the original payment sources
        (``refund_source`` with the declaration); return what was refunded."""
        left, refunded = amount, ZERO
        for source in sources:
            back = min(left, source.amount_debited - source.amount_refunded)
            if back > 0:
                self.refund_source(source, back, declaration)
                left -= back
                refunded += back
        if refunded:
            self.record_event(order, self.refund_event_type, refunded, [
                (record.line, record.quantity) for record in declaration.lines.all()
                if record.outcome == "awaiting_return"], declaration)
        return refunded

    def reference(self, cancellation) -> str:
        """The reference written on transactions and payment events (of a cancellation, or of a
        withdrawal declaration: ``refund_source`` gets either)."""
        if isinstance(getattr(cancellation, "reference", None), str):
            return _("Withdrawal %(reference)s") % {"reference": cancellation.reference}
        return _("Cancellation #%(pk)s") % {"pk": cancellation.pk}

    def record_event(self, order, type_name: str, amount: Decimal, line_quantities,
                     cancellation) -> None:
        """Write an Oscar payment event with the cancelled line quantities."""
        PaymentEventType = get_model("order", "PaymentEventType")
        PaymentEventQuantity = get_model("order", "PaymentEventQuantity")
        event_type, __ = PaymentEventType.objects.get_or_create(name=type_name)
        event = order.payment_events.create(
            event_type=event_type, amount=amount, reference=self.reference(cancellation)
        )
        PaymentEventQuantity.objects.bulk_create(
            PaymentEventQuantity(event=event, line=line, quantity=qty)
            for line, qty in line_quantities
        )


def unpaid_filter():
    """The orders :func:`is_paid` counts unpaid, as a filter: no payment event and no source
    with an allocated, debited or refunded amount (the expiry sweep selects with it)."""
    Source = get_model("payment", "Source")
    PaymentEvent = get_model("order", "PaymentEvent")
    money = Source.objects.filter(order_id=OuterRef("pk")).filter(
        Q(amount_allocated__gt=0) | Q(amount_debited__gt=0) | Q(amount_refunded__gt=0))
    return (Q(total_incl_tax__gt=0) & ~Exists(money)
            & ~Exists(PaymentEvent.objects.filter(order_id=OuterRef("pk"))))


def is_paid(order) -> bool:
    """The default ``OSCAR_ORDERCANCEL_PAYMENT_CHECK``: whether money is recorded against ``order``.

    An order is paid when its payment sources' allocated, debited and refunded amounts
    cover its total; so that a sweep never cancels a partly paid order (a gift card, a
    payment the gateway took that is still being recorded), any such amount or any
    payment event counts as paid, and so does an order with nothing to pay.
    """
    Order = get_model("order", "Order")
    return not Order._default_manager.filter(pk=order.pk).filter(unpaid_filter()).exists()


#: Tells the expiry sweep that ``unpaid_filter()`` selects exactly the orders this check
#: counts unpaid, so it need not ask per order. A shop's own check leaves it out.
is_paid.unpaid_filter = unpaid_filter


def get_payment_check():
    """The configured ``OSCAR_ORDERCANCEL_PAYMENT_CHECK`` (``is_paid(order) -> bool``)."""
    check = get_setting("OSCAR_ORDERCANCEL_PAYMENT_CHECK")
    return import_string(check) if isinstance(check, str) else check
