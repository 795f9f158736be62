"""Every page customers and staff use passes an axe-core audit in a real browser.

The other browser tests audit each page they take a screenshot of (the ``screenshot``
fixture calls ``assert_accessible``); this module audits the pages their stories do not
reach: the guest's order-status page and its cancel step, the confirm step of a partly
cancelled order, the dashboard order list and order page of either configuration, the
cancel form before its preview, settings, a job, the batch list, a batch's preview and
its results, the mapping delete step, and every tab of the order page while a customer's
cancellation request waits for staff. Data as the demo shop has it.
"""

from __future__ import annotations

import io

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from oscar_ordercancel.batches.preview import create_batch
from oscar_ordercancel.batches.runner import run_batch, start_batch
from oscar_ordercancel.jobs import delivery
from oscar_ordercancel.models import CancelJob, OrderStatusMapping
from oscar_ordercancel.services import cancel_order
from tests import factories
from tests.conftest import assert_accessible
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORKED = any(app.startswith("oscar_ordercancel.dashboard.orders")
             for app in django_settings.INSTALLED_APPS)
PROCESSORS = [{"name": "warehouse", "class": "oscar_ordercancel.processors.LoggingProcessor",
               "options": {}}]
ITEMS = [("12.50", 2), ("4.99", 1), ("8.00", 1)]


def _customer():
    return factories.create_user("shopper@example.com", first_name="Chris", last_name="Customer")


def _staff():
    return factories.create_user("admin@example.com", is_staff=True, is_superuser=True)


def _partly_cancelled(customer):
    """An order of which the customer has already cancelled one of two shirts."""
    order = factories.place_order(customer, ITEMS)
    shirt = order.lines.order_by("pk").first()
    cancel_order(order, user=customer, lines={shirt: 1}, reason="customer", channel="customer")
    return order


def _guest_status(page, live_server):
    """Open a guest order's status page the way the confirmation e-mail's link does."""
    order = factories.place_order(None, ITEMS, guest_email="guest@example.com")
    kwargs = {"order_number": order.number, "hash": order.verification_hash()}
    page.goto(live_server.url + reverse("customer:anon-order-form", kwargs=kwargs))
    return order


def guest_order_form(page, live_server):
    _guest_status(page, live_server)
    page.wait_for_selector("input[name=email]")


def guest_order_status(page, live_server):
    _guest_status(page, live_server)
    page.fill("input[name=email]", "guest@example.com")
    page.locator("input[name=email]").press("Enter")
    page.wait_for_selector("#cancel-order-button")


def guest_cancel_confirm(page, live_server):
    guest_order_status(page, live_server)
    page.click("#cancel-order-button")
    page.wait_for_selector("#ordercancel-form")


def customer_order_partly_cancelled(page, live_server):
    order = _partly_cancelled(_customer())
    log_in(page, live_server, "shopper@example.com")
    page.goto(f"{live_server.url}/accounts/orders/{order.number}/")
    page.wait_for_selector(".ordercancel-completed")


def customer_cancel_confirm_remaining(page, live_server):
    order = _partly_cancelled(_customer())
    log_in(page, live_server, "shopper@example.com")
    page.goto(live_server.url + reverse("oscar_ordercancel:order-cancel",
                                        kwargs={"order_number": order.number}))
    page.wait_for_selector("#ordercancel-form")


def dashboard_order_list(page, live_server):
    customer = _customer()
    for __ in range(3):
        factories.place_order(customer, ITEMS)
    _partly_cancelled(customer)
    log_in(page, live_server, _staff().email)
    page.goto(f"{live_server.url}/dashboard/orders/")
    page.wait_for_selector("input[name=selected_order]")


def dashboard_order_page(page, live_server):
    order = _partly_cancelled(_customer())
    log_in(page, live_server, _staff().email)
    page.goto(f"{live_server.url}/dashboard/orders/{order.number}/")
    page.wait_for_selector("#order_lines_form")


def dashboard_cancel_form(page, live_server):
    order = _partly_cancelled(_customer())
    log_in(page, live_server, _staff().email)
    name = "dashboard:order-cancel" if FORKED else "ordercancel_dashboard:ordercancel-order-cancel"
    page.goto(live_server.url + reverse(name, kwargs={"number": order.number}))
    page.wait_for_selector("#ordercancel-staff-form")


def dashboard_settings(page, live_server):
    log_in(page, live_server, _staff().email)
    page.goto(live_server.url + reverse("ordercancel_dashboard:ordercancel-settings"))
    page.wait_for_selector("#settings-form")


