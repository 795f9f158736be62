"""Resubmitting a cancelled order as a new order: engine and dashboard page."""

from decimal import Decimal
from io import StringIO

import pytest
from django.urls import reverse
from oscar.core.loading import get_class, get_model
from oscar.test.factories import BillingAddressFactory, ShippingAddressFactory

from oscar_ordercancel import signals
from oscar_ordercancel.engine.resubmit import NOTE_RESUBMISSION_OF, NOTE_RESUBMITTED_AS
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.services import cancel_order, resubmit_order
from tests import factories
from tests.test_concurrency import _race as race

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")
FixedPrice = get_class("shipping.methods", "FixedPrice")


def resubmit_url(order):
    return reverse("ordercancel_dashboard:ordercancel-order-resubmit", args=[order.number])


@pytest.fixture
def cancelled(customer, staff):
    """A cancelled order: 2 × £10 and 1 × £5, shipping £3.95, both addresses."""
    order = factories.place_order(
        customer, [("10.00", 2), ("5.00", 1)],
        shipping_address=ShippingAddressFactory(line1="1 Cancel Street"),
        billing_address=BillingAddressFactory(
            line1="2 Billing Road", country=get_model("address", "Country").objects.first()),
        shipping_method=FixedPrice(Decimal("3.95"), Decimal("3.95")),
    )
    cancel_order(order, user=staff, channel="dashboard", reason="customer")
    order.refresh_from_db()
    return order


def allocations(order):
    return [line.stockrecord.num_allocated
            for line in order.lines.select_related("stockrecord").order_by("pk")]


def test_the_new_order_has_a_new_number_the_lines_and_the_original_prices(cancelled, staff):
    new = resubmit_order(cancelled, user=staff)

    assert new.number != cancelled.number
    assert new.status == "Pending"
    assert new.user == cancelled.user
    assert new.site == cancelled.site
    old_lines = list(cancelled.lines.order_by("pk"))
    new_lines = list(new.lines.order_by("pk"))
    assert [(line.product_id, line.quantity) for line in new_lines] == [
        (line.product_id, line.quantity) for line in old_lines]
    for old, line in zip(old_lines, new_lines, strict=True):
        assert line.stockrecord_id == old.stockrecord_id
        assert line.unit_price_incl_tax == old.unit_price_incl_tax
        assert line.unit_price_excl_tax == old.unit_price_excl_tax
        assert line.line_price_incl_tax == old.line_price_incl_tax
        assert line.line_price_excl_tax == old.line_price_excl_tax
        assert line.status == "Pending"
    assert new.total_incl_tax == cancelled.total_incl_tax == Decimal("28.95")
    assert new.shipping_incl_tax == Decimal("3.95")
    assert (new.shipping_method, new.shipping_code) == (cancelled.shipping_method, cancelled.shipping_code)


def test_prices_stay_the_original_ones_when_the_catalogue_price_changed(cancelled, staff):
    for line in cancelled.lines.all():
        line.stockrecord.price = Decimal("99.00")
        line.stockrecord.save()
    new = resubmit_order(cancelled, user=staff)
    assert sorted(line.unit_price_incl_tax for line in new.lines.all()) == [
        Decimal("5.00"), Decimal("10.00")]
    assert new.total_incl_tax == Decimal("28.95")


def test_addresses_are_copied_as_new_rows(cancelled, staff):
    new = resubmit_order(cancelled, user=staff)
    assert new.shipping_address_id != cancelled.shipping_address_id
    assert new.shipping_address.line1 == "1 Cancel Street"
    assert new.billing_address_id != cancelled.billing_address_id
    assert new.billing_address.line1 == "2 Billing Road"


def test_stock_is_allocated_again(cancelled, staff):
    assert allocations(cancelled) == [0, 0]
    new = resubmit_order(cancelled, user=staff)
    assert allocations(new) == [2, 1]
    assert [line.num_allocated for line in new.lines.order_by("pk")] == [2, 1]


def test_only_the_cancelled_quantities_are_resubmitted(customer, staff):
    order = factories.place_order(customer, [("10.00", 3), ("5.00", 1)])
    first = order.lines.order_by("pk").first()
    cancel_order(order, user=staff, lines={first: 1}, channel="dashboard")
    cancel_order(order, user=staff, channel="dashboard")  # the rest
    order.refresh_from_db()
    assert order.status == "Cancelled"
    new = resubmit_order(order, user=staff)
    assert [line.quantity for line in new.lines.order_by("pk")] == [3, 1]


def test_no_payment_is_recorded(cancelled, staff):
    new = resubmit_order(cancelled, user=staff)
    assert new.sources.count() == 0
    assert new.payment_events.count() == 0


def test_notes_link_both_orders(cancelled, staff):
    new = resubmit_order(cancelled, user=staff)
    original_note = cancelled.notes.get(note_type=NOTE_RESUBMITTED_AS)
    new_note = new.notes.get(note_type=NOTE_RESUBMISSION_OF)
    assert new.number in original_note.message
    assert cancelled.number in new_note.message
    assert original_note.user == staff


