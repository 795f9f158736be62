"""Resubmit a cancelled order as a new order (a new number, the cancelled lines, no payment).

The new order is placed through Oscar's ``OrderCreator`` (a shop's fork applies), from
a basket whose prices are the original order's, so that order creation, stock
allocation and the ``order_placed`` signal work as at checkout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _
from oscar.core.loading import get_class, get_model
from oscar.core.prices import Price

from oscar_ordercancel import signals
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.engine import vouchers
from oscar_ordercancel.exceptions import CancellationError

#: ``OrderNote.note_type`` of the notes that link an original and its resubmission.
NOTE_RESUBMITTED_AS = "Resubmitted"
NOTE_RESUBMISSION_OF = "Resubmission"
#: ``line_reference`` prefix of the new order's basket lines: ``resubmit-<original line id>``.
RESUBMIT_REFERENCE = "resubmit-"

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ResubmitLine:
    """One line of the new order: the original line and the quantity it gets."""

    line: object
    quantity: int

    @property
    def unit_price_incl_tax(self) -> Decimal | None:
        """The original unit price including tax."""
        return self.line.unit_price_incl_tax

    @property
    def unit_price_excl_tax(self) -> Decimal | None:
        """The original unit price excluding tax."""
        return self.line.unit_price_excl_tax

    @property
    def discount_incl_tax(self) -> Decimal:
        """The original line's discount (incl. tax), pro rata to this quantity."""
        line = self.line
        before, after = line.line_price_before_discounts_incl_tax, line.line_price_incl_tax
        if before is None or after is None or before <= after or not line.quantity:
            return Decimal("0.00")
        return ((before - after) * self.quantity / line.quantity).quantize(CENT, ROUND_HALF_UP)

    @property
    def line_price_incl_tax(self) -> Decimal | None:
        """What the new order's line costs including tax (after the original discount)."""
        if self.unit_price_incl_tax is None:
            return None
        return self.unit_price_incl_tax * self.quantity - self.discount_incl_tax


class OriginalPrices:
    """A basket strategy that prices each basket line as its original order line."""

    def __init__(self, currency: str, prices: dict) -> None:
        self.currency = currency
        self.prices = prices  # line_reference -> (unit excl tax, unit incl tax)

    def fetch_for_line(self, line, stockrecord=None) -> tuple:
        """The original unit price; availability was checked under the stock locks."""
        FixedPrice = get_class("partner.prices", "FixedPrice")
        Available = get_class("partner.availability", "Available")
        PurchaseInfo = get_class("partner.strategy", "PurchaseInfo")
        excl, incl = self.prices[line.line_reference]
        tax = None if incl is None or excl is None else incl - excl
        return PurchaseInfo(price=FixedPrice(self.currency, excl, tax),
                            availability=Available(), stockrecord=stockrecord)


def _refuse(code: str, message: str, **params) -> CancellationError:
    return CancellationError(code, message, params)


def resubmit_lines(order, *, lock: bool = False) -> list[ResubmitLine]:
    """The lines and quantities a resubmission of ``order`` gets; refuses as ``resubmit_order`` would.

    With ``lock`` the stock records are locked ``FOR UPDATE`` (inside a transaction).
    """
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")

    cancelled_status = get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
    if order.status != cancelled_status:
        raise _refuse("not_resubmittable",
                      _("Only cancelled orders can be resubmitted; order %(number)s is “%(status)s”.")
                      % {"number": order.number, "status": order.status})
    if order.notes.filter(note_type=NOTE_RESUBMITTED_AS).exists():
        new = resubmitted_as(order)
        if new is None:  # e.g. the new order's basket was deleted since
            raise _refuse("already_resubmitted",
                          _("Order %(number)s has already been resubmitted.") % {"number": order.number})
        raise _refuse("already_resubmitted",
                      _("Order %(number)s has already been resubmitted as new order %(new)s.")
                      % {"number": order.number, "new": new.number}, new_order=new.number)
    quantities = dict(
        OrderCancellationLine.objects.filter(
            cancellation__order=order, cancellation__state=OrderCancellation.State.COMPLETED)
        .order_by().values_list("line_id").annotate(qty=Sum("quantity"))
    )
    lines = [
        ResubmitLine(line, quantities[line.pk])
        for line in order.lines.select_related("product__product_class",
                                               "product__parent__product_class", "stockrecord")
        .order_by("pk") if quantities.get(line.pk)
    ]
    if not lines:
        raise _refuse("not_resubmittable",
                      _("Nothing of order %(number)s was cancelled, so there is nothing to resubmit.")
                      % {"number": order.number})
    for item in lines:
        if item.line.product is None or item.line.stockrecord is None:
            raise _refuse("product_unavailable",
                          _("“%(title)s” is no longer in the catalogue, so the order cannot be "
                            "resubmitted.") % {"title": item.line.title}, line=item.line.pk)
    _check_stock(lines, lock=lock)
    return lines


