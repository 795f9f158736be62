"""Without the orders dashboard fork, staff still have a cancel page in the package's own app."""

import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def test_the_own_app_offers_the_staff_cancel_page(client, order, customer):
    clerk = factories.create_user("own-app@example.com", is_staff=True,
                                  perms=["order.view_order", "oscar_ordercancel.cancel_order"])
    client.force_login(clerk)
    url = reverse("ordercancel_dashboard:ordercancel-order-cancel", kwargs={"number": order.number})
    data = {f"quantity_{line.pk}": line.quantity for line in order.lines.all()}
    data.update(reason="staff", notify_customer="on")

    preview = client.post(url, data)
    assert preview.status_code == 200 and preview.context["preview"].full
    done = client.post(url, {**data, "confirm": "1", "previewed": preview.context["previewed"]})

    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "Cancelled"
    cancellation = order.cancellations.get()
    assert (cancellation.user, cancellation.on_behalf_of, cancellation.channel) == (
        clerk, customer, "dashboard")


def test_staff_without_the_permission_get_403_on_the_own_app_cancel_page(client, order):
    viewer = factories.create_user("looker@example.com", is_staff=True, perms=["order.view_order"],
                                     order_pages=False)
    client.force_login(viewer)
    url = reverse("ordercancel_dashboard:ordercancel-order-cancel", kwargs={"number": order.number})
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "staff", "confirm": "1"}).status_code == 403
    order.refresh_from_db()
    assert order.status == "Pending"


def _clerk():
    return factories.create_user("own-clerk@example.com", is_staff=True,
                                 perms=["order.view_order", "oscar_ordercancel.cancel_order"])


def test_the_own_app_page_cancels_the_whole_order_from_the_contract_fields_alone(client, order):
    """Issue 13 item 1, on the page a shop without the dashboard fork uses."""
    client.force_login(_clerk())
    url = reverse("ordercancel_dashboard:ordercancel-order-cancel", kwargs={"number": order.number})
    data = {"reason": "staff", "notify_customer": "on"}
    preview = client.post(url, data)
    assert preview.status_code == 200 and preview.context["preview"].full
    done = client.post(url, {**data, "confirm": "1", "previewed": preview.context["previewed"]})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "Cancelled" and order.cancellations.get().is_full


def test_the_own_app_page_shows_a_quantity_error_only_at_its_line(client, order):
    """Issue 13 item 8: no untrue "enter a quantity" banner beside the field's error."""
    client.force_login(_clerk())
    url = reverse("ordercancel_dashboard:ordercancel-order-cancel", kwargs={"number": order.number})
    first, second = order.lines.order_by("pk")
    response = client.post(url, {"reason": "staff", f"quantity_{first.pk}": "9",
                                 f"quantity_{second.pk}": "0"})
    assert response.status_code == 400
    assert response.context["form"].errors[f"quantity_{first.pk}"]
    assert "Enter a quantity to cancel for at least one line." not in response.content.decode()
    assert not order.cancellations.exists()
