"""Generate many pending orders with allocated stock quickly (bulk inserts, not checkout)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.sites.models import Site
from django.db.models import F
from django.utils import timezone
from oscar.core.loading import get_model

Order = get_model("order", "Order")
Line = get_model("order", "Line")
Partner = get_model("partner", "Partner")
StockRecord = get_model("partner", "StockRecord")
ProductClass = get_model("catalogue", "ProductClass")
Product = get_model("catalogue", "Product")


def make_catalogue(n_products: int = 30) -> list:
    """Stock-tracked products with plenty of stock; returns their stock records."""
    product_class, __ = ProductClass.objects.get_or_create(name="Bench", defaults={"track_stock": True})
    partner, __ = Partner.objects.get_or_create(name="Bench partner")
    records = []
    for i in range(n_products):
        product = Product.objects.create(title=f"Bench product {i}", product_class=product_class,
                                         upc=f"BENCH-{i}-{Product.objects.count()}")
        records.append(StockRecord.objects.create(
            product=product, partner=partner, partner_sku=f"SKU-{product.pk}",
            price=Decimal("10.00"), num_in_stock=10_000_000, num_allocated=0))
    return records


def make_orders(user, records: list, n_orders: int, n_lines: int, prefix: str) -> list:
    """``n_orders`` pending orders of ``n_lines`` lines each, their stock allocated."""
    site = Site.objects.get_current()
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(number=f"{prefix}{i:06d}", site=site, user=user, currency="GBP",
              total_incl_tax=Decimal("10.00") * n_lines, total_excl_tax=Decimal("10.00") * n_lines,
              shipping_incl_tax=0, shipping_excl_tax=0, status="Pending", date_placed=now)
        for i in range(n_orders)
    )
    lines, allocated = [], {}
    for index, order in enumerate(orders):
        for j in range(n_lines):
            record = records[(index + j) % len(records)]
            lines.append(Line(
                order=order, partner=record.partner, partner_name=record.partner.name,
                partner_sku=record.partner_sku, stockrecord=record, product=record.product,
                title=record.product.title, quantity=1, status="Pending", num_allocated=1,
                line_price_incl_tax=Decimal("10.00"), line_price_excl_tax=Decimal("10.00"),
                line_price_before_discounts_incl_tax=Decimal("10.00"),
                line_price_before_discounts_excl_tax=Decimal("10.00"),
                unit_price_incl_tax=Decimal("10.00"), unit_price_excl_tax=Decimal("10.00"),
            ))
            allocated[record.pk] = allocated.get(record.pk, 0) + 1
    Line.objects.bulk_create(lines, batch_size=2000)
    for pk, qty in allocated.items():
        StockRecord.objects.filter(pk=pk).update(num_allocated=F("num_allocated") + qty)
    return orders