def resubmitted_as(order):
    """The order that resubmitted ``order``, found by its basket's lines (``resubmit-<line id>``)."""
    Order = get_model("order", "Order")
    references = [f"{RESUBMIT_REFERENCE}{pk}" for pk in order.lines.values_list("pk", flat=True)]
    return (Order.objects.filter(basket__lines__line_reference__in=references)
            .exclude(pk=order.pk).order_by("pk").first())


def _check_stock(lines: list[ResubmitLine], *, lock: bool) -> None:
    """Refuse when a stock-tracked product has less free stock than the lines need."""
    StockRecord = get_model("partner", "StockRecord")
    needed: dict[int, int] = defaultdict(int)
    titles: dict[int, str] = {}
    for item in lines:
        if item.line.product.get_product_class().track_stock:
            needed[item.line.stockrecord_id] += item.quantity
            titles[item.line.stockrecord_id] = item.line.product.get_title()
    if not needed:
        return
    records = StockRecord.objects.filter(pk__in=needed).order_by("pk")
    if lock:
        records = records.select_for_update()
    for record in records:
        available = max(record.net_stock_level, 0)
        if needed[record.pk] > available:
            raise _refuse(
                "insufficient_stock",
                _("Not enough stock of “%(title)s” to resubmit the order: %(needed)d needed, "
                  "%(available)d available.")
                % {"title": titles[record.pk], "needed": needed[record.pk], "available": available},
                product=record.product_id, needed=needed[record.pk], available=available,
            )


def _copy_address(address):
    if address is None:
        return None
    address.pk = address.id = None
    address._state.adding = True
    address.save()
    return address


def _build_basket(order, lines: list[ResubmitLine]):
    """A basket of the lines at the original prices (and original line discounts)."""
    Basket = get_model("basket", "Basket")
    LineAttribute = get_model("basket", "LineAttribute")
    basket = Basket.objects.create(owner=order.user)
    prices = {}
    for item in lines:
        line = item.line
        reference = f"{RESUBMIT_REFERENCE}{line.pk}"
        prices[reference] = (line.unit_price_excl_tax, line.unit_price_incl_tax)
        basket_line = basket.lines.create(
            line_reference=reference, product=line.product, stockrecord=line.stockrecord,
            quantity=item.quantity, price_currency=order.currency,
            price_excl_tax=line.unit_price_excl_tax, price_incl_tax=line.unit_price_incl_tax,
        )
        for attribute in line.attributes.exclude(option=None):
            LineAttribute.objects.create(line=basket_line, option=attribute.option,
                                         value=attribute.value)
    basket.strategy = OriginalPrices(order.currency, prices)
    by_reference = {f"{RESUBMIT_REFERENCE}{item.line.pk}": item for item in lines}
    for basket_line in basket.all_lines():
        item = by_reference[basket_line.line_reference]
        if item.discount_incl_tax > 0:  # the original line's discount, pro rata
            basket_line.discount(item.discount_incl_tax, item.quantity, incl_tax=True)
    return basket


def resubmit_order(order, *, user):
    """Place a new order with the cancelled lines of ``order`` at their original prices; return it.

    Raises ``CancellationError`` (``not_resubmittable``, ``already_resubmitted``,
    ``product_unavailable``, ``insufficient_stock``) and changes nothing when refused.
    No payment is recorded on the new order.
    """
    Order = get_model("order", "Order")
    ShippingMethod = get_class("shipping.methods", "FixedPrice")
    OrderCreator = get_class("order.utils", "OrderCreator")
    OrderNumberGenerator = get_class("order.utils", "OrderNumberGenerator")
    OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
    EventHandler = get_class("order.processing", "EventHandler")
    actor = user if getattr(user, "is_authenticated", False) else None

    with transaction.atomic():
        original = Order.objects.select_for_update().get(pk=order.pk)
        lines = resubmit_lines(original, lock=True)
        basket = _build_basket(original, lines)
        charge = Price(original.currency, original.shipping_excl_tax,
                       incl_tax=original.shipping_incl_tax, tax_code=original.shipping_tax_code)
        method = ShippingMethod(original.shipping_excl_tax, original.shipping_incl_tax)
        method.code, method.name = original.shipping_code, original.shipping_method
        total = OrderTotalCalculator().calculate(basket, charge)
        extra = {"guest_email": original.guest_email} if original.guest_email else {}
        new = OrderCreator().place_order(
            basket=basket, total=total, shipping_method=method, shipping_charge=charge,
            user=original.user, shipping_address=_copy_address(original.shipping_address),
            billing_address=_copy_address(original.billing_address),
            order_number=str(OrderNumberGenerator().order_number(basket)), site=original.site,
            **extra,
        )
        basket.submit()
        vouchers.record_again(original, new)
        handler = EventHandler(actor)
        handler.create_note(original, _("Resubmitted as new order %(number)s.")
                            % {"number": new.number}, note_type=NOTE_RESUBMITTED_AS)
        handler.create_note(new, _("Resubmission of cancelled order %(number)s. No payment has "
                                   "been recorded for it.") % {"number": original.number},
                            note_type=NOTE_RESUBMISSION_OF)
        signals.order_resubmitted.send(sender=Order, order=new, original=original, user=user)
    return new
