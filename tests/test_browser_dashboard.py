"""Shop staff cancel from the Oscar dashboard in a real browser (Chromium via Playwright)."""

from decimal import Decimal

import pytest
from django.conf import settings

from tests import factories
from tests.test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not any(app.startswith("oscar_ordercancel.dashboard.orders") for app in settings.INSTALLED_APPS),
        reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)"),
]

STAFF_PERMS = ["order.view_order", "order.change_order", "oscar_ordercancel.cancel_order"]


@pytest.fixture
def order_manager(db):
    """Staff who may view, change and cancel orders."""
    return factories.create_user("clerk@example.com", is_staff=True, perms=STAFF_PERMS)


def test_staff_cancel_one_line_of_a_multi_line_order(live_server, page, screenshot, order_manager):
    customer = factories.create_user("buyer@example.com")
    order = factories.place_order(customer, [("12.50", 2), ("4.99", 1), ("8.00", 1)])
    first = order.lines.order_by("pk").first()
    log_in(page, live_server, order_manager.email)

    page.goto(f"{live_server.url}/dashboard/orders/{order.number}/")
    page.check(f"input[name=selected_line][value='{first.pk}']")
    page.fill(f"input[name=selected_line_qty_{first.pk}]", "1")
    page.check("#cancel_lines_check")  # one of Oscar's line actions, in its own card
    assert page.locator("#order_lines_form button[type=submit]").count() == 1
    screenshot("dashboard-order-page")
    page.click("#order_lines_form button[type=submit]")

    page.wait_for_selector("#ordercancel-preview")  # the line action leads to the preview
    assert page.input_value(f"input[name=quantity_{first.pk}]") == "1"
    assert page.locator(".ordercancel-preview-qty").all_inner_texts() == ["1"]
    page.select_option("select[name=reason]", "customer")
    page.fill("textarea[name=note]", "Customer phoned: one shirt only")
    page.click("#ordercancel-preview-again")

    page.wait_for_selector("#ordercancel-preview")
    assert page.locator(".ordercancel-preview-qty").all_inner_texts() == ["1"]
    assert page.locator(".ordercancel-preview-stock").all_inner_texts() == ["1"]
    screenshot("dashboard-cancel-preview")
    page.click("#ordercancel-confirm")

    page.wait_for_selector("#ordercancel-history-tab")
    assert "The selected items of order" in page.content()
    page.click("#ordercancel-history-tab")
    page.wait_for_selector("#ordercancel-history-table", state="visible")
    assert "Customer phoned: one shirt only" in page.inner_text("#ordercancel-history-table")
    screenshot("dashboard-cancellation-history")

    order.refresh_from_db()
    first.refresh_from_db()
    assert order.status == "Pending" and first.stockrecord.num_allocated == 1
    cancellation = order.cancellations.get()
    assert cancellation.lines.get().quantity == 1 and cancellation.reason == "customer"


def test_the_cancel_line_action_offers_what_a_partly_shipped_line_can_cancel(
        live_server, page, order_manager):
    """Issue 13 item 8: the box offers (default and max) the cancellable 1, not the ordered 2."""
    customer = factories.create_user("socks@example.com")
    order = factories.place_order(customer, [("9.99", 2), ("6.50", 1)])
    first = order.lines.order_by("pk").first()
    factories.ship(order, first, 1)
    log_in(page, live_server, order_manager.email)

    page.goto(f"{live_server.url}/dashboard/orders/{order.number}/")
    box = page.locator(f"input[name=selected_line_qty_{first.pk}]")
    page.check(f"input[name=selected_line][value='{first.pk}']")
    assert box.input_value() == "2"  # Oscar's default, for Oscar's own actions
    page.check("#cancel_lines_check")
    assert (box.input_value(), box.get_attribute("max")) == ("1", "1")
    page.check("#shipping_event_check")
    assert (box.input_value(), box.get_attribute("max")) == ("2", None)
    page.check("#cancel_lines_check")
    page.click("#order_lines_form button[type=submit]")

    page.wait_for_selector("#ordercancel-preview")
    assert page.locator(".ordercancel-preview-qty").all_inner_texts() == ["1"]
    form_box = page.locator(f"input[name=quantity_{first.pk}]")
    assert (form_box.input_value(), form_box.get_attribute("max")) == ("1", "1")


def test_staff_cancel_a_paid_order_with_force_and_refund(live_server, page, screenshot, order_manager):
    customer = factories.create_user("payer@example.com")
    order = factories.place_order(customer, [("20.00", 1), ("5.00", 2)])
    factories.pay(order, debited=order.total_incl_tax)
    log_in(page, live_server, order_manager.email)

    page.goto(f"{live_server.url}/dashboard/orders/{order.number}/")
    page.click("#ordercancel-cancel-order")
    page.wait_for_selector("#ordercancel-staff-form")
    screenshot("dashboard-cancel-form")
    page.click("#ordercancel-preview-button")
    page.wait_for_selector("#ordercancel-error")
    assert "Payment has been taken: tick Force to cancel." in page.inner_text("#ordercancel-error")

    page.check("input[name=force]")
    page.check("input[name=refund]")
    page.click("#ordercancel-preview-button")
    page.wait_for_selector("#ordercancel-preview")
    assert "£30.00" in page.inner_text("#ordercancel-preview-refund")
    assert "£0.00" in page.inner_text("#ordercancel-preview-void")
    screenshot("dashboard-cancel-paid-preview")
    page.click("#ordercancel-confirm")
    page.wait_for_selector("#ordercancel-history-tab")

    order.refresh_from_db()
    assert order.status == "Cancelled"
    cancellation = order.cancellations.get()
    assert cancellation.forced and cancellation.refund_amount == Decimal("30.00")
    assert order.sources.get().amount_refunded == Decimal("30.00")


def test_staff_bulk_cancel_three_orders_and_one_is_refused(live_server, page, screenshot, order_manager):
    customer = factories.create_user("many@example.com")
    free = [factories.place_order(customer), factories.place_order(customer)]
    paid = factories.place_order(customer)
    factories.pay(paid, debited=paid.total_incl_tax)
    log_in(page, live_server, order_manager.email)

    page.goto(f"{live_server.url}/dashboard/orders/")
    for order in (*free, paid):
        page.check(f"input[name=selected_order][value='{order.pk}']")
    page.click("#ordercancel-bulk-cancel")

    page.wait_for_selector("#ordercancel-will-not-cancel")
    assert f"#{paid.number}: Payment has been taken" in page.inner_text("#ordercancel-will-not-cancel")
    assert page.locator("#ordercancel-will-cancel li").count() == 2
    page.select_option("select[name=reason]", "inventory")
    page.check("input[type=checkbox][required]")
    screenshot("dashboard-bulk-confirm")
    page.click("#ordercancel-bulk-apply")

    page.wait_for_selector("#ordercancel-bulk-summary")
    assert page.locator("#ordercancel-done li").count() == 2
    assert "Payment has been taken" in page.inner_text("#ordercancel-refused")
    screenshot("dashboard-bulk-done")
    for order in free:
        order.refresh_from_db()
        assert order.status == "Cancelled"
    paid.refresh_from_db()
    assert paid.status == "Pending"
