"""``manage.py load_demo_data``: a small demo shop with orders in every status of the pipeline.

Run it on a freshly migrated database. Orders are placed through Oscar's own
``OrderCreator`` (so stock is allocated exactly as at checkout), moved through
the pipeline with ``set_status`` and cancelled through
``oscar_ordercancel.services.cancel_order``. Running it again changes nothing:
when the admin user exists it only prints the logins.

Orders for each case of the EU withdrawal function follow (delivered 3 and 20 days
ago, shipped without a delivery, a custom print, a guest's), printed with what to try,
then unpaid bank-transfer orders about to expire, one past due and an invoice that never
expires (the sandbox's ``OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE``).

``--batch-orders N`` (``make sandbox`` passes 400) also places N one-line orders for a
wholesale customer and writes a CSV file that cancels them, to try the CSV batch pages on
a file big enough to watch the progress bar.
"""

from __future__ import annotations

import csv
import os
import warnings
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.sites.models import Site
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from oscar.core.loading import get_class, get_model

from oscar_ordercancel.compat import with_order_page_permissions
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.jobs.outbox import wake_ups_held
from oscar_ordercancel.services import cancel_order

ProductClass = get_model("catalogue", "ProductClass")
Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")
Partner = get_model("partner", "Partner")
StockRecord = get_model("partner", "StockRecord")
Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
Country = get_model("address", "Country")
ShippingAddress = get_model("order", "ShippingAddress")
ShippingEvent = get_model("order", "ShippingEvent")
ShippingEventType = get_model("order", "ShippingEventType")
PaymentEventType = get_model("order", "PaymentEventType")
OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")
Source = get_model("payment", "Source")
SourceType = get_model("payment", "SourceType")
OrderCreator = get_class("order.utils", "OrderCreator")
EventHandler = get_class("order.processing", "EventHandler")
OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
SurchargeApplicator = get_class("checkout.applicator", "SurchargeApplicator")
Selector = get_class("partner.strategy", "Selector")
FixedPrice = get_class("shipping.methods", "FixedPrice")
create_from_breadcrumbs = get_class("catalogue.categories", "create_from_breadcrumbs")

ADMIN = ("admin@example.com", "admin")
STAFF = ("staff@example.com", "staff")
CUSTOMER = ("customer@example.com", "customer")
SECOND = ("second@example.com", "customer")
WHOLESALE = ("wholesale@example.com", "customer")
GUEST_EMAIL = "guest@example.com"
WITHDRAW_GUEST_EMAIL = "guest.withdraw@example.com"
#: The product class without a right of withdrawal (the sandbox's
#: ``OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES``).
CUSTOM_PRINT = "custom-print"
STAFF_PERMISSIONS = (
    "oscar_ordercancel.cancel_order",
    "order.view_order",
    "order.change_order",
    # the package's own dashboard pages: status mappings and cancellation settings
    "oscar_ordercancel.view_orderstatusmapping",
    "oscar_ordercancel.add_orderstatusmapping",
    "oscar_ordercancel.change_orderstatusmapping",
    "oscar_ordercancel.delete_orderstatusmapping",
    "oscar_ordercancel.view_cancellationsettings",
    "oscar_ordercancel.change_cancellationsettings",
)
SHIPPING_CHARGE = Decimal("3.95")

# status: (ERP code, allow cancellation)
STATUS_MAPPINGS = {
    "Pending": ("ERP-10", True),
    "Being processed": ("ERP-20", False),
    "Cancellation requested": ("ERP-25", False),
    "Shipped": ("ERP-30", False),
    "Complete": ("ERP-40", False),
    "Cancelled": ("ERP-90", False),
}


def status_display_names() -> dict[str, str]:
    """What the shop calls each pipeline status (translated when the command runs)."""
    return {
        "Pending": _("Order received"),
        "Being processed": _("Being prepared"),
        "Cancellation requested": _("Cancellation requested"),
        "Shipped": _("On its way"),
        "Complete": _("Delivered"),
        "Cancelled": _("Cancelled"),
    }


