"""A status mapping's display name is what people read wherever an order status is shown."""

import importlib.util
import re

import pytest
from django.apps import apps
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from oscar.core.loading import get_class

from oscar_ordercancel.models import OrderStatusMapping
from oscar_ordercancel.statuses import cached_status_names, status_display
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def received(db):
    """Pending orders read "Order received"."""
    return OrderStatusMapping.objects.create(status="Pending", display_name="Order received")


def mapping_queries(queries) -> list[str]:
    """The reads of the mapping table's display names among ``queries``."""
    return [q["sql"] for q in queries.captured_queries
            if q["sql"].startswith('SELECT "oscar_ordercancel_orderstatusmapping"')]


def shows_raw(html: str, status: str = "Pending") -> bool:
    """Whether ``status`` appears as an element's whole text (a status cell or paragraph)."""
    return re.search(rf">\s*{status}\s*<", html) is not None


# ------------------------------------------------------------------ the filter


def test_the_filter_reads_the_display_name_else_the_status(received):
    OrderStatusMapping.objects.create(status="Being processed", display_name="")
    template = Template("{% load ordercancel_tags %}"
                        "{{ a|status_display }}/{{ b|status_display }}/{{ c|status_display }}/"
                        "{{ d|status_display|default:'-' }}")
    text = template.render(Context({"a": "Pending", "b": "Being processed", "c": "Shipped", "d": None}))
    assert text == "Order received/Being processed/Shipped/-"


def test_outside_a_request_a_changed_mapping_is_read_at_once(received):
    assert status_display("Pending") == "Order received"
    OrderStatusMapping.objects.filter(pk=received.pk).update(display_name="Received")
    assert status_display("Pending") == "Received"


def test_a_scope_reads_the_mappings_once_and_forgets_them_when_one_is_saved(received):
    with cached_status_names(), CaptureQueriesContext(connection) as queries:
        assert [status_display("Pending") for __ in range(30)] == ["Order received"] * 30
        assert len(mapping_queries(queries)) == 1
        received.display_name = "Received"
        received.save()
        assert status_display("Pending") == "Received"
    assert len(mapping_queries(queries)) == 2


# ------------------------------------------------------------- customer pages


