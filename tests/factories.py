"""Test data built through Oscar's own checkout code (real allocations)."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_ordercancel.compat import GUEST_ORDER_EMAIL_CHECK, with_order_page_permissions

Basket = get_model("basket", "Basket")
Source = get_model("payment", "Source")
SourceType = get_model("payment", "SourceType")
ShippingEventType = get_model("order", "ShippingEventType")


TITLES = ["Linen shirt", "Travel mug", "Wool scarf", "Notebook", "Desk lamp", "Tea towel"]


def create_user(email, password="password", perms=(), *, order_pages=True, **kwargs):
    """A user who logs in with ``email`` / ``password``, with ``perms`` ("app.codename").

    ``order.view_order`` (what Oscar 4.2's order pages need) brings what the installed
    Oscar release needs for them (every order permission on Oscar 4.0 and 4.1, which
    includes ``order.change_order``, a cancel permission) unless ``order_pages`` is false:
    then the user has exactly ``perms``, the way to write staff who may not cancel.
    """
    user = get_user_model().objects.create_user(
        username=email.split("@")[0], email=email, password=password, **kwargs
    )
    for perm in (with_order_page_permissions(perms) if order_pages else perms):
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return get_user_model().objects.get(pk=user.pk)


def place_order(user=None, items=(("10.00", 1),), *, num_in_stock=20, partner=None, **kwargs):
    """Place an order of ``items`` (price, quantity) through Oscar's OrderCreator."""
    basket = Basket.objects.create(owner=user)
    basket.strategy = Default()
    for index, (price, quantity) in enumerate(items):
        product = create_product(title=TITLES[index % len(TITLES)])
        create_stockrecord(product, price=Decimal(price), num_in_stock=num_in_stock,
                           **({"partner_name": partner} if partner else {}))
        basket.add_product(product, quantity=quantity)
    return create_order(basket=basket, user=user, **kwargs)


def pay(order, allocated=None, debited=Decimal("0.00")):
    """Record a payment source: ``allocated`` authorised (default: the total), ``debited`` taken."""
    source_type, __ = SourceType.objects.get_or_create(name="Card")
    return Source.objects.create(
        order=order, source_type=source_type, currency=order.currency,
        amount_allocated=order.total_incl_tax if allocated is None else Decimal(allocated),
        amount_debited=Decimal(debited),
    )


def ship(order, line, quantity, event="Shipped"):
    """Ship ``quantity`` of ``line`` the Oscar way: a shipping event and consumed allocation."""
    EventHandler = get_class("order.processing", "EventHandler")
    event_type, __ = ShippingEventType.objects.get_or_create(name=event)
    handler = EventHandler()
    handler.handle_shipping_event(order, event_type, [line], [quantity])
    handler.consume_stock_allocations(order, [line], [quantity])


def open_guest_order(client, order, email="guest@example.com"):
    """Open a guest's order-status page as its e-mail link does; return the page's URL.

    From Oscar 4.1 the guest first confirms the order's e-mail address (a form that
    keeps it in the session); Oscar 4.0 opens the page on its signed hash alone.
    """
    kwargs = {"order_number": order.number, "hash": order.verification_hash()}
    if GUEST_ORDER_EMAIL_CHECK:
        client.post(reverse("customer:anon-order-form", kwargs=kwargs), {"email": email})
    return reverse("customer:anon-order", kwargs=kwargs)


def snapshot(order):
    """Everything a cancellation may touch, to assert that nothing changed."""
    OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")

    order.refresh_from_db()
    lines = list(order.lines.select_related("stockrecord").order_by("pk"))
    return {
        "status": order.status,
        "lines": [(line.status, line.num_allocated, line.allocation_cancelled) for line in lines],
        "stock": [line.stockrecord.num_allocated for line in lines],
        "sources": list(Source.objects.filter(order=order).values_list(
            "amount_allocated", "amount_debited", "amount_refunded")),
        "cancellations": OrderCancellation.objects.filter(order=order).count(),
        "notes": order.notes.count(),
        "payment_events": order.payment_events.count(),
        "totals": (order.total_incl_tax, order.total_excl_tax),
    }