def product_catalogue() -> list[tuple[str, str, str, int]]:
    """(key, title, price, num_in_stock) of the demo products."""
    return [
        ("mug", _("Enamel camping mug"), "12.00", 40),
        ("tee", _("Organic cotton T-shirt"), "18.50", 30),
        ("bottle", _("Steel water bottle"), "22.00", 25),
        ("socks", _("Merino hiking socks"), "9.99", 60),
        ("lamp", _("Solar desk lamp"), "34.90", 12),
        ("bag", _("Waxed canvas tote bag"), "45.00", 8),
        ("notebook", _("Dot-grid notebook"), "6.50", 100),
        ("kettle", _("Stovetop kettle"), "59.00", 4),
    ]


class Command(BaseCommand):
    help = "Load a demo shop (products, users, orders in every status) into the sandbox database."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8000")),
            help="Port the sandbox is served on: the site's domain, so e-mail links work.")
        parser.add_argument(
            "--batch-orders", type=int, default=0, metavar="N",
            help="Also place N pending orders for a wholesale customer, and write a CSV file "
                 "that cancels them (to try CSV batches).")
        parser.add_argument(
            "--batch-file", metavar="PATH",
            help="Where --batch-orders writes its CSV file "
                 "(default: MEDIA_ROOT/demo/cancel-wholesale-orders.csv).")

    def handle(self, *args, **options):
        User = get_user_model()
        self.base = f"http://127.0.0.1:{options['port']}"
        if User.objects.filter(email__iexact=ADMIN[0]).exists():
            self.stdout.write("Demo data is already loaded; nothing to do.")
            self.setup_site_domain()
            self.print_logins()
            return
        with (
            translation.override(settings.LANGUAGE_CODE),
            transaction.atomic(),
            warnings.catch_warnings(),
        ):
            # Haystack's simple backend warns on every product saved; it needs no index.
            warnings.filterwarnings("ignore", message="update is not implemented")
            self.now = timezone.now()
            self.setup_site()
            self.setup_users()
            self.setup_catalogue()
            self.setup_status_mappings()
            self.place_orders()
            self.place_withdrawal_orders()
            self.place_expiry_orders()
            if options["batch_orders"] > 0:
                self.place_batch_orders(options["batch_orders"])
        self.print_orders()
        self.print_withdrawal_orders()
        self.print_expiry_orders()
        if options["batch_orders"] > 0:
            self.write_batch_file(options["batch_file"] or os.path.join(
                settings.MEDIA_ROOT, "demo", "cancel-wholesale-orders.csv"))
        self.print_logins()

    # -- shop --------------------------------------------------------------

    def setup_site_domain(self) -> None:
        Site.objects.update_or_create(
            pk=settings.SITE_ID,
            defaults={"domain": self.base.split("://", 1)[1], "name": settings.OSCAR_SHOP_NAME},
        )
        Site.objects.clear_cache()

    def setup_site(self) -> None:
        self.setup_site_domain()
        self.country, __ = Country.objects.get_or_create(
            iso_3166_1_a2="GB",
            defaults={
                "iso_3166_1_a3": "GBR", "iso_3166_1_numeric": "826",
                "printable_name": _("United Kingdom"),
                "name": _("United Kingdom of Great Britain and Northern Ireland"),
                "is_shipping_country": True,
            },
        )

    def setup_users(self) -> None:
        User = get_user_model()
        self.admin = User.objects.create_superuser(
            username="admin", email=ADMIN[0], password=ADMIN[1],
            first_name="Ada", last_name="Admin",
        )
        self.staff = User.objects.create_user(
            username="staff", email=STAFF[0], password=STAFF[1], is_staff=True,
            first_name="Sam", last_name="Staff",
        )
        for perm in with_order_page_permissions(STAFF_PERMISSIONS):
            app_label, codename = perm.split(".")
            self.staff.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        self.customer = User.objects.create_user(
            username="customer", email=CUSTOMER[0], password=CUSTOMER[1],
            first_name="Chris", last_name="Customer",
        )
        self.second = User.objects.create_user(
            username="second", email=SECOND[0], password=SECOND[1],
            first_name="Sasha", last_name="Second",
        )

    def setup_catalogue(self) -> None:
        product_class, __ = ProductClass.objects.get_or_create(
            name=_("Outdoor goods"), defaults={"track_stock": True, "requires_shipping": True}
        )
        self.partner, __ = Partner.objects.get_or_create(name=_("Demo warehouse"))
        category = create_from_breadcrumbs(_("Outdoor goods"))
        self.products = {}
        for index, (key, title, price, stock) in enumerate(product_catalogue(), start=1):
            product = Product.objects.create(
                product_class=product_class, title=title, upc=f"DEMO-{index:03d}",
                structure=Product.STANDALONE, is_public=True,
                description=_("A demo product of the oscar-ordercancel sandbox."),
            )
            ProductCategory.objects.create(product=product, category=category)
            StockRecord.objects.create(
                product=product, partner=self.partner, partner_sku=f"SKU-{key.upper()}",
                price=Decimal(price), price_currency=settings.OSCAR_DEFAULT_CURRENCY,
                num_in_stock=stock,
            )
            self.products[key] = product
        self.setup_custom_prints()

    def setup_custom_prints(self) -> None:
        """A product class made to the customer's order: no right of withdrawal (Art. 16)."""
        product_class, __ = ProductClass.objects.get_or_create(
            slug=CUSTOM_PRINT,
            defaults={"name": _("Custom print"), "track_stock": True, "requires_shipping": True},
        )
        category = create_from_breadcrumbs(_("Custom prints"))
        product = Product.objects.create(
            product_class=product_class, title=_("Custom photo print on canvas"),
            upc=f"DEMO-{len(self.products) + 1:03d}", structure=Product.STANDALONE,
            is_public=True,
            description=_("Printed from the customer's own photo: it cannot be withdrawn from."),
        )
        ProductCategory.objects.create(product=product, category=category)
        StockRecord.objects.create(
            product=product, partner=self.partner, partner_sku="SKU-PRINT",
            price=Decimal("29.00"), price_currency=settings.OSCAR_DEFAULT_CURRENCY,
            num_in_stock=20,
        )
        self.products["print"] = product

    def setup_status_mappings(self) -> None:
        names = status_display_names()
        for status in settings.OSCAR_ORDER_STATUS_PIPELINE:
            code, allowed = STATUS_MAPPINGS.get(status, ("", False))
            OrderStatusMapping.objects.update_or_create(
                status=status,
                defaults={
                    "display_name": names.get(status, status),
                    "erp_status_code": code,
                    "allow_cancellation": allowed,
                },
            )

    # -- orders ------------------------------------------------------------

    def place(self, user, items, *, days_ago=0, hours_ago=0, minutes_ago=0, guest_email=None):
        """Place an order of ``items`` ((product key, quantity), ...) through OrderCreator."""
        basket = Basket.objects.create(owner=user)
        basket.strategy = Selector().strategy(user=user)
        for key, quantity in items:
            basket.add_product(self.products[key], quantity=quantity)
        owner = user or get_user_model()(first_name="Gale", last_name="Guest")
        address = ShippingAddress.objects.create(
            first_name=owner.first_name, last_name=owner.last_name,
            line1=_("1 Demo Street"), line4=_("London"), postcode="SW1A 1AA",
            country=self.country, phone_number="+442079460000",
        )
        method = FixedPrice(SHIPPING_CHARGE, SHIPPING_CHARGE)
        charge = method.calculate(basket)
        surcharges = SurchargeApplicator().get_applicable_surcharges(basket)
        total = OrderTotalCalculator().calculate(basket, charge, surcharges)
        extra = {"guest_email": guest_email} if guest_email else {}
        order = OrderCreator().place_order(
            basket=basket, total=total, user=user, shipping_address=address,
            shipping_method=method, shipping_charge=charge, surcharges=surcharges,
            date_placed=self.now - timedelta(days=days_ago, hours=hours_ago, minutes=minutes_ago),
            **extra,
        )
        basket.set_as_submitted()
        return order

    def pay(self, order, *, debit=False) -> None:
        """Authorise the order total on a card (and with ``debit``, take the money)."""
        source_type, __ = SourceType.objects.get_or_create(
            code="card", defaults={"name": _("Card")}
        )
        source = Source.objects.create(
            order=order, source_type=source_type, currency=order.currency,
            reference=f"DEMO-CARD-{order.number}",
        )
        source.allocate(order.total_incl_tax, reference=f"AUTH-{order.number}")
        if debit:
            source.debit(order.total_incl_tax, reference=f"CAPTURE-{order.number}")
            event_type, __ = PaymentEventType.objects.get_or_create(
                code="paid", defaults={"name": _("Paid")}
            )
            lines = list(order.lines.order_by("pk"))
            EventHandler().handle_payment_event(
                order, event_type, order.total_incl_tax, lines,
                [line.quantity for line in lines], reference=f"CAPTURE-{order.number}",
            )

    def ship(self, order, quantities=None, *, days_ago=None) -> None:
        """Ship the given ``{line index: quantity}`` (default: everything) the Oscar way."""
        event_type, __ = ShippingEventType.objects.get_or_create(
            code="shipped", defaults={"name": _("Shipped")}
        )
        lines = list(order.lines.order_by("pk"))
        if quantities is None:
            quantities = {index: line.quantity for index, line in enumerate(lines)}
        shipped = [lines[index] for index in quantities]
        counts = list(quantities.values())
        handler = EventHandler(self.staff)
        event = handler.handle_shipping_event(order, event_type, shipped, counts)
        handler.consume_stock_allocations(order, shipped, counts)
        if days_ago is not None:
            self.backdate(event, days_ago)

    def deliver(self, order, *, days_ago=0) -> None:
        """Record the delivery of the whole (shipped) order: a "delivered" shipping event.

        Its type code is the one ``OSCAR_ORDERCANCEL_WITHDRAWAL_DELIVERED_EVENT_TYPES``
        names, so the withdrawal period runs from it. The stock was consumed at shipping.
        """
        event_type, __ = ShippingEventType.objects.get_or_create(
            code="delivered", defaults={"name": _("Delivered")}
        )
        lines = list(order.lines.order_by("pk"))
        event = EventHandler(self.staff).handle_shipping_event(
            order, event_type, lines, [line.quantity for line in lines])
        self.backdate(event, days_ago)

    def backdate(self, event, days_ago) -> None:
        """Date a shipping event ``days_ago`` days back (Oscar dates it now)."""
        ShippingEvent.objects.filter(pk=event.pk).update(
            date_created=self.now - timedelta(days=days_ago))

    def move(self, order, *statuses) -> None:
        """Move ``order`` along the pipeline through ``statuses`` (only allowed transitions)."""
        handler = EventHandler(self.staff)
        for status in statuses:
            handler.handle_order_status_change(order, status)

    def place_orders(self) -> None:
        customer, second, admin, staff = self.customer, self.second, self.admin, self.staff
        self.orders = []

        def note(order, text):
            self.orders.append((order, text))
            return order

        # Pending orders the customer may still cancel (inside the 30-day window).
        order = note(self.place(customer, [("mug", 2), ("tee", 1)], days_ago=2),
                     "pending, 2 lines, card authorised: customer can cancel (voids)")
        self.pay(order)
        note(self.place(customer, [("notebook", 3)], hours_ago=3),
             "pending, unpaid: customer can cancel")
        order = note(self.place(customer, [("lamp", 1), ("socks", 2), ("bottle", 1)], days_ago=1),
                     "pending, 3 lines, paid: needs a forced cancel by staff (refund)")
        self.pay(order, debit=True)
        order = note(self.place(customer, [("socks", 2), ("notebook", 1)], days_ago=3),
                     "pending, partly shipped (1 of 2 socks): only lines can be cancelled")
        self.ship(order, {0: 1})
        # Pending, but placed before the customer window: staff only.
        note(self.place(customer, [("bag", 1)], days_ago=45),
             "pending, placed 45 days ago: outside the customer's 30-day window")
        # Partial cancellation by staff on the customer's behalf.
        order = note(self.place(customer, [("mug", 2), ("bottle", 1)], days_ago=6),
                     "pending, 1 mug cancelled by staff for the customer (partial)")
        self.pay(order)
        mug = order.lines.order_by("pk").first()
        cancel_order(order, user=staff, lines={mug: 1}, channel="dashboard", reason="customer",
                     note=_("Customer phoned: only one mug wanted."), on_behalf_of=customer,
                     notify_customer=False)
        # Further along the pipeline.
        order = note(self.place(customer, [("kettle", 1), ("tee", 2)], days_ago=4),
                     "being processed, card authorised")
        self.pay(order)
        self.move(order, "Being processed")
        order = note(self.place(customer, [("bottle", 2)], days_ago=12), "shipped, paid")
        self.pay(order, debit=True)
        self.move(order, "Being processed")
        self.ship(order)
        self.move(order, "Shipped")
        order = note(self.place(customer, [("tee", 1), ("socks", 3)], days_ago=60),
                     "complete, paid, 2 lines")
        self.pay(order, debit=True)
        self.move(order, "Being processed")
        self.ship(order)
        self.move(order, "Shipped", "Complete")
        # Cancelled by the system (out of stock): allocations released, authorisation voided.
        order = note(self.place(customer, [("lamp", 1), ("mug", 1)], days_ago=8),
                     "cancelled by the system: out of stock; staff can resubmit it as a new order")
        self.pay(order)
        cancel_order(order, user=admin, channel="system", reason="inventory",
                     notify_customer=False)

        # The second customer.
        note(self.place(second, [("notebook", 2), ("socks", 1)], hours_ago=1),
             "pending, 2 lines: customer can cancel")
        order = note(self.place(second, [("bag", 1)], days_ago=2),
                     "cancellation requested by the customer, awaiting the ERP")
        self.request_cancellation(order, second)
        order = note(self.place(second, [("mug", 3), ("lamp", 1)], days_ago=5),
                     "being processed, partly shipped (1 of 3 mugs), paid")
        self.pay(order, debit=True)
        self.move(order, "Being processed")
        self.ship(order, {0: 1})
        order = note(self.place(second, [("tee", 1)], days_ago=9),
                     "cancelled by the customer in their account")
        cancel_order(order, user=second, channel="customer", reason="customer",
                     notify_customer=False)

        # A guest checkout.
        order = note(self.place(None, [("kettle", 1), ("notebook", 2)], days_ago=1,
                                guest_email=GUEST_EMAIL),
                     f"guest order ({GUEST_EMAIL}), pending, card authorised")
        self.pay(order)

    def place_withdrawal_orders(self) -> None:
        """Orders for each case of the EU withdrawal function ("withdraw from contract here")."""
        customer = self.customer
        self.withdrawal_orders = []

        def note(order, text):
            self.withdrawal_orders.append((order, text))
            return order

        order = note(self.place(customer, [("tee", 1), ("socks", 2)], days_ago=6),
                     "delivered 3 days ago: withdrawable; its lines await the return")
        self.pay(order, debit=True)
        self.move(order, "Being processed")
        self.ship(order, days_ago=5)
        self.move(order, "Shipped")
        self.deliver(order, days_ago=3)
        self.move(order, "Complete")
        order = note(self.place(customer, [("bottle", 1)], days_ago=25),
                     "delivered 20 days ago: refused, the 14-day period has passed")
        self.pay(order, debit=True)
        self.move(order, "Being processed")
        self.ship(order, days_ago=23)
        self.move(order, "Shipped")
        self.deliver(order, days_ago=20)
        self.move(order, "Complete")
        order = note(self.place(customer, [("mug", 1), ("notebook", 2)], days_ago=4),
                     "shipped 2 days ago, no delivery recorded: withdrawable (period starts "
                     "after 7 days' transit); its lines await the return")
        self.pay(order, debit=True)
        self.move(order, "Being processed")
        self.ship(order, days_ago=2)
        self.move(order, "Shipped")
        order = note(self.place(customer, [("print", 1)], days_ago=1),
                     "custom print only (1 line), not shipped: refused, custom prints "
                     "cannot be withdrawn from")
        self.pay(order)
        order = note(self.place(customer, [("print", 1), ("notebook", 2)], days_ago=2),
                     "custom print + notebooks (2 lines), not shipped: only the notebooks "
                     "can be withdrawn (cancelled at once)")
        self.pay(order)
        order = note(self.place(None, [("mug", 1), ("socks", 1)], days_ago=1,
                                guest_email=WITHDRAW_GUEST_EMAIL),
                     "guest order, paid, not shipped: withdraw with the order number and "
                     "this e-mail; it is cancelled at once (refunded)")
        self.pay(order, debit=True)

    def place_expiry_orders(self) -> None:
        """Unpaid orders: bank transfers expire 3 days after placing (reminded 1 day before),
        invoices never (the sandbox settings); the worker's beat sweeps every minute."""
        customer, second = self.customer, self.second
        self.expiry_orders = []

        def unpaid(user, items, code, name, text, **placed):
            order = self.place(user, items, **placed)
            source_type, __ = SourceType.objects.get_or_create(code=code, defaults={"name": name})
            Source.objects.create(order=order, source_type=source_type, currency=order.currency,
                                  reference=f"DEMO-{code.upper()}-{order.number}")
            self.expiry_orders.append((order, text))

        transfer = ("bank-transfer", _("Bank transfer"))
        unpaid(customer, [("mug", 1)], *transfer,
               "bank transfer, placed 4 days ago: past due, cancelled by the first sweep", days_ago=4)
        unpaid(customer, [("notebook", 2)], *transfer,
               "bank transfer: expires about 10 minutes after loading (reminded at once)",
               days_ago=2, hours_ago=23, minutes_ago=50)
        unpaid(second, [("socks", 1), ("tee", 1)], *transfer,
               "bank transfer: expires in 12 hours (reminded at the first sweep)",
               days_ago=2, hours_ago=12)
        unpaid(customer, [("bottle", 1)], *transfer,
               "bank transfer, placed 10 hours ago: expires in 2 days 14 hours", hours_ago=10)
        unpaid(second, [("mug", 2)], "invoice", _("Invoice"),
               "invoice, placed 20 days ago: never expires (lifetime None)", days_ago=20)

    def print_expiry_orders(self) -> None:
        """The unpaid demo orders, with when each expires."""
        self.stdout.write("Unpaid orders (bank transfers expire after 3 days; the sweep runs "
                          "every minute beside the server, or: manage.py expire_unpaid_orders):")
        for order, text in self.expiry_orders:
            order.refresh_from_db()
            who = order.user.email if order.user_id else order.guest_email
            self.stdout.write(f"  {order.number}  {order.status:<24} {who:<26} {text}")

    def place_batch_orders(self, count: int) -> None:
        """``count`` one-line pending orders of a wholesale customer, for a CSV batch."""
        User = get_user_model()
        wholesale = User.objects.create_user(
            username="wholesale", email=WHOLESALE[0], password=WHOLESALE[1],
            first_name="Wren", last_name="Wholesale",
        )
        keys = ("notebook", "socks", "mug")
        StockRecord.objects.filter(product__in=[self.products[key] for key in keys]).update(
            num_in_stock=F("num_in_stock") + count)
        self.batch_orders = [
            self.place(wholesale, [(keys[index % len(keys)], 1 + index % 2)],
                       hours_ago=count - index)
            for index in range(count)
        ]

    def write_batch_file(self, path: str) -> None:
        """A CSV file that cancels the wholesale orders, plus two rows the preview refuses."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # the latest shipped demo order (the withdrawal demo's, shipped 2 days ago)
        shipped = Order.objects.filter(status="Shipped").order_by("-date_placed").first()
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["order_number", "reason", "note"])
            for index, order in enumerate(self.batch_orders):
                note = "=HYPERLINK(\"http://example.com\")" if index == 2 else (
                    "Wholesale customer cancelled the whole delivery." if index == 0 else "")
                writer.writerow([order.number, "customer", note])
            writer.writerow([shipped.number, "customer", ""])  # refused: already shipped
            writer.writerow(["999999", "customer", ""])  # refused: no such order
        self.stdout.write(
            f"A CSV batch of {len(self.batch_orders) + 2} rows to try: upload {path}\n"
            f"  at {self.base}{reverse('ordercancel_dashboard:ordercancel-batch-upload')}")

    def request_cancellation(self, order, user) -> None:
        """A customer's cancellation request that waits for the cancel processors."""
        requested = get_setting("OSCAR_ORDERCANCEL_REQUESTED_STATUS")
        try:
            # (held: with processors configured and eager Celery, the ERP would answer at once)
            with override_settings(OSCAR_ORDERCANCEL_MODE="request"), wake_ups_held():
                cancel_order(order, user=user, channel="customer", reason="customer",
                             comment=_("Ordered the wrong colour."), notify_customer=False)
        except CancellationError as exc:
            self.stderr.write(f"Request-mode cancellation refused ({exc.code}); "
                              f"setting the status '{requested}' directly.")
            self.move(order, requested)

    # -- output ------------------------------------------------------------

    def print_orders(self) -> None:
        self.stdout.write("Demo orders:")
        seen = set()
        for order, text in self.orders:
            order.refresh_from_db()
            seen.add(order.status)
            who = order.user.email if order.user_id else order.guest_email
            self.stdout.write(f"  {order.number}  {order.status:<24} {who:<22} {text}")
            if not order.user_id:
                path = reverse("customer:anon-order", kwargs={
                    "order_number": order.number, "hash": order.verification_hash()})
                self.stdout.write(f"      guest order page (enter {order.guest_email}): {self.base}{path}")
        missing = [s for s in settings.OSCAR_ORDER_STATUS_PIPELINE if s not in seen]
        if missing:
            self.stderr.write(f"Warning: no demo order in status {', '.join(missing)}")

    def print_withdrawal_orders(self) -> None:
        """The withdrawal demo orders, with what to try on each."""
        withdraw = reverse("oscar_ordercancel:withdraw")
        self.stdout.write(
            f"Withdrawal demo orders (\"withdraw from contract here\"): as {CUSTOMER[0]} from the "
            f"order page, or by anyone at {self.base}{withdraw} with the order number and e-mail:")
        if not get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED"):
            self.stdout.write("  (OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED is off: these pages are 404)")
        for order, text in self.withdrawal_orders:
            order.refresh_from_db()
            who = order.user.email if order.user_id else order.guest_email
            self.stdout.write(f"  {order.number}  {order.status:<24} {who:<26} {text}")
            if order.user_id:
                path = reverse("oscar_ordercancel:order-withdraw",
                               kwargs={"order_number": order.number})
            else:
                path = f"{withdraw}?order={order.number}"
            self.stdout.write(f"      withdraw: {self.base}{path}")

    def print_logins(self) -> None:
        base = self.base
        self.stdout.write(self.style.SUCCESS("Sandbox logins:"))
        rows = [
            ("staff", STAFF, f"{base}/dashboard/orders/"),
            ("customer", CUSTOMER, f"{base}/accounts/login/"),
            ("customer", SECOND, f"{base}/accounts/login/"),
            *([("customer", WHOLESALE, f"{base}/accounts/login/")]
              if get_user_model().objects.filter(email=WHOLESALE[0]).exists() else []),
            ("admin", ADMIN, f"{base}/dashboard/  (Django admin: {base}/admin/, admin / admin)"),
        ]
        for role, (email, password), url in rows:
            login = f"{email} / {password}"
            self.stdout.write(f"  {role:<9} {login:<33} {url}")