def test_the_signal_is_sent_with_both_orders(cancelled, staff):
    received = []

    def receiver(sender, **kwargs):
        received.append((sender, kwargs))

    signals.order_resubmitted.connect(receiver)
    try:
        new = resubmit_order(cancelled, user=staff)
    finally:
        signals.order_resubmitted.disconnect(receiver)
    assert len(received) == 1
    sender, kwargs = received[0]
    assert sender is Order
    assert kwargs["order"] == new
    assert kwargs["original"] == cancelled
    assert kwargs["user"] == staff


def test_insufficient_stock_refuses_and_changes_nothing(cancelled, staff):
    record = cancelled.lines.order_by("pk").first().stockrecord
    record.num_in_stock = 1
    record.save()
    before = (Order.objects.count(), cancelled.notes.count(), allocations(cancelled))
    with pytest.raises(CancellationError) as exc:
        resubmit_order(cancelled, user=staff)
    assert exc.value.code == "insufficient_stock"
    assert "Linen shirt" in exc.value.message
    assert "2 needed, 1 available" in exc.value.message
    assert exc.value.params == {"product": record.product_id, "needed": 2, "available": 1}
    assert (Order.objects.count(), cancelled.notes.count(), allocations(cancelled)) == before


def test_an_order_that_is_not_cancelled_is_refused(order, staff):
    with pytest.raises(CancellationError) as exc:
        resubmit_order(order, user=staff)
    assert exc.value.code == "not_resubmittable"
    assert str(order.number) in exc.value.message


def test_a_cancelled_status_without_cancelled_lines_is_refused(customer, staff):
    order = factories.place_order(customer)
    order.status = "Cancelled"
    order.save()
    with pytest.raises(CancellationError) as exc:
        resubmit_order(order, user=staff)
    assert exc.value.code == "not_resubmittable"
    assert "nothing to resubmit" in exc.value.message


def test_an_order_is_resubmitted_only_once(cancelled, staff):
    new = resubmit_order(cancelled, user=staff)
    count = Order.objects.count()
    with pytest.raises(CancellationError) as exc:
        resubmit_order(cancelled, user=staff)
    assert exc.value.code == "already_resubmitted"
    assert new.number in exc.value.message
    assert Order.objects.count() == count


def test_a_guest_order_keeps_its_email(staff):
    order = factories.place_order(None, guest_email="guest@example.com")
    cancel_order(order, user=staff, channel="dashboard")
    order.refresh_from_db()
    new = resubmit_order(order, user=staff)
    assert new.user is None
    assert new.guest_email == "guest@example.com"


# -- the dashboard page -------------------------------------------------------------


def test_the_page_lists_the_lines_and_says_no_payment_is_recorded(client, cancelled, staff):
    client.force_login(staff)
    response = client.get(resubmit_url(cancelled))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Linen shirt" in text and "Travel mug" in text
    assert "£20.00" in text  # the line price of 2 × £10.00
    assert "No payment is recorded on the new order" in text
    assert 'id="confirm-resubmit"' in text


def test_posting_places_the_order_and_opens_it(client, cancelled, staff):
    client.force_login(staff)
    response = client.post(resubmit_url(cancelled), follow=False)
    new = Order.objects.exclude(pk=cancelled.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:order-detail", args=[new.number])
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any(cancelled.number in m and new.number in m for m in messages)


def test_the_page_shows_the_refusal_and_places_nothing(client, cancelled, staff):
    record = cancelled.lines.order_by("pk").first().stockrecord
    record.num_in_stock = 0
    record.save()
    client.force_login(staff)
    response = client.get(resubmit_url(cancelled))
    assert "Not enough stock" in response.content.decode()
    assert 'id="confirm-resubmit"' not in response.content.decode()
    response = client.post(resubmit_url(cancelled))
    assert response.status_code == 200
    assert "Not enough stock" in response.content.decode()
    assert Order.objects.count() == 1


def test_staff_without_the_cancel_permission_get_403(client, cancelled):
    clerk = factories.create_user("clerk@example.com", is_staff=True, perms=["order.view_order"],
                                  order_pages=False)
    client.force_login(clerk)
    assert client.get(resubmit_url(cancelled)).status_code == 403
    assert client.post(resubmit_url(cancelled)).status_code == 403
    assert Order.objects.count() == 1


def test_change_order_permission_is_enough_and_superusers_may(client, cancelled, superuser):
    manager = factories.create_user("manager@example.com", is_staff=True,
                                    perms=["order.change_order"])
    client.force_login(manager)
    assert client.get(resubmit_url(cancelled)).status_code == 200
    client.force_login(superuser)
    assert client.get(resubmit_url(cancelled)).status_code == 200


def test_anonymous_users_are_sent_to_log_in(client, cancelled):
    response = client.get(resubmit_url(cancelled))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_an_unknown_order_is_404(client, staff):
    client.force_login(staff)
    assert client.get(reverse("ordercancel_dashboard:ordercancel-order-resubmit",
                              args=["no-such-order"])).status_code == 404


def test_the_sandbox_staff_login_uses_every_page_on_the_demo_data(client):
    from django.core.management import call_command

    from oscar_ordercancel.models import OrderStatusMapping

    call_command("load_demo_data", stdout=StringIO())
    assert client.login(username="staff@example.com", password="staff")
    mapping = OrderStatusMapping.objects.get(status="Pending")
    for url in [reverse("ordercancel_dashboard:ordercancel-mapping-list"),
                reverse("ordercancel_dashboard:ordercancel-mapping-create"),
                reverse("ordercancel_dashboard:ordercancel-mapping-update", args=[mapping.pk]),
                reverse("ordercancel_dashboard:ordercancel-mapping-delete", args=[mapping.pk])]:
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("ordercancel_dashboard:ordercancel-settings"),
                      follow=True).status_code == 200
    cancelled = Order.objects.filter(status="Cancelled").order_by("pk")
    assert cancelled.count() >= 1
    for order in cancelled:
        response = client.post(resubmit_url(order))
        assert response.status_code == 302, order.number
        client.get(response["Location"])  # the new order's dashboard page
    assert Order.objects.filter(notes__note_type=NOTE_RESUBMISSION_OF).count() == cancelled.count()


