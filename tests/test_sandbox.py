"""The sandbox's demo data (what `make sandbox` loads) and the Django admin pages."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from oscar.core.loading import get_model

from oscar_ordercancel.models import OrderCancellation, OrderStatusMapping
from oscar_ordercancel.policy import can_cancel

pytestmark = pytest.mark.django_db
Order = get_model("order", "Order")


def test_demo_data_has_orders_in_every_status_and_prints_logins():
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses >= set(Order.pipeline)
    assert OrderStatusMapping.objects.count() == len(Order.pipeline)
    assert OrderCancellation.objects.filter(is_full=False).exists()
    assert Order.objects.filter(user=None).exists()  # a guest order
    printed = out.getvalue()
    assert "customer@example.com" in printed and "staff@example.com" in printed

    customer_orders = Order.objects.filter(user__email="customer@example.com", status="Pending")
    from django.contrib.auth import get_user_model

    customer = get_user_model().objects.get(email="customer@example.com")
    codes = {can_cancel(o, customer, channel="customer").code for o in customer_orders}
    assert "ok" in codes and "window_passed" in codes

    again = StringIO()
    call_command("load_demo_data", stdout=again)  # a second run changes nothing
    assert "already loaded" in again.getvalue()


@pytest.mark.parametrize("model", ["orderstatusmapping", "cancellationsettings", "ordercancellation"])
def test_admin_pages_open(client, superuser, order, model):
    from oscar_ordercancel.services import cancel_order

    cancellation = cancel_order(order, user=superuser)
    client.force_login(superuser)
    assert client.get(reverse(f"admin:oscar_ordercancel_{model}_changelist")).status_code == 200
    detail = client.get(reverse("admin:oscar_ordercancel_ordercancellation_change",
                                args=[cancellation.pk]))
    assert detail.status_code == 200 and str(order.number) in detail.content.decode()


@pytest.mark.skipif(
    not any(app.startswith("oscar_ordercancel.dashboard.orders") for app in settings.INSTALLED_APPS),
    reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)")
def test_the_demo_staff_login_reaches_every_staff_screen(client):
    call_command("load_demo_data", stdout=StringIO())
    assert client.login(username="staff@example.com", password="staff")
    pending = Order.objects.filter(status="Pending", user__email="customer@example.com").first()
    cancelled = Order.objects.filter(status="Cancelled").first()
    pages = [
        reverse("dashboard:order-list"),
        reverse("dashboard:order-detail", kwargs={"number": pending.number}),
        reverse("dashboard:order-cancel", kwargs={"number": pending.number}),
        reverse("dashboard:order-resubmit", kwargs={"number": cancelled.number}),
        reverse("ordercancel_dashboard:ordercancel-mapping-list"),
        reverse("ordercancel_dashboard:ordercancel-settings-site", kwargs={"site_id": 1}),
        reverse("ordercancel_dashboard:ordercancel-job-list"),
    ]
    for url in pages:
        assert client.get(url).status_code == 200, url
    start = client.post(reverse("dashboard:order-list"), {
        "action": "cancel_selected_orders", "selected_order": [pending.pk]})
    assert client.get(start.url).status_code == 200
