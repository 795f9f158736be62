"""The withdrawal function in a real browser: a guest, a customer and staff, audited with axe-core."""

import pytest
from oscar.core.loading import get_model

from tests import factories
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("withdrawal_on")]

WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")


def test_a_guest_withdraws_from_the_site_wide_function_in_two_steps(live_server, page, screenshot,
                                                                    mailoutbox):
    order = factories.place_order(None, [("12.50", 2), ("4.99", 1)], guest_email="guest@example.com")
    factories.pay(order, debited=order.total_incl_tax)

    page.goto(f"{live_server.url}/withdraw/")
    page.fill("#id_name", "Greta Guest")
    page.fill("#id_email", "guest@example.com")
    page.fill("#id_order_number", str(order.number))
    screenshot("withdrawal-form")
    page.click("#withdraw-continue")

    page.wait_for_selector("#withdraw-confirm")
    assert page.locator("#withdraw-confirm").inner_text() == "Confirm withdrawal"
    assert not WithdrawalDeclaration.objects.exists()  # the second step records nothing
    screenshot("withdrawal-confirm")
    page.click("#withdraw-confirm")

    page.wait_for_selector("#withdrawal-reference")
    declaration = WithdrawalDeclaration.objects.get()
    assert page.locator("#withdrawal-reference").inner_text() == declaration.reference
    assert "(UTC)" in page.locator("#withdrawal-declared-at").inner_text()
    screenshot("withdrawal-done")
    order.refresh_from_db()
    assert order.status == "Cancelled"


def test_a_wrong_email_is_told_without_saying_whether_the_order_exists(live_server, page, screenshot):
    order = factories.place_order(None, guest_email="guest@example.com")
    page.goto(f"{live_server.url}/withdraw/?order={order.number}")
    assert page.locator("#id_order_number").input_value() == str(order.number)
    page.fill("#id_name", "Someone")
    page.fill("#id_email", "someone@example.com")
    page.click("#withdraw-continue")
    page.wait_for_selector("#withdraw-refusal")
    assert "We could not find an order" in page.locator("#withdraw-refusal").inner_text()
    screenshot("withdrawal-not-found")


def test_a_customer_withdraws_one_line_from_the_order_page(live_server, page, screenshot):
    customer = factories.create_user("shopper@example.com", first_name="Sam", last_name="Shopper")
    order = factories.place_order(customer, [("12.50", 2), ("4.99", 1)])
    first, second = order.lines.order_by("pk")
    factories.ship(order, first, 2)

    log_in(page, live_server, "shopper@example.com")
    page.goto(f"{live_server.url}/accounts/orders/{order.number}/")
    page.click("#withdraw-order-button")
    page.wait_for_selector("#withdraw-form")
    page.fill(f"#quantity_{second.pk}", "0")
    screenshot("withdrawal-order-page")
    page.click("#withdraw-continue")
    page.wait_for_selector("#withdraw-summary")
    assert "please send it back to us" in page.locator("#withdraw-summary").inner_text()
    page.click("#withdraw-confirm")
    page.wait_for_selector("#withdrawal-reference")
    declaration = WithdrawalDeclaration.objects.get()
    assert declaration.state == "awaiting_return"
    assert [(wl.line_id, wl.quantity) for wl in declaration.lines.all()] == [(first.pk, 2)]


def test_the_german_function_reads_vertrag_widerrufen(live_server, page, screenshot):
    order = factories.place_order(None, guest_email="gast@example.com")
    page.context.set_extra_http_headers({"Accept-Language": "de"})
    page.goto(f"{live_server.url}/withdraw/")
    assert "Vertrag widerrufen" in page.locator("h1").inner_text()
    page.fill("#id_name", "Jürgen Müßig")
    page.fill("#id_email", "gast@example.com")
    page.fill("#id_order_number", str(order.number))
    page.click("#withdraw-continue")
    page.wait_for_selector("#withdraw-confirm")
    assert page.locator("#withdraw-confirm").inner_text() == "Widerruf bestätigen"
    screenshot("withdrawal-confirm-de")


def test_staff_work_through_a_withdrawal_on_the_dashboard(live_server, page, screenshot):
    from oscar_ordercancel.services import declare_withdrawal

    customer = factories.create_user("shopper@example.com")
    order = factories.place_order(customer, [("12.50", 2), ("4.99", 1)])
    factories.pay(order, debited=order.total_incl_tax)
    factories.ship(order, order.lines.order_by("pk").first(), 2)
    declaration = declare_withdrawal(order, name="Sam Shopper", email=customer.email, user=customer)
    factories.create_user("clerk@example.com", is_staff=True,
                          perms=["order.view_order", "oscar_ordercancel.cancel_order"])

    log_in(page, live_server, "clerk@example.com")
    page.goto(f"{live_server.url}/dashboard/ordercancel/withdrawals/")
    page.wait_for_selector("#ordercancel-withdrawal-table")
    screenshot("withdrawal-dashboard-list")
    page.click(f"#ordercancel-withdrawal-{declaration.pk} a.ordercancel-withdrawal-link")
    page.wait_for_selector("#ordercancel-withdrawal-facts")
    screenshot("withdrawal-dashboard-detail")
    page.click("#ordercancel-withdrawal-received")
    page.wait_for_selector("#ordercancel-withdrawal-refund")
    page.click("#ordercancel-withdrawal-refund")
    page.wait_for_selector("#ordercancel-withdrawal-close")
    declaration.refresh_from_db()
    assert declaration.state == "refunded" and declaration.refund_amount == 25