def test_a_discounted_line_keeps_its_discounted_price(customer, staff):
    order = factories.place_order(customer, [("10.00", 2)])
    line = order.lines.get()
    # As if an offer had taken £3 off the line at checkout.
    type(line).objects.filter(pk=line.pk).update(line_price_incl_tax=Decimal("17.00"),
                                                 line_price_excl_tax=Decimal("17.00"))
    cancel_order(order, user=staff, channel="dashboard")
    order.refresh_from_db()
    new = resubmit_order(order, user=staff)
    new_line = new.lines.get()
    assert new_line.line_price_before_discounts_incl_tax == Decimal("20.00")
    assert new_line.line_price_incl_tax == Decimal("17.00")
    assert new_line.line_price_excl_tax == Decimal("17.00")


# -- concurrency (PostgreSQL row locks) -----------------------------------------------


def _race(calls):
    """Run ``calls`` in threads released together: (results, refusal codes)."""
    return race(calls, lambda call: call())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_staff_resubmitting_at_once_make_one_new_order():
    customer = factories.create_user("race@example.com")
    staff = factories.create_user("racer@example.com", is_staff=True,
                                  perms=["oscar_ordercancel.cancel_order"])
    order = factories.place_order(customer, [("10.00", 2)])
    cancel_order(order, user=staff, notify_customer=False)
    order.refresh_from_db()

    results, errors = _race([lambda: resubmit_order(order, user=staff)] * 5)

    assert len(results) == 1 and errors == ["already_resubmitted"] * 4
    assert Order.objects.count() == 2
    assert order.lines.get().stockrecord.num_allocated == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_orders_competing_for_the_last_stock_get_it_once():
    customer = factories.create_user("race@example.com")
    staff = factories.create_user("racer@example.com", is_staff=True,
                                  perms=["oscar_ordercancel.cancel_order"])
    first = factories.place_order(customer, [("10.00", 2)], num_in_stock=3)
    record = first.lines.get().stockrecord
    basket = get_model("basket", "Basket").objects.create(owner=customer)
    basket.strategy = get_class("partner.strategy", "Default")()
    basket.add_product(record.product, quantity=1)
    second = factories.create_order(basket=basket, user=customer)
    for order in (first, second):
        cancel_order(order, user=staff, notify_customer=False)
    record.refresh_from_db()
    assert record.num_allocated == 0
    record.num_in_stock = 2  # 2 free: enough for one of the two resubmissions only
    record.save()

    results, errors = _race([lambda: resubmit_order(first, user=staff),
                             lambda: resubmit_order(second, user=staff)])
    record.refresh_from_db()
    assert len(results) == 1 and errors == ["insufficient_stock"]
    assert record.num_allocated == results[0].lines.get().quantity <= record.num_in_stock


def test_the_template_tag_offers_resubmit_only_where_it_can_work(cancelled, order, staff):
    from oscar_ordercancel.templatetags.ordercancel_dashboard_tags import ordercancel_resubmittable

    assert ordercancel_resubmittable(cancelled) is True
    assert ordercancel_resubmittable(order) is False  # pending
    record = cancelled.lines.order_by("pk").first().stockrecord
    record.num_in_stock = 0
    record.save()
    assert ordercancel_resubmittable(cancelled) is True  # the page says why not
    record.num_in_stock = 20
    record.save()
    resubmit_order(cancelled, user=staff)
    assert ordercancel_resubmittable(cancelled) is False  # already resubmitted


def test_an_order_resubmitted_before_says_its_new_number_once(cancelled, staff):
    """Issue 13 item 11: one sentence, not the stored note repeated after it."""
    new = resubmit_order(cancelled, user=staff)
    with pytest.raises(CancellationError) as exc:
        resubmit_order(cancelled, user=staff)
    assert exc.value.message == (f"Order {cancelled.number} has already been resubmitted as "
                                 f"new order {new.number}.")
    assert exc.value.params["new_order"] == new.number