def test_the_customers_order_list_and_page_show_the_display_name(client, customer, order, received):
    client.force_login(customer)
    listing = client.get(reverse("customer:order-list"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "<td>Order received</td>" in html and not shows_raw(html)

    page = client.get(reverse("customer:order", kwargs={"order_number": order.number}))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<p>Order received</p>" in html and not shows_raw(html)


def test_the_guest_order_page_shows_the_display_name(client, received):
    guest_order = factories.place_order(None, guest_email="guest@example.com")
    page = client.get(factories.open_guest_order(client, guest_order))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<p>Order received</p>" in html and not shows_raw(html)


def test_the_customers_order_list_reads_the_mappings_once(client, customer, received, monkeypatch):
    monkeypatch.setattr(get_class("customer.views", "OrderHistoryView"), "paginate_by", 50)
    for __ in range(30):
        factories.place_order(customer)
    client.force_login(customer)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("customer:order-list")).content.decode()
    assert html.count("<td>Order received</td>") == 30
    assert len(mapping_queries(queries)) == 1


# ------------------------------------------------------------------ dashboard


def dashboard_cell(html: str) -> list[str]:
    return re.findall(r'<span class="ordercancel-status"[^>]*>(.*?)</span>', html, re.S)


def test_the_dashboard_order_list_and_page_show_the_display_name(client, superuser, order, received):
    client.force_login(superuser)
    listing = client.get(reverse("dashboard:order-list"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert dashboard_cell(html) == ["Order received"]
    # staff also see the status the filters and the status change use
    assert 'title="Order status: Pending"' in html

    page = client.get(reverse("dashboard:order-detail", kwargs={"number": order.number}))
    assert page.status_code == 200
    assert dashboard_cell(page.content.decode())[0] == "Order received"


def test_the_dashboard_status_history_shows_display_names(client, superuser, order, received):
    OrderStatusMapping.objects.create(status="Being processed", display_name="In the warehouse")
    order.set_status("Being processed")
    client.force_login(superuser)
    page = client.get(reverse("dashboard:order-detail", kwargs={"number": order.number}))
    assert page.status_code == 200
    html = page.content.decode()
    history = html[html.index("Status Changes"):]
    assert re.search(r"<td>\s*<span[^>]*>Order received</span>\s*</td>\s*"
                     r"<td>\s*<span[^>]*>In the warehouse</span>\s*</td>", history), history[:2000]


def test_an_unmapped_status_shows_as_it_is_on_the_dashboard(client, superuser, order):
    client.force_login(superuser)
    html = client.get(reverse("dashboard:order-list")).content.decode()
    assert dashboard_cell(html) == ["Pending"]
    assert 'title="Order status: Pending"' not in html


def test_the_dashboard_order_list_costs_no_query_per_row(client, superuser, customer, received,
                                                         django_assert_max_num_queries):
    client.force_login(superuser)
    factories.place_order(customer)
    client.get(reverse("dashboard:order-list"))  # warm the caches (site, session, user)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("dashboard:order-list"))
    for __ in range(24):
        factories.place_order(customer)
    with django_assert_max_num_queries(len(one)), CaptureQueriesContext(connection) as page:
        html = client.get(reverse("dashboard:order-list")).content.decode()
    assert dashboard_cell(html) == ["Order received"] * 20  # one page
    assert len(mapping_queries(page)) == 1


def test_the_dashboard_customer_page_and_statistics_show_the_display_name(client, superuser, customer,
                                                                         order, received):
    client.force_login(superuser)
    page = client.get(reverse("dashboard:user-detail", kwargs={"pk": customer.pk}))
    assert page.status_code == 200
    assert dashboard_cell(page.content.decode()) == ["Order received"]
    stats = client.get(reverse("dashboard:order-stats"))
    assert stats.status_code == 200
    assert dashboard_cell(stats.content.decode()) == ["Order received"]


def test_the_staff_cancel_pages_show_the_display_name(client, superuser, order, received):
    client.force_login(superuser)
    if apps.is_installed("oscar_ordercancel.dashboard.orders"):
        url = reverse("dashboard:order-cancel", kwargs={"number": order.number})
    else:
        url = reverse("ordercancel_dashboard:ordercancel-order-cancel", kwargs={"number": order.number})
    page = client.get(url)
    assert page.status_code == 200
    assert dashboard_cell(page.content.decode()) == ["Order received"]


@pytest.mark.skipif(not apps.is_installed("oscar_ordercancel.dashboard.orders"),
                    reason="the bulk cancel is the orders dashboard fork's")
def test_the_bulk_cancel_confirmation_shows_the_display_name(client, superuser, order, received):
    client.force_login(superuser)
    response = client.post(reverse("dashboard:order-list"), {
        "action": "cancel_selected_orders", "selected_order": [order.pk]}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "ordercancel-will-cancel" in html
    assert dashboard_cell(html) == ["Order received"]


def test_csv_exports_keep_the_raw_status(client, superuser, order, received):
    client.force_login(superuser)
    response = client.post(reverse("dashboard:order-list"),
                           {"action": "download_selected_orders", "selected_order": [order.pk]})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Pending" in text and "Order received" not in text


# ----------------------------------------------------------------------- API


@pytest.fixture
def api(customer):
    pytest.importorskip("oscarapi")
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(customer)
    return client


def test_the_api_order_has_status_and_status_display(api, order, received):
    body = api.get(reverse("order-detail", kwargs={"pk": order.pk})).json()
    assert (body["status"], body["status_display"]) == ("Pending", "Order received")
    listing = api.get(reverse("order-list")).json()
    assert [(o["status"], o["status_display"]) for o in listing] == [("Pending", "Order received")]


def test_the_api_order_list_reads_the_mappings_once(api, customer, received):
    for __ in range(5):
        factories.place_order(customer)
    with CaptureQueriesContext(connection) as queries:
        listing = api.get(reverse("order-list")).json()
    assert {o["status_display"] for o in listing} == {"Order received"}
    assert len(mapping_queries(queries)) == 1


def test_the_cancellation_json_has_the_order_status_display(api, order):
    OrderStatusMapping.objects.create(status="Cancelled", display_name="Cancelled by request")
    body = api.post(reverse("oscar_ordercancel:api-order-cancel", kwargs={"pk": order.pk}), {},
                    format="json").json()
    assert (body["order_status"], body["order_status_display"]) == ("Cancelled", "Cancelled by request")


@pytest.fixture
def _admin_api_open(monkeypatch):
    """django-oscar-api's admin endpoints answer only with OSCARAPI_BLOCK_ADMIN_API_ACCESS off."""
    from oscarapi import settings as oscarapi_settings

    monkeypatch.setattr(oscarapi_settings, "BLOCK_ADMIN_API_ACCESS", False)


@pytest.mark.skipif(importlib.util.find_spec("oscarapi") is None, reason="django-oscar-api")
@pytest.mark.urls("tests.urls_admin_api")
@pytest.mark.usefixtures("_admin_api_open")
def test_the_staff_api_order_has_status_display(order, superuser, received):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(superuser)
    response = client.get(reverse("admin-order-detail", kwargs={"pk": order.pk}))
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["status_display"]) == ("Pending", "Order received")
