"""A customer in a real browser (Chromium via Playwright) against the live shop."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, email, password="password"):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_login-username", email)
    page.fill("#id_login-password", password)
    page.click("button[name=login_submit]")
    page.wait_for_load_state()


def test_a_customer_cancels_an_order_with_a_reason(live_server, page, screenshot, settings):
    customer = factories.create_user("shopper@example.com")
    order = factories.place_order(customer, [("12.50", 2), ("4.99", 1)])
    records = [line.stockrecord for line in order.lines.all()]
    assert [r.num_allocated for r in records] == [2, 1]

    log_in(page, live_server, "shopper@example.com")
    page.goto(f"{live_server.url}/accounts/orders/{order.number}/")
    button = page.locator("#cancel-order-button")
    assert button.is_visible()
    screenshot("customer-order-page")

    button.click()
    page.wait_for_selector("#ordercancel-form")
    page.select_option("select[name=reason]", "customer")
    page.fill("textarea[name=comment]", "I ordered the wrong size.")
    screenshot("customer-confirm-cancel")

    page.click("#confirm-cancel")
    page.wait_for_selector(".ordercancel-completed")
    text = page.content()
    assert f"Order {order.number} has been cancelled." in text
    assert "At your request" in text and "Customer request" not in text
    assert page.locator("#cancel-order-button").count() == 0
    screenshot("customer-order-cancelled")

    order.refresh_from_db()
    assert order.status == "Cancelled"
    for record in records:
        record.refresh_from_db()
        assert record.num_allocated == 0  # the stock allocation is back


def test_keep_order_leaves_it_alone(live_server, page):
    customer = factories.create_user("keeper@example.com")
    order = factories.place_order(customer)
    log_in(page, live_server, "keeper@example.com")
    page.goto(f"{live_server.url}/accounts/orders/{order.number}/cancel/")
    page.click("#keep-order")
    page.wait_for_selector("#cancel-order-button")
    order.refresh_from_db()
    assert order.status == "Pending"


def test_past_the_window_the_customer_is_told_why(live_server, page, screenshot, settings):
    settings.OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = timedelta(minutes=30)
    customer = factories.create_user("late@example.com")
    order = factories.place_order(customer)
    order.date_placed = timezone.now() - timedelta(hours=3)
    order.save()

    log_in(page, live_server, "late@example.com")
    page.goto(f"{live_server.url}/accounts/orders/{order.number}/")
    explanation = page.locator("#cancel-order-unavailable")
    assert explanation.inner_text() == "Orders can be cancelled within 30 minutes of purchase."
    assert page.locator("#cancel-order-button").count() == 0
    screenshot("customer-window-passed")


def test_the_order_list_offers_cancel(live_server, page, screenshot):
    customer = factories.create_user("lister@example.com")
    cancellable = factories.place_order(customer)
    busy = factories.place_order(customer)
    busy.set_status("Being processed")

    log_in(page, live_server, "lister@example.com")
    page.goto(f"{live_server.url}/accounts/orders/")
    assert page.locator(".ordercancel-list-cancel").count() == 1
    screenshot("customer-order-list")
    page.click(".ordercancel-list-cancel")
    page.wait_for_selector("#ordercancel-form")
    page.click("#confirm-cancel")
    page.wait_for_url(f"{live_server.url}/accounts/orders/")
    cancellable.refresh_from_db()
    assert cancellable.status == "Cancelled"
