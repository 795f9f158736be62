"""The Withdrawals screen: what staff see of declarations and what they do with them."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel.services import declare_withdrawal
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("withdrawal_on")]

WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
Source = get_model("payment", "Source")
LIST = reverse("ordercancel_dashboard:ordercancel-withdrawal-list")


def awaiting(customer, name="Cara"):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    factories.pay(order, debited=order.total_incl_tax)
    factories.ship(order, order.lines.order_by("pk").first(), 2)
    return declare_withdrawal(order, name=name, email=customer.email, user=customer)


def detail(declaration):
    return reverse("ordercancel_dashboard:ordercancel-withdrawal-detail", kwargs={"pk": declaration.pk})


def test_staff_list_declarations_with_overdue_ones_flagged(client, clerk, customer):
    late = awaiting(customer, name="Late Larry")
    WithdrawalDeclaration.objects.filter(pk=late.pk).update(
        refund_due_by=timezone.now() - timedelta(days=1))
    fresh = awaiting(customer, name="Fresh Fiona")
    client.force_login(clerk)
    page = client.get(LIST)
    html = page.content.decode()
    assert page.status_code == 200
    assert late.reference in html and fresh.reference in html and "Overdue" in html
    assert "1 withdrawal is past its refund due date" in html
    only = client.get(LIST, {"overdue": "on"}).content.decode()
    assert late.reference in only and fresh.reference not in only
    found = client.get(LIST, {"q": fresh.reference}).content.decode()
    assert fresh.reference in found and late.reference not in found
    bad = client.get(LIST, {"state": "nonsense", "q": "x" * 500})
    assert bad.status_code == 200 and "These filters were not applied" in bad.content.decode()


def test_the_csv_lists_what_the_screen_lists_formula_safe(client, clerk, customer):
    declaration = awaiting(customer, name="=HYPERLINK(\"http://evil\")")
    client.force_login(clerk)
    response = client.get(LIST, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    [row] = rows
    assert row["reference"] == declaration.reference and row["state"] == "awaiting_return"
    assert row["name"].startswith("'=")  # not run as a formula
    assert row["overdue"] == "no" and "2 x Linen shirt (awaiting_return)" in row["lines"]


def test_staff_record_the_goods_refund_and_close_from_the_detail_page(client, clerk, customer):
    declaration = awaiting(customer)
    client.force_login(clerk)
    page = client.get(detail(declaration))
    html = page.content.decode()
    assert page.status_code == 200 and declaration.content_digest in html
    assert 'value="20.00"' in html  # the refund due: the shipped units, no delivery charge (partial)

    received = reverse("ordercancel_dashboard:ordercancel-withdrawal-received", kwargs={"pk": declaration.pk})
    refund = reverse("ordercancel_dashboard:ordercancel-withdrawal-refund", kwargs={"pk": declaration.pk})
    close = reverse("ordercancel_dashboard:ordercancel-withdrawal-close", kwargs={"pk": declaration.pk})
    assert client.post(received).status_code == 302
    for amount in ("-5", "abc", "", "1e9", ["1", "2"]):
        client.post(refund, {"amount": amount})
        declaration.refresh_from_db()
        assert declaration.state == "awaiting_return"
    assert Source.objects.get(order=declaration.order).amount_refunded == Decimal("5.00")  # line 2 at once
    assert client.post(refund, {"amount": "20.00"}).status_code == 302
    declaration.refresh_from_db()
    assert declaration.state == "refunded" and declaration.refund_amount == Decimal("20.00")
    assert Source.objects.get(order=declaration.order).amount_refunded == Decimal("25.00")
    client.post(refund, {"amount": "20.00"})  # a second click refunds nothing more
    assert Source.objects.get(order=declaration.order).amount_refunded == Decimal("25.00")
    assert client.post(close, {"note": "Done"}).status_code == 302
    declaration.refresh_from_db()
    assert declaration.state == "closed"


def test_the_order_page_shows_its_declarations(client, clerk, customer):
    declaration = awaiting(customer)
    client.force_login(clerk)
    page = client.get(reverse("dashboard:order-detail", kwargs={"number": declaration.order.number}))
    assert declaration.reference in page.content.decode()


def test_customers_and_staff_who_may_not_cancel_cannot_act(client, customer, settings):
    declaration = awaiting(customer)
    client.force_login(customer)
    assert client.get(LIST).status_code in (302, 403)
    viewer = factories.create_user("viewer@example.com", is_staff=True, order_pages=False,
                                   perms=["oscar_ordercancel.view_withdrawaldeclaration"])
    client.force_login(viewer)
    from oscar_ordercancel.compat import GRANULAR_DASHBOARD_PERMISSIONS

    if GRANULAR_DASHBOARD_PERMISSIONS:
        assert client.get(LIST).status_code == 200
        assert "You may not act on withdrawals" in client.get(detail(declaration)).content.decode()
    refund = reverse("ordercancel_dashboard:ordercancel-withdrawal-refund", kwargs={"pk": declaration.pk})
    assert client.post(refund, {"amount": "1.00"}).status_code in (302, 403)
    declaration.refresh_from_db()
    assert declaration.state == "awaiting_return"


def test_the_list_costs_the_same_queries_for_five_declarations_and_for_twenty(
        client, clerk, customer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(clerk)
    counts = []
    for total in (5, 20):
        while WithdrawalDeclaration.objects.count() < total:
            awaiting(customer)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LIST).status_code == 200
        counts.append(len(queries))
    assert counts[1] <= counts[0] + 1, counts
