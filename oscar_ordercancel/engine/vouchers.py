"""Voucher and offer usage given back when a whole order is cancelled.

``OSCAR_ORDERCANCEL_RELEASE_VOUCHERS`` (default on) turns it on.

At checkout Oscar counts an order's discounts: each voucher gets a ``VoucherApplication``
and ``num_orders`` + 1 (``Voucher.record_usage``) and its ``total_discount`` grows
(``record_discount``); each offer's ``num_applications``, ``num_orders`` and
``total_discount`` grow (``ConditionalOffer.record_usage``). A cancelled order never
happened for the customer, so a single-use or once-per-customer voucher must work
again: :func:`release` takes the usage back, in the cancellation's transaction, and
writes what it gave back on the cancellation (``vouchers_released``). A partial
cancellation keeps it. :func:`record_again` counts it once more for a resubmitted order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import DecimalField, F, IntegerField, Value
from django.db.models.functions import Greatest
from oscar.core.loading import get_model

from oscar_ordercancel.conf import get_setting

ZERO = Decimal("0.00")


def _less(name: str, amount) -> Greatest:
    """``name - amount``, never below zero (a counter a shop reset by hand stays at 0)."""
    return Greatest(F(name) - Value(amount), Value(0 if isinstance(amount, int) else ZERO))


COLUMNS = ("application", "order_id", "category", "offer_id", "offer_name", "voucher_id",
           "voucher_code", "frequency", "amount")


def _usage(order_ids: list[int]) -> tuple[list[dict], list[tuple]]:
    """The orders' discounts (dicts) and voucher applications ``(pk, order id, voucher id, code)``,
    read in one query."""
    OrderDiscount = get_model("order", "OrderDiscount")
    VoucherApplication = get_model("voucher", "VoucherApplication")
    money = DecimalField(max_digits=12, decimal_places=2)

    def columns(queryset, **values):  # every column an annotation, in one order: a valid union
        return queryset.filter(order_id__in=order_ids).order_by().annotate(
            **{f"u_{name}": values.get(name, F(name)) for name in COLUMNS}
        ).values_list(*[f"u_{name}" for name in COLUMNS])

    discounts = columns(OrderDiscount.objects, application=Value(0))
    applications = columns(
        VoucherApplication.objects, application=F("pk"), category=Value(""),
        offer_id=Value(None, IntegerField()), offer_name=Value(""), voucher_code=F("voucher__code"),
        frequency=Value(0), amount=Value(ZERO, money))
    # no ordering on the union: Django 6.1 would add the model's default ordering
    combined = discounts.union(applications, all=True).order_by()
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in combined]
    return ([row for row in rows if not row["application"]],
            [(row["application"], row["order_id"], row["voucher_id"], row["voucher_code"])
             for row in rows if row["application"]])


def release(items: Sequence) -> None:
    """Give back the voucher and offer usage of the whole-order cancellations among ``items``.

    No query when none of the orders used a discount (the engine's facts say so); one to read
    what they used, and one per voucher or offer used.
    """
    if not get_setting("OSCAR_ORDERCANCEL_RELEASE_VOUCHERS"):
        return
    full = {item.order.pk: item.cancellation for item in items
            if item.cancellation.is_full and getattr(item.ctx, "discounted", True)}
    if not full:
        return
    VoucherApplication = get_model("voucher", "VoucherApplication")
    Voucher = get_model("voucher", "Voucher")
    ConditionalOffer = get_model("offer", "ConditionalOffer")
    discounts, applications = _usage(list(full))
    if not discounts and not applications:
        return
    released: dict[int, list] = defaultdict(list)
    offers: dict[int, list] = defaultdict(lambda: [0, 0, ZERO])  # applications, orders, discount
    voucher_discount: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in discounts:
        if row["offer_id"]:
            counted = offers[row["offer_id"]]
            counted[0] += row["frequency"] or 0
            counted[1] += 1
            counted[2] += row["amount"] or ZERO
        if row["voucher_id"]:
            voucher_discount[row["voucher_id"]] += row["amount"] or ZERO
        released[row["order_id"]].append({
            "category": row["category"], "offer_id": row["offer_id"], "offer": row["offer_name"],
            "voucher_id": row["voucher_id"], "voucher": row["voucher_code"],
            "amount": str(row["amount"] or ZERO), "frequency": row["frequency"] or 0,
        })
    voucher_orders: dict[int, int] = defaultdict(int)
    for __, order_id, voucher_id, code in applications:
        voucher_orders[voucher_id] += 1
        released[order_id].append({"voucher_id": voucher_id, "voucher": code, "application": True})
    VoucherApplication.objects.filter(pk__in=[row[0] for row in applications]).delete()
    for voucher_id in set(voucher_orders) | set(voucher_discount):
        Voucher.objects.filter(pk=voucher_id).update(
            num_orders=_less("num_orders", voucher_orders.get(voucher_id, 0)),
            total_discount=_less("total_discount", voucher_discount.get(voucher_id, ZERO)))
    for offer_id, (applied, orders, amount) in offers.items():
        ConditionalOffer.objects.filter(pk=offer_id).update(
            num_applications=_less("num_applications", applied),
            num_orders=_less("num_orders", orders), total_discount=_less("total_discount", amount))
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    changed = []
    for order_id, given_back in released.items():
        cancellation = full[order_id]
        cancellation.vouchers_released = given_back
        changed.append(cancellation)
    OrderCancellation.objects.bulk_update(changed, ["vouchers_released"])


def record_again(original, new) -> None:
    """Count the usage that ``original``'s cancellations gave back once more, for ``new`` (its
    resubmission): the voucher applications, the vouchers' and offers' counters and the
    order's discounts, as checkout counted them."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
    released = [entry for given_back in OrderCancellation.objects.filter(order=original)
                .exclude(vouchers_released=[]).values_list("vouchers_released", flat=True)
                for entry in given_back or []]
    if not released:
        return
    VoucherApplication = get_model("voucher", "VoucherApplication")
    Voucher = get_model("voucher", "Voucher")
    ConditionalOffer = get_model("offer", "ConditionalOffer")
    OrderDiscount = get_model("order", "OrderDiscount")
    existing = {voucher.pk for voucher in Voucher.objects.filter(
        pk__in=[entry["voucher_id"] for entry in released if entry.get("voucher_id")])}
    existing_offers = set(ConditionalOffer.objects.filter(
        pk__in=[entry["offer_id"] for entry in released if entry.get("offer_id")])
        .values_list("pk", flat=True))
    for entry in released:
        voucher_id = entry.get("voucher_id") if entry.get("voucher_id") in existing else None
        if entry.get("application"):
            if voucher_id:
                VoucherApplication.objects.create(voucher_id=voucher_id, order=new,
                                                  user=new.user if new.user_id else None)
                Voucher.objects.filter(pk=voucher_id).update(num_orders=F("num_orders") + 1)
            continue
        amount = Decimal(entry.get("amount") or "0")
        if voucher_id:
            Voucher.objects.filter(pk=voucher_id).update(total_discount=F("total_discount") + amount)
        offer_id = entry.get("offer_id")
        if offer_id in existing_offers:
            ConditionalOffer.objects.filter(pk=offer_id).update(
                num_applications=F("num_applications") + entry.get("frequency", 0),
                num_orders=F("num_orders") + 1, total_discount=F("total_discount") + amount)
        OrderDiscount.objects.create(
            order=new, category=entry.get("category") or OrderDiscount.BASKET, offer_id=offer_id,
            offer_name=entry.get("offer") or "",
            voucher_id=voucher_id, voucher_code=entry.get("voucher") or "",
            frequency=entry.get("frequency") or 0, amount=amount)
