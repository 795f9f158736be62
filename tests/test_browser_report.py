"""The cancellation report and the dashboard home's panel in a real browser, audited with axe-core."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_ordercancel.models import CancelJob, OrderCancellation
from oscar_ordercancel.reports import figures
from oscar_ordercancel.services import cancel_order
from tests import factories
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Order = get_model("order", "Order")
Basket = get_model("basket", "Basket")

#: A month of a small shop: (days ago, reason, channel, whole order?).
CANCELLATIONS = [
    (27, "customer", "customer", True), (26, "inventory", "dashboard", False),
    (24, "customer", "customer", True), (22, "fraud", "dashboard", True),
    (20, "customer", "dashboard", False), (19, "inventory", "batch", True),
    (19, "inventory", "batch", True), (17, "declined", "admin_api", True),
    (15, "customer", "customer", True), (13, "other", "dashboard", False),
    (12, "inventory", "batch", True), (10, "customer", "customer", True),
    (8, "fraud", "dashboard", True), (6, "customer", "customer", False),
    (5, "inventory", "dashboard", True), (3, "customer", "customer", True),
    (2, "declined", "admin_api", True), (1, "customer", "dashboard", True),
    (0, "inventory", "batch", False),
]
#: The cancellations (indexes in CANCELLATIONS) whose ERP job failed; those of the last
#: two days are still pending, the others succeeded.
FAILED_JOBS = (3, 11)

#: The shop's catalogue: (title, price).
CATALOGUE = [("Linen shirt", "24.00"), ("Travel mug", "12.50"), ("Wool scarf", "8.99"),
             ("Notebook", "4.50"), ("Desk lamp", "39.00"), ("Tea towel", "6.00")]


def place(customer, products, items):
    """An order of ``items`` ((catalogue index, quantity)) through Oscar's checkout code."""
    basket = Basket.objects.create(owner=customer)
    basket.strategy = Default()
    for index, quantity in items:
        basket.add_product(products[index], quantity=quantity)
    return create_order(basket=basket, user=customer)


@pytest.fixture
def shop_month(settings):
    """Orders placed over the last 30 days, some of them cancelled, their ERP jobs in every state."""
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        {"name": "erp", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}]
    staff = factories.create_user("manager@example.com", is_staff=True, first_name="Sam", last_name="Staff",
                                  perms=["oscar_ordercancel.cancel_order", "order.view_order"])
    customer = factories.create_user("shopper@example.com")
    products = []
    for title, price in CATALOGUE:
        products.append(create_product(title=title))
        create_stockrecord(products[-1], price=Decimal(price), num_in_stock=1000)
    now = timezone.now()
    for day in range(30):  # two orders a day, not cancelled
        for n in range(2):
            order = place(customer, products, [((day + n) % 6, 1)])
            Order.objects.filter(pk=order.pk).update(date_placed=now - timedelta(days=day, hours=1))
    for index, (days_ago, reason, channel, whole) in enumerate(CANCELLATIONS):
        order = place(customer, products, [(index % 6, 1 + index % 3), ((index * 5) % 6 // 2, 1)])
        when = now - timedelta(days=days_ago, hours=index % 5)
        Order.objects.filter(pk=order.pk).update(date_placed=when - timedelta(hours=2))
        lines = None if whole else {order.lines.order_by("pk").first(): 1}
        if channel == "customer":
            cancellation = cancel_order(order, user=customer, lines=lines, reason=reason, channel=channel)
        else:  # staff cancel a paid order and refund it
            factories.pay(order, debited=order.total_incl_tax)
            cancellation = cancel_order(order, user=staff, lines=lines, reason=reason, channel=channel,
                                        force=True, refund=True)
        OrderCancellation.objects.filter(pk=cancellation.pk).update(date_completed=when)
        state = "succeeded" if days_ago > 2 else "pending"
        state = "failed" if index in FAILED_JOBS else state
        CancelJob.objects.filter(cancellation=cancellation).update(state=state)
    return staff


def test_staff_read_the_report_and_the_dashboard_home_panel(live_server, page, screenshot, shop_month):
    log_in(page, live_server, shop_month.email)

    page.goto(f"{live_server.url}/dashboard/")
    page.click("a.dropdown-toggle:has-text('Cancellations')")
    page.click("a.dropdown-item:has-text('Cancellation report')")
    page.wait_for_selector("#ordercancel-report-totals")
    assert page.inner_text("h1") == "Cancellation report"
    assert page.title().startswith("Cancellation report | ")
    assert page.inner_text("#ordercancel-total-cancellations dd") == str(len(CANCELLATIONS))
    assert page.locator("svg[role=img]").count() == 2
    legend = page.locator("#ordercancel-report-legend li").all_inner_texts()
    assert legend == ["Customer request", "Out of stock", "Payment declined", "Suspected fraud", "Other"]
    jobs = page.locator("#ordercancel-report-jobs td").all_inner_texts()
    failed = len(FAILED_JOBS)
    pending = sum(1 for c in CANCELLATIONS if c[0] <= 2)
    assert jobs == [str(len(CANCELLATIONS) - failed - pending), str(failed), str(pending)]
    screenshot("dashboard-cancellation-report")

    # The charts' figures as tables, for people who cannot see the charts.
    page.click("summary:has-text('Cancellations by period')")
    page.click("summary:has-text('Rate per week')")
    assert page.locator("#ordercancel-report-periods tbody tr").count() == 30
    assert page.locator("#ordercancel-report-weeks").is_visible()
    screenshot("dashboard-cancellation-report-tables")

    # Another range; a bad one is explained and the last 30 days are shown.
    page.fill("#id_date_from", "2020-01-01")
    page.fill("#id_date_to", "2019-12-01")
    page.click("#ordercancel-report-show")
    page.wait_for_selector("#ordercancel-report-errors")
    assert "The end date is before the start date." in page.inner_text("#ordercancel-report-errors")
    page.click("#ordercancel-report-quick a:has-text('Last 7 days')")
    page.wait_for_selector("#ordercancel-report-quick a.active:has-text('Last 7 days')")
    week = [c for c in CANCELLATIONS if c[0] < 7]
    assert page.inner_text("#ordercancel-total-cancellations dd") == str(len(week))

    # The dashboard home: the last 7 days beside Oscar's revenue, a link to the report.
    page.goto(f"{live_server.url}/dashboard/")
    panel = page.locator("#ordercancel-home-cancellations")
    assert panel.is_visible()
    assert page.inner_text("#ordercancel-home-count") == str(len(week))
    screenshot("dashboard-home-cancellations")
    page.click("#ordercancel-home-report-link")
    page.wait_for_selector("#ordercancel-report-totals")
    start, end = figures.default_range(7)
    assert f"date_from={start.isoformat()}" in page.url and f"date_to={end.isoformat()}" in page.url
    assert page.inner_text("#ordercancel-total-cancellations dd") == str(len(week))