def dashboard_job_detail(page, live_server):
    staff = _staff()
    cancel_order(factories.place_order(_customer(), ITEMS), user=staff, reason="inventory")
    while delivery.deliver():
        pass
    job = CancelJob.objects.get()
    log_in(page, live_server, staff.email)
    page.goto(live_server.url + reverse("ordercancel_dashboard:ordercancel-job-detail",
                                        kwargs={"pk": job.pk}))
    page.wait_for_selector("#ordercancel-job-attempts")


def _batch(staff, customer):
    """A previewed batch of four rows: two orders will cancel, one is in processing, one unknown."""
    orders = [factories.place_order(customer, ITEMS) for __ in range(3)]
    orders[2].set_status("Being processed")
    text = "order_number,reason\n" + "".join(f"{o.number},inventory\n" for o in orders[:3])
    text += "NO-SUCH-ORDER,inventory\n"
    return create_batch(io.BytesIO(text.encode()), "warehouse-shortage.csv", "orders", staff)


def dashboard_batch_list(page, live_server):
    staff = _staff()
    customer = _customer()
    start_batch(_batch(staff, customer), enqueue=False)
    _batch(staff, customer)
    log_in(page, live_server, staff.email)
    page.goto(live_server.url + reverse("ordercancel_dashboard:ordercancel-batch-list"))
    page.wait_for_selector("table")


def dashboard_batch_preview(page, live_server):
    staff = _staff()
    batch = _batch(staff, _customer())
    log_in(page, live_server, staff.email)
    page.goto(live_server.url + reverse("ordercancel_dashboard:ordercancel-batch-preview",
                                        kwargs={"pk": batch.pk}))
    page.wait_for_selector("#start_form")


def dashboard_batch_results(page, live_server):
    staff = _staff()
    batch = _batch(staff, _customer())
    start_batch(batch, enqueue=False)
    run_batch(batch.pk)
    log_in(page, live_server, staff.email)
    page.goto(live_server.url + reverse("ordercancel_dashboard:ordercancel-batch-detail",
                                        kwargs={"pk": batch.pk}))
    page.wait_for_selector("#failed_warning")


def dashboard_mapping_delete(page, live_server):
    mapping = OrderStatusMapping.objects.create(status="Pending", display_name="Order received",
                                                erp_status_code="ERP-10", allow_cancellation=True)
    log_in(page, live_server, _staff().email)
    page.goto(live_server.url + reverse("ordercancel_dashboard:ordercancel-mapping-delete",
                                        kwargs={"pk": mapping.pk}))
    page.wait_for_selector("form")


PAGES = [guest_order_form, guest_order_status, guest_cancel_confirm,
         customer_order_partly_cancelled, customer_cancel_confirm_remaining,
         dashboard_order_list, dashboard_order_page, dashboard_cancel_form, dashboard_settings,
         dashboard_job_detail, dashboard_batch_list, dashboard_batch_preview,
         dashboard_batch_results, dashboard_mapping_delete]


@pytest.mark.parametrize("open_page", PAGES, ids=[p.__name__.replace("_", "-") for p in PAGES])
def test_the_page_has_no_serious_accessibility_violation(live_server, page, settings, open_page):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = PROCESSORS
    open_page(page, live_server)
    assert_accessible(page, open_page.__name__)


def test_while_a_request_waits_the_order_pages_and_every_dashboard_tab_pass(live_server, page, settings):
    settings.OSCAR_ORDERCANCEL_MODE = "request"  # no processor: the request waits for staff
    customer = _customer()
    order = factories.place_order(customer, ITEMS)
    factories.pay(order)
    cancel_order(order, user=customer, reason="customer", channel="customer")
    log_in(page, live_server, "shopper@example.com")
    page.goto(f"{live_server.url}/accounts/orders/{order.number}/")
    page.wait_for_selector(".ordercancel-requested")
    assert_accessible(page, "customer order page, request waiting")

    page.context.clear_cookies()
    log_in(page, live_server, _staff().email)
    page.goto(f"{live_server.url}/dashboard/orders/{order.number}/")
    tabs = page.locator(".tabbable.dashboard .nav-tabs a[role=tab]")
    names = tabs.all_inner_texts()
    assert len(names) == (6 if FORKED else 5)
    for index, name in enumerate(names):
        tabs.nth(index).click()
        pane = page.wait_for_selector(f"{tabs.nth(index).get_attribute('href')}.active.show")
        page.wait_for_function("pane => getComputedStyle(pane).opacity === '1'", arg=pane)  # faded in
        assert_accessible(page, f"dashboard order page, tab {name.strip()}")
