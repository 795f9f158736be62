"""A status change to Cancelled through Oscar's own paths (its EventHandler, the dashboard's
status form, the bulk status change) is a real cancellation through the engine; without the
order fork a check says so."""

from pathlib import Path

import pytest
from django.urls import reverse
from oscar.core.loading import get_class

from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.models import OrderCancellation
from tests import factories

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parent.parent / "docs"

forks_only = pytest.mark.skipif(
    not get_class("order.processing", "EventHandler").__module__.startswith("oscar_ordercancel"),
    reason="the order fork is not installed (ORDERCANCEL_FORKS=0): see the W006 check test")


@forks_only
def test_a_status_change_to_cancelled_in_code_is_a_real_cancellation(order, staff, mailoutbox,
                                                                      django_capture_on_commit_callbacks):
    EventHandler = get_class("order.processing", "EventHandler")
    records = [line.stockrecord for line in order.lines.all()]

    with django_capture_on_commit_callbacks(execute=True):
        EventHandler(staff).handle_order_status_change(order, "Cancelled", note_msg="by hand")

    order.refresh_from_db()
    assert order.status == "Cancelled"
    cancellation = OrderCancellation.objects.get(order=order)
    assert cancellation.channel == "code" and cancellation.user == staff and cancellation.is_full
    for record in records:
        record.refresh_from_db()
        assert record.num_allocated == 0
    assert len(mailoutbox) == 1


@forks_only
def test_a_refused_status_change_changes_nothing_and_says_why(order, staff):
    factories.pay(order, debited=order.total_incl_tax)
    before = factories.snapshot(order)
    EventHandler = get_class("order.processing", "EventHandler")
    InvalidOrderStatus = get_class("order.exceptions", "InvalidOrderStatus")

    with pytest.raises(InvalidOrderStatus) as refused:
        EventHandler(staff).handle_order_status_change(order, "Cancelled")

    assert isinstance(refused.value, CancellationError)
    assert refused.value.code == "paid_needs_force"
    assert "Force" in str(refused.value) or "forced" in str(refused.value)
    assert "cancel form" in str(refused.value)
    assert factories.snapshot(order) == before


@forks_only
def test_other_status_changes_work_as_before(order, staff):
    EventHandler = get_class("order.processing", "EventHandler")
    EventHandler(staff).handle_order_status_change(order, "Being processed")
    order.refresh_from_db()
    assert order.status == "Being processed" and not order.cancellations.exists()


@forks_only
def test_the_dashboard_status_form_cancels_through_the_engine(client, order, superuser):
    client.force_login(superuser)
    url = reverse("dashboard:order-detail", kwargs={"number": order.number})

    response = client.post(url, {"order_action": "change_order_status", "new_status": "Cancelled"},
                           follow=True)

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "Cancelled"
    cancellation = order.cancellations.get()
    assert cancellation.user == superuser and cancellation.channel in ("dashboard", "code")
    assert all(line.stockrecord.num_allocated == 0 for line in order.lines.all())


@forks_only
def test_the_dashboard_status_form_shows_the_refusal_and_changes_nothing(client, order, superuser):
    factories.pay(order, debited=order.total_incl_tax)
    before = factories.snapshot(order)
    client.force_login(superuser)
    url = reverse("dashboard:order-detail", kwargs={"number": order.number})

    response = client.post(url, {"order_action": "change_order_status", "new_status": "Cancelled"},
                           follow=True)

    assert response.status_code == 200
    text = " ".join(str(m) for m in response.context["messages"])
    assert "cancel form" in text
    assert factories.snapshot(order) == before


@forks_only
def test_the_bulk_status_change_cancels_order_by_order_and_reports_refusals(client, superuser, customer):
    free = factories.place_order(customer)
    paid = factories.place_order(customer)
    factories.pay(paid, debited=paid.total_incl_tax)
    paid_before = factories.snapshot(paid)
    client.force_login(superuser)

    response = client.post(reverse("dashboard:order-list"), {
        "action": "change_order_statuses", "selected_order": [free.pk, paid.pk],
        "new_status": "Cancelled"}, follow=True)

    assert response.status_code == 200
    free.refresh_from_db()
    assert free.status == "Cancelled" and free.cancellations.count() == 1
    assert factories.snapshot(paid) == paid_before
    said = [str(m) for m in response.context["messages"]]
    refused = [m for m in said if paid.number in m]
    assert len(refused) == 1, said
    assert "Payment has been taken" in refused[0]
    assert reverse("dashboard:order-cancel", kwargs={"number": paid.number}) in refused[0]


def test_without_the_order_fork_a_check_says_status_changes_are_not_intercepted():
    from oscar_ordercancel.checks import check_status_change_interception

    messages = check_status_change_interception()
    forked = get_class("order.processing", "EventHandler").__module__.startswith("oscar_ordercancel")
    assert [m.id for m in messages] == ([] if forked else ["ordercancel.W006"])
    assert "W006" in (DOCS / "installation.rst").read_text()
