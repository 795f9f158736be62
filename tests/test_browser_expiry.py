"""Unpaid orders expire, in a real browser: what staff and the customer see, audited with axe-core."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sites.models import Site
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel.expiry import sweep
from tests import factories
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Order = get_model("order", "Order")


@pytest.fixture
def expiry(settings):
    settings.OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER = timedelta(days=3)
    settings.OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE = timedelta(days=1)
    return settings


def placed(user, hours_ago, items=(("12.50", 2), ("4.99", 1))):
    order = factories.place_order(user, items)
    Order.objects.filter(pk=order.pk).update(date_placed=timezone.now() - timedelta(hours=hours_ago))
    return order


def unpaid_orders_one_expired():
    """Pat's orders: one expiring in 3 hours, one in a day, one paid, one expired by the sweep."""
    customer = factories.create_user("payer@example.com", first_name="Pat", last_name="Payer")
    factories.create_user("expiry.staff@example.com", is_staff=True,
                          perms=["order.view_order", "oscar_ordercancel.cancel_order"])
    soon = placed(customer, 68.5)
    placed(customer, 30)
    paid = placed(customer, 50)
    factories.pay(paid)
    gone = placed(customer, 80)
    assert sweep().expired == [str(gone.number)]
    return soon, gone


def test_staff_see_when_unpaid_orders_expire(expiry, live_server, page, screenshot):
    soon, __ = unpaid_orders_one_expired()
    log_in(page, live_server, "expiry.staff@example.com")
    page.goto(f"{live_server.url}/dashboard/orders/")
    badges = [text.replace("\xa0", " ") for text in page.locator("span.badge-warning").all_inner_texts()]
    assert sorted(badges) == ["Expires in 1 day", "Expires in 3 hours"]
    screenshot("expiry-order-list")
    page.goto(f"{live_server.url}/dashboard/orders/{soon.number}/")
    assert page.locator("span.badge-warning").inner_text().replace("\xa0", " ") == "Expires in 3 hours"


@pytest.mark.skipif(
    not any(app.startswith("oscar_ordercancel.dashboard.orders") for app in settings.INSTALLED_APPS),
    reason="the cancellation history is the orders dashboard fork's (ORDERCANCEL_FORKS=0)")
def test_an_expired_orders_page_says_why_it_was_cancelled(expiry, live_server, page, screenshot):
    __, gone = unpaid_orders_one_expired()
    log_in(page, live_server, "expiry.staff@example.com")
    page.goto(f"{live_server.url}/dashboard/orders/{gone.number}/")
    page.click("#ordercancel-history-tab")
    page.wait_for_selector("#ordercancel-history.active")
    history = page.locator("#ordercancel-history").inner_text()
    assert "Not paid in time" in history and "Unpaid order expired" in history
    screenshot("expiry-expired-order")


def test_the_customer_sees_until_when_the_order_waits_for_payment(expiry, live_server, page, screenshot):
    customer = factories.create_user("payer2@example.com", first_name="Pat", last_name="Payer")
    order = placed(customer, 60)
    log_in(page, live_server, "payer2@example.com")
    page.goto(f"{live_server.url}/accounts/orders/{order.number}/")
    notice = page.locator("#order-expiry").inner_text()
    assert "waiting for your payment of £29.99" in notice and "will be cancelled" in notice
    screenshot("expiry-customer-order")


def test_a_site_sets_its_lifetime_on_the_settings_page(expiry, live_server, page, screenshot):
    factories.create_user("expiry.manager@example.com", is_staff=True, perms=[
        "oscar_ordercancel.view_cancellationsettings", "oscar_ordercancel.change_cancellationsettings"])
    site = Site.objects.get_current()
    log_in(page, live_server, "expiry.manager@example.com")
    page.goto(f"{live_server.url}/dashboard/ordercancel/settings/{site.pk}/")
    page.fill("#id_expire_unpaid_after_0", "2")
    page.select_option("#id_expire_unpaid_after_1", "hours")
    page.fill("#id_expiry_reminder_before_0", "30")
    page.select_option("#id_expiry_reminder_before_1", "minutes")
    page.click("#save-settings")
    page.wait_for_selector("#effective-expiry")
    assert page.locator("#effective-expiry").inner_text() == "2 hours"
    assert page.locator("#effective-reminder").inner_text() == "30 minutes"
    screenshot("expiry-settings")
