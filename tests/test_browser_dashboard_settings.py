"""Shop staff in a real browser (Chromium via Playwright): status mappings, settings, resubmit."""

import re
from decimal import Decimal

import pytest
from oscar.core.loading import get_class, get_model
from oscar.test.factories import ShippingAddressFactory

from oscar_ordercancel.models import CancellationSettings, OrderStatusMapping
from oscar_ordercancel.services import cancel_order
from tests import factories
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Order = get_model("order", "Order")
FixedPrice = get_class("shipping.methods", "FixedPrice")

STAFF_PERMS = [
    "oscar_ordercancel.cancel_order", "order.view_order", "order.change_order",
    "oscar_ordercancel.view_orderstatusmapping", "oscar_ordercancel.add_orderstatusmapping",
    "oscar_ordercancel.change_orderstatusmapping", "oscar_ordercancel.delete_orderstatusmapping",
    "oscar_ordercancel.view_cancellationsettings", "oscar_ordercancel.change_cancellationsettings",
]

MAPPINGS = [
    ("Pending", "Order received", "ERP-10", True),
    ("Being processed", "Being prepared", "ERP-20", True),
    ("Shipped", "On its way", "ERP-30", False),
    ("Complete", "Delivered", "ERP-40", False),
    ("Cancelled", "Cancelled", "ERP-90", False),
]


@pytest.fixture
def staff_member(db):
    return factories.create_user("manager@example.com", is_staff=True, perms=STAFF_PERMS,
                                 first_name="Sam", last_name="Staff")


def test_staff_edit_a_status_mapping_and_the_settings(live_server, page, screenshot, staff_member):
    for status, name, code, allowed in MAPPINGS:
        OrderStatusMapping.objects.create(status=status, display_name=name, erp_status_code=code,
                                          allow_cancellation=allowed)
    log_in(page, live_server, staff_member.email)

    page.goto(f"{live_server.url}/dashboard/")
    page.click("a.dropdown-toggle:has-text('Cancellations')")
    menu = page.locator("a.dropdown-toggle:has-text('Cancellations') + .dropdown-menu")
    assert menu.locator("a.dropdown-item").all_inner_texts() == [
        "Cancel orders", "CSV batches", "Cancel jobs", "Withdrawals", "Cancellation report",
        "Order status mappings", "Cancellation settings"]
    screenshot("dashboard-menu")
    menu.locator("a:has-text('Order status mappings')").click()
    page.wait_for_selector("table")
    assert page.title().startswith("Order status mappings | ")
    assert page.inner_text("h1") == "Order status mappings"
    assert page.locator(".breadcrumb li").all_inner_texts() == ["Dashboard", "Order status mappings"]
    assert "ERP-20" in page.content()
    assert page.locator("#ordercancel-no-processors").is_visible()
    screenshot("dashboard-status-mappings")

    page.click("a.mapping-edit-link:has-text('Being processed')")
    page.wait_for_selector("#mapping-form")
    page.fill("input[name=display_name]", "In the warehouse")
    page.fill("input[name=erp_status_code]", "WMS-PICK")
    page.uncheck("input[name=allow_cancellation]")
    screenshot("dashboard-status-mapping-edit")
    page.click("#save-mapping")
    page.wait_for_selector("text=The mapping of “Being processed” was saved.")
    mapping = OrderStatusMapping.objects.get(status="Being processed")
    assert (mapping.display_name, mapping.erp_status_code, mapping.allow_cancellation) == (
        "In the warehouse", "WMS-PICK", False)
    assert "WMS-PICK" in page.locator("table").inner_text()

    # The settings page: make "Being processed" cancellable; its mapping now forbids it.
    page.goto(f"{live_server.url}/dashboard/ordercancel/settings/")
    page.wait_for_selector("#settings-form")
    assert "Inherited from OSCAR_ORDERCANCEL_CUSTOMER_WINDOW: 30 days" in page.content()
    page.check("input[name=cancellable_statuses][value='Pending']")
    page.check("input[name=cancellable_statuses][value='Being processed']")
    page.select_option("select[name=allow_customer_cancellation]", "yes")
    page.fill("input[name=customer_window_0]", "14")
    page.select_option("select[name=customer_window_1]", "days")
    page.click("#save-settings")
    page.wait_for_selector("#ordercancel-settings-warnings")
    assert "its status mapping does not allow cancellation" in page.locator(
        "#ordercancel-settings-warnings").inner_text()
    screenshot("dashboard-settings")
    row = CancellationSettings.objects.get()
    assert row.cancellable_statuses == ["Pending", "Being processed"]
    assert row.allow_customer_cancellation is True
    assert row.customer_window.days == 14

    # A negative window is refused on the form and nothing changes.
    page.fill("input[name=customer_window_0]", "-3")
    page.eval_on_selector("input[name=customer_window_0]", "el => el.removeAttribute('min')")
    page.click("#save-settings")
    page.wait_for_selector("text=The window cannot be negative.")
    row.refresh_from_db()
    assert row.customer_window.days == 14


def test_staff_resubmit_a_cancelled_order_and_open_the_new_one(live_server, page, screenshot,
                                                              staff_member):
    customer = factories.create_user("shopper@example.com", first_name="Chris", last_name="Customer")
    order = factories.place_order(
        customer, [("12.50", 2), ("4.99", 1)],
        shipping_address=ShippingAddressFactory(first_name="Chris", last_name="Customer",
                                                line1="1 Demo Street", line4="London",
                                                postcode="SW1A 1AA"),
        shipping_method=FixedPrice(Decimal("3.95"), Decimal("3.95")),
    )
    cancel_order(order, user=staff_member, channel="dashboard", reason="inventory")
    log_in(page, live_server, staff_member.email)

    page.goto(f"{live_server.url}/dashboard/ordercancel/orders/{order.number}/resubmit/")
    page.wait_for_selector("#resubmit-lines")
    rows = page.locator("#resubmit-lines tbody tr")
    assert rows.count() == 2
    assert "No payment is recorded on the new order" in page.content()
    screenshot("dashboard-resubmit")

    page.click("#confirm-resubmit")
    page.wait_for_url(re.compile(r"/dashboard/orders/\d+/$"))
    new = Order.objects.exclude(pk=order.pk).get()
    assert page.url.endswith(f"/dashboard/orders/{new.number}/")
    text = page.content()
    assert f"Cancelled order {order.number} was resubmitted as new order {new.number}" in text
    assert [line.quantity for line in new.lines.order_by("pk")] == [2, 1]
    assert new.total_incl_tax == order.total_incl_tax
    assert [line.stockrecord.num_allocated for line in new.lines.order_by("pk")] == [2, 1]
