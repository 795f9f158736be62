"""Staff cancel from the forked Oscar orders dashboard (issue 7, part 1)."""

import json
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from oscar.apps.dashboard.orders import views as oscar_views
from oscar.core.loading import get_model

from oscar_ordercancel.compat import GRANULAR_DASHBOARD_PERMISSIONS
from oscar_ordercancel.models import OrderCancellation
from oscar_ordercancel.policy import can_cancel
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not any(app.startswith("oscar_ordercancel.dashboard.orders") for app in settings.INSTALLED_APPS),
        reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)"),
]

Order = get_model("order", "Order")
Partner = get_model("partner", "Partner")


@pytest.fixture
def viewer(db):
    """Dashboard staff who may look at orders but not cancel them."""
    return factories.create_user("viewer@example.com", is_staff=True, perms=["order.view_order"])


def detail(order):
    return reverse("dashboard:order-detail", kwargs={"number": order.number})


def cancel_page(order):
    return reverse("dashboard:order-cancel", kwargs={"number": order.number})


def lines_of(order):
    return list(order.lines.order_by("pk"))


def form_data(order, quantities=None, **fields):
    """The cancel form's POST: quantity_<id> for every line (0 where not given)."""
    quantities = quantities or {}
    data = {f"quantity_{line.pk}": quantities.get(line.pk, 0) for line in order.lines.all()}
    data.update({"reason": "staff", "note": "", "notify_customer": "on"})
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def confirm(client, order, data):
    """Preview, then confirm what the preview showed (as the page's two buttons do)."""
    preview = client.post(cancel_page(order), data)
    if preview.status_code != 200 or "previewed" not in (preview.context or {}):
        return preview
    return client.post(cancel_page(order), {**data, "confirm": "1",
                                            "previewed": preview.context["previewed"]})


# ---------------------------------------------------------------- cancel order


def test_the_order_page_offers_cancel_order_and_lines(client, clerk, order):
    client.force_login(clerk)
    page = client.get(detail(order))
    text = page.content.decode()
    assert page.status_code == 200
    assert cancel_page(order) in text
    assert 'value="cancel_lines"' in text and 'id="ordercancel-history-tab"' in text


def test_the_cancel_form_previews_then_cancels_on_behalf_of_the_customer(
        client, clerk, order, customer, mailoutbox, django_capture_on_commit_callbacks):
    first, second = lines_of(order)
    client.force_login(clerk)
    form = client.get(cancel_page(order))
    assert form.status_code == 200
    assert form.context["form"][f"quantity_{first.pk}"].value() == 2  # all that can be cancelled

    data = form_data(order, {first.pk: 2, second.pk: 1}, note="Customer phoned")
    preview = client.post(cancel_page(order), data)
    assert preview.status_code == 200
    effect = preview.context["preview"]
    assert effect.full and effect.stock_released == 3 and effect.value == Decimal("25.00")
    assert OrderCancellation.objects.count() == 0  # a preview changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(cancel_page(order), {**data, "confirm": "1",
                                                "previewed": preview.context["previewed"]})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "Cancelled"
    cancellation = order.cancellations.get()
    assert (cancellation.user, cancellation.on_behalf_of) == (clerk, customer)
    assert cancellation.channel == "dashboard" and cancellation.note == "Customer phoned"
    assert cancellation.reason == "staff" and len(mailoutbox) == 1
    history = client.get(detail(order)).content.decode()
    assert "on behalf of customer@example.com" in history and "Customer phoned" in history


def test_notify_customer_off_sends_no_email(client, clerk, order, mailoutbox,
                                            django_capture_on_commit_callbacks):
    client.force_login(clerk)
    data = form_data(order, {line.pk: line.quantity for line in lines_of(order)},
                     notify_customer=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert confirm(client, order, data).status_code == 302
    assert order.cancellations.get().notify_customer is False
    assert mailoutbox == []


def test_a_form_changed_after_its_preview_is_previewed_again(client, clerk, order):
    first, second = lines_of(order)
    client.force_login(clerk)
    preview = client.post(cancel_page(order), form_data(order, {first.pk: 1}))
    changed = {**form_data(order, {first.pk: 2, second.pk: 1}), "confirm": "1",
               "previewed": preview.context["previewed"]}
    again = client.post(cancel_page(order), changed)
    assert again.status_code == 200 and again.context["preview"].full
    assert not order.cancellations.exists()
    done = client.post(cancel_page(order), {**changed, "previewed": again.context["previewed"]})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "Cancelled"


def test_a_paid_order_needs_force_and_the_preview_shows_the_refund(client, clerk, order):
    factories.pay(order, debited="25.00")
    before = factories.snapshot(order)
    client.force_login(clerk)
    everything = {line.pk: line.quantity for line in lines_of(order)}

    refused = confirm(client, order, form_data(order, everything))
    assert refused.status_code == 400
    assert "Payment has been taken: tick Force to cancel." in refused.content.decode()
    assert factories.snapshot(order) == before

    preview = client.post(cancel_page(order), form_data(order, everything, force="on", refund="on"))
    assert preview.context["preview"].refund == Decimal("25.00")
    assert "Refunded to the original payment method: £25.00" in preview.content.decode()

    confirm(client, order, form_data(order, everything, force="on", refund="on"))
    cancellation = order.cancellations.get()
    assert cancellation.forced and cancellation.refund_amount == Decimal("25.00")
    source = order.sources.get()
    assert source.amount_refunded == Decimal("25.00")


def test_an_authorised_payment_is_voided_as_the_preview_said(client, clerk, order):
    factories.pay(order)  # authorised, nothing taken: no force needed
    client.force_login(clerk)
    everything = {line.pk: line.quantity for line in lines_of(order)}
    preview = client.post(cancel_page(order), form_data(order, everything))
    assert preview.context["preview"].void == order.total_incl_tax
    confirm(client, order, form_data(order, everything))
    assert order.cancellations.get().void_amount == order.total_incl_tax


# ---------------------------------------------------------------- cancel lines


def test_the_line_action_opens_the_cancel_form_with_the_quantities(client, clerk, order):
    first, second = lines_of(order)
    client.force_login(clerk)
    response = client.post(detail(order), {
        "line_action": "cancel_lines", "selected_line": [first.pk],
        f"selected_line_qty_{first.pk}": "1", f"selected_line_qty_{second.pk}": "1"})
    assert response.status_code == 302
    assert response.url == f"{cancel_page(order)}?quantity_{first.pk}=1"
    form = client.get(response.url).context["form"]
    assert form[f"quantity_{first.pk}"].value() == "1"
    assert form[f"quantity_{second.pk}"].value() == "0"


def test_partial_cancels_keep_the_status_until_nothing_is_left(client, clerk, order):
    first, second = lines_of(order)
    client.force_login(clerk)
    for quantities in ({first.pk: 1}, {first.pk: 1}, {second.pk: 1}):
        confirm(client, order, form_data(order, quantities))
        order.refresh_from_db()
        if quantities != {second.pk: 1}:
            assert order.status == "Pending"
    first.refresh_from_db()
    assert first.status == "Cancelled"
    assert order.status == "Cancelled"
    assert order.cancellations.count() == 3


def test_each_line_says_why_less_can_be_cancelled(client, clerk, customer):
    order = factories.place_order(customer, [("10.00", 3), ("5.00", 2)])
    first, second = lines_of(order)
    factories.ship(order, first, 2)
    cancel_order(order, user=clerk, lines={second.pk: 1})
    client.force_login(clerk)

    rows = {row["line"].pk: row for row in client.get(detail(order)).context["cancel_lines"]}
    assert (rows[first.pk]["cancellable"], rows[first.pk]["why"]) == (1, "2 shipped")
    assert (rows[second.pk]["cancellable"], rows[second.pk]["why"]) == (1, "1 already cancelled")

    refused = confirm(client, order, form_data(order, {first.pk: 3}))
    text = refused.content.decode()
    assert f"Line #{first.pk}" in text and "only 1 of 3 can be cancelled; 2 have shipped" in text
    assert order.cancellations.count() == 1


def test_malformed_quantities_change_nothing(client, clerk, order):
    first, second = lines_of(order)
    before = factories.snapshot(order)
    client.force_login(clerk)
    for bad in ("-1", "x", "99999999999999999999", "1.5", ""):
        response = client.post(cancel_page(order), {**form_data(order), "confirm": "1",
                                                    f"quantity_{first.pk}": bad})
        assert response.status_code == 400, bad
    for bad in (["x"], ["1", "2"]):
        response = client.post(detail(order), {"line_action": "cancel_lines", "selected_line": bad})
        assert response.status_code == 302
    response = client.post(detail(order), {"line_action": "cancel_lines", "selected_line": [first.pk]})
    assert response.status_code == 302  # no quantity field: Oscar's own view would fail
    assert factories.snapshot(order) == before


# ------------------------------------------------------ Oscar's status change


def test_a_refused_status_change_links_to_the_cancel_form(client, clerk, order):
    factories.pay(order, debited="25.00")
    clerk.user_permissions.add(Permission.objects.get(codename="change_order"))
    client.force_login(clerk)
    response = client.post(detail(order), {"order_action": "change_order_status",
                                           "new_status": "Cancelled"}, follow=True)
    text = response.content.decode()
    assert "tick Force" in text and f'href="{cancel_page(order)}"' in text
    order.refresh_from_db()
    assert order.status == "Pending"


def test_a_status_refused_by_its_mapping_says_so_on_the_order_page(client, clerk, order):
    from oscar_ordercancel.models import OrderStatusMapping

    OrderStatusMapping.objects.create(status="Pending", display_name="Order received",
                                      allow_cancellation=False)
    client.force_login(clerk)
    page = client.get(detail(order))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Orders with the status “Order received” cannot be cancelled." in html
    assert "already being prepared" not in html
    before = factories.snapshot(order)
    response = client.post(cancel_page(order), form_data(order, {
        line.pk: line.quantity for line in order.lines.all()}))
    assert "Orders with the status “Order received” cannot be cancelled." in response.content.decode()
    assert factories.snapshot(order) == before


def test_oscars_own_actions_still_work(client, clerk, order):
    clerk.user_permissions.add(Permission.objects.get(codename="change_order"))
    client.force_login(clerk)
    first, __ = lines_of(order)
    client.post(detail(order), {"order_action": "save_note", "message": "hello"})
    assert order.notes.filter(message="hello").exists()
    client.post(detail(order), {"line_action": "change_line_statuses", "selected_line": [first.pk],
                                f"selected_line_qty_{first.pk}": "1", "new_status": "Being processed"})
    first.refresh_from_db()
    assert first.status == "Being processed"
    client.post(detail(order), {"order_action": "change_order_status", "new_status": "Being processed"})
    order.refresh_from_db()
    assert order.status == "Being processed" and not order.cancellations.exists()
    listing = client.get(reverse("dashboard:order-list"), {"status": "Being processed"})
    assert listing.status_code == 200 and order in listing.context["orders"]
    csv = client.post(reverse("dashboard:order-list"), {"action": "download_selected_orders",
                                                        "selected_order": [order.pk]})
    assert csv.status_code == 200 and str(order.number) in csv.content.decode()


# ---------------------------------------------------------------- bulk cancel


def test_bulk_cancel_lists_what_will_and_will_not_be_cancelled_then_reports(
        client, clerk, customer):
    free = factories.place_order(customer)
    other = factories.place_order(customer)
    paid = factories.place_order(customer)
    factories.pay(paid, debited=paid.total_incl_tax)
    paid_before = factories.snapshot(paid)
    client.force_login(clerk)

    start = client.post(reverse("dashboard:order-list"), {
        "action": "cancel_selected_orders", "selected_order": [free.pk, other.pk, paid.pk]})
    assert start.status_code == 302 and reverse("dashboard:order-bulk-cancel") in start.url
    confirm = client.get(start.url)
    assert {o.pk for o in confirm.context["will_cancel"]} == {free.pk, other.pk}
    assert [(o.pk, why) for o, why in confirm.context["will_not_cancel"]] == [
        (paid.pk, "Payment has been taken: tick Force to cancel.")]
    assert Order.objects.filter(status="Cancelled").count() == 0

    done = client.post(start.url, {"reason": "inventory", "note": "", "notify_customer": "on"})
    assert done.status_code == 200
    assert {o.pk for o in done.context["done"]} == {free.pk, other.pk}
    assert [o.pk for o, __ in done.context["refused"]] == [paid.pk]
    assert "tick Force" in done.content.decode()
    for order in (free, other):
        order.refresh_from_db()
        assert order.status == "Cancelled"
        assert order.cancellations.get().reason == "inventory"
    assert factories.snapshot(paid) == paid_before


# ---------------------------------------------------------------- permissions


@pytest.mark.skipif(not GRANULAR_DASHBOARD_PERMISSIONS, reason=(
    "Oscar 4.0 / 4.1 open their order pages only to staff with order.change_order, which lets "
    "them cancel: no staff user there sees an order without being allowed to cancel it"))
def test_staff_without_the_cancel_permission_see_no_controls_and_get_403(client, viewer, order):
    before = factories.snapshot(order)
    client.force_login(viewer)
    page = client.get(detail(order)).content.decode()
    assert 'id="ordercancel-cancel-order"' not in page and 'value="cancel_lines"' not in page
    assert 'id="ordercancel-bulk-cancel"' not in client.get(reverse("dashboard:order-list")).content.decode()
    assert client.get(cancel_page(order)).status_code == 403
    assert confirm(client, order, form_data(order)).status_code == 403
    response = client.post(detail(order), {"line_action": "cancel_lines", "selected_line": [
        lines_of(order)[0].pk], f"selected_line_qty_{lines_of(order)[0].pk}": "1"})
    assert response.status_code == 403
    assert client.post(reverse("dashboard:order-list"), {
        "action": "cancel_selected_orders", "selected_order": [order.pk]}, follow=True).status_code == 403
    assert factories.snapshot(order) == before


def test_a_partner_cancels_only_orders_whose_lines_are_all_its_own(client, customer):
    own = factories.place_order(customer, [("10.00", 1)], partner="Acme")
    foreign = factories.place_order(customer, [("10.00", 1)], partner="Globex")
    partner_user = factories.create_user("acme@example.com",
                                         perms=["partner.dashboard_access"])
    Partner.objects.get(name="Acme").users.add(partner_user)
    client.force_login(partner_user)

    assert client.get(cancel_page(foreign)).status_code == 404  # Oscar hides other partners' orders
    done = confirm(client, own, form_data(own, {own.lines.get().pk: 1}))
    assert done.status_code == 302
    own.refresh_from_db()
    assert own.status == "Cancelled"


# ---------------------------------------------------------------- query counts


def _count(view, request, **kwargs):
    with CaptureQueriesContext(connection) as queries:
        response = view(request, **kwargs)
        response.render()
    assert response.status_code == 200
    return len(queries)


def test_the_order_list_costs_at_most_two_queries_more_than_oscars(superuser, customer):
    for __ in range(100):
        factories.place_order(customer)
    from oscar_ordercancel.dashboard.orders.views import OrderListView

    def request():
        req = RequestFactory().get(reverse("dashboard:order-list"))
        req.user, req.session = superuser, {}
        from django.contrib.messages.storage.fallback import FallbackStorage

        req._messages = FallbackStorage(req)
        return req

    oscar = _count(oscar_views.OrderListView.as_view(), request())
    ours = _count(OrderListView.as_view(), request())
    assert ours <= oscar + 2, (ours, oscar)


def test_the_order_page_costs_the_same_whatever_the_lines_and_cancellations(superuser, customer):
    from django.contrib.messages.storage.fallback import FallbackStorage

    from oscar_ordercancel.dashboard.orders.views import OrderDetailView

    small = factories.place_order(customer, [("1.00", 1)])
    cancel_order(small, user=superuser, lines={small.lines.get().pk: 1})
    big = factories.place_order(customer, [("1.00", 3)] * 50)
    for line in lines_of(big)[:10]:
        cancel_order(big, user=superuser, lines={line.pk: 1})
    assert big.cancellations.count() == 10

    def page(order):
        req = RequestFactory().get(detail(order))
        req.user, req.session = superuser, {}
        req._messages = FallbackStorage(req)
        return _count(OrderDetailView.as_view(), req, number=order.number)

    assert page(big) <= page(small) + 3


def test_each_line_shows_its_own_cancel_facts_when_some_cannot_be_cancelled(client, clerk, order):
    client.force_login(clerk)
    text = client.get(detail(order)).content.decode()
    assert "Cancel order" in text and 'id="ordercancel-lines"' not in text  # all of it can go
    factories.ship(order, lines_of(order)[0], 1)
    text = client.get(detail(order)).content.decode()
    for line in lines_of(order):
        assert re.search(rf'id="ordercancel-line-{line.pk}"', text)
    assert "1 shipped" in text


def test_malformed_order_selections_are_ignored_not_a_server_error(client, clerk, order):
    client.force_login(clerk)
    for action in ("cancel_selected_orders", "download_selected_orders", "change_order_statuses"):
        response = client.post(reverse("dashboard:order-list"), {
            "action": action, "selected_order": ["abc", "-1", "99999999999999999999"],
            "new_status": "Cancelled"})
        assert response.status_code == 302, action
    order.refresh_from_db()
    assert order.status == "Pending"


def test_a_partly_shipped_order_offers_to_cancel_what_is_left(client, clerk, customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    first, second = lines_of(order)
    factories.ship(order, first, 1)
    client.force_login(clerk)
    page = client.get(detail(order))
    assert "Cancel the remaining items" in page.content.decode()
    form = client.get(cancel_page(order)).context["form"]
    assert (form[f"quantity_{first.pk}"].value(), form[f"quantity_{second.pk}"].value()) == (1, 1)
    assert confirm(client, order, form_data(order, {first.pk: 1, second.pk: 1})).status_code == 302
    order.refresh_from_db()
    assert order.status == "Pending"  # something shipped: the order itself is not cancelled
    assert order.cancellations.get().lines.count() == 2


def test_a_cancelled_order_offers_resubmit_from_the_order_page(client, superuser, order):
    cancel_order(order, user=superuser)
    client.force_login(superuser)
    url = reverse("dashboard:order-resubmit", kwargs={"number": order.number})
    assert url in client.get(detail(order)).content.decode()
    response = client.post(url)
    assert response.status_code == 302
    new = Order.objects.exclude(pk=order.pk).get()
    assert response.url == detail(new)
    assert [line.quantity for line in lines_of(new)] == [2, 1]


def test_a_selection_over_the_bulk_limit_is_previewed_as_a_batch(client, clerk, customer, monkeypatch):
    from oscar_ordercancel.dashboard.orders.views import OrderListView
    from oscar_ordercancel.models import CancellationBatch

    monkeypatch.setattr(OrderListView, "max_bulk_intermediate_ids", 2)
    orders = [factories.place_order(customer) for __ in range(3)]
    client.force_login(clerk)

    response = client.post(reverse("dashboard:order-list"), {
        "action": "cancel_selected_orders", "selected_order": [o.pk for o in orders]})

    batch = CancellationBatch.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("ordercancel_dashboard:ordercancel-batch-preview",
                                   kwargs={"pk": batch.pk})
    assert batch.total_rows == 3 and batch.valid_rows == 3 and batch.user == clerk
    assert not Order.objects.filter(status="Cancelled").exists()  # only previewed


def test_confirming_an_order_someone_else_just_cancelled_says_so(client, clerk, order):
    """Two staff users preview one order; the second confirms after the first: a message on
    the order page, never an error page, whichever moment the second request reads the order."""
    client.force_login(clerk)
    data = form_data(order, {line.pk: line.quantity for line in lines_of(order)})
    preview = client.post(cancel_page(order), data)
    signature = preview.context["previewed"]
    cancel_order(order, user=clerk, channel="dashboard")  # the other clerk was quicker
    response = client.post(cancel_page(order), {**data, "confirm": "1", "previewed": signature})
    assert response.status_code == 302 and response["Location"] == detail(order)
    said = " ".join(str(m) for m in response.wsgi_request._messages)
    assert "already been cancelled" in said
    assert OrderCancellation.objects.filter(order=order).count() == 1


def test_a_confirmation_that_read_the_order_before_and_its_lines_after_another_cancel_says_so(
        client, clerk, order, monkeypatch):
    """The page reads the order, then its facts: another clerk's cancellation committing in
    between leaves an order that looks open with nothing left. A message, never a 400."""
    from oscar_ordercancel.dashboard.orders import views

    client.force_login(clerk)
    data = form_data(order, {line.pk: line.quantity for line in lines_of(order)})
    preview = client.post(cancel_page(order), data)
    signature = preview.context["previewed"]
    stale = Order.objects.get(pk=order.pk)  # read before the other clerk's cancellation
    cancel_order(order, user=clerk, channel="dashboard")
    monkeypatch.setattr(views, "get_order_for_user_or_404", lambda user, number: stale)
    response = client.post(cancel_page(order), {**data, "confirm": "1", "previewed": signature})
    assert response.status_code == 302 and response["Location"] == detail(order)
    said = " ".join(str(m) for m in response.wsgi_request._messages)
    assert "already been cancelled" in said
    assert OrderCancellation.objects.filter(order=order).count() == 1


# ------------------------------------------- issue 13: the form's contract fields


def test_a_form_posting_only_the_contract_fields_cancels_the_whole_order(
        client, clerk, order, customer):
    """Issue 13 item 1: no ``quantity_`` field at all means the whole order (previewed first)."""
    client.force_login(clerk)
    data = {"reason": "staff", "note": "Phoned", "notify_customer": "on"}

    unpreviewed = client.post(cancel_page(order), {**data, "confirm": "1"})
    assert unpreviewed.status_code == 200 and unpreviewed.context["preview"].full
    assert not order.cancellations.exists()  # a form that was not previewed is previewed first

    preview = client.post(cancel_page(order), data)
    assert preview.status_code == 200
    assert preview.context["preview"].full and preview.context["preview"].stock_released == 3
    done = client.post(cancel_page(order), {**data, "confirm": "1",
                                            "previewed": preview.context["previewed"]})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "Cancelled"
    cancellation = order.cancellations.get()
    assert cancellation.is_full and cancellation.note == "Phoned"
    assert sorted(cl.quantity for cl in cancellation.lines.all()) == [1, 2]


def test_the_whole_order_preview_confirms_from_the_packages_own_template(client, clerk, order):
    """The preview page shows the quantities it will cancel; confirming them is the same preview."""
    client.force_login(clerk)
    preview = client.post(cancel_page(order), {"reason": "staff", "notify_customer": "on"})
    shown = {line.pk: preview.context["form"][f"quantity_{line.pk}"].value() for line in lines_of(order)}
    assert shown == {line.pk: line.quantity for line in lines_of(order)}
    done = client.post(cancel_page(order), {**form_data(order, shown), "confirm": "1",
                                            "previewed": preview.context["previewed"]})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "Cancelled"


def test_a_paid_order_posted_with_only_the_contract_fields_is_forced_and_refunded(client, clerk, order):
    factories.pay(order, debited="25.00")
    client.force_login(clerk)
    data = {"reason": "staff", "notify_customer": "on", "force": "on", "refund": "on"}
    refused = client.post(cancel_page(order), {"reason": "staff"})
    assert refused.status_code == 400
    assert "Payment has been taken: tick Force to cancel." in refused.content.decode()
    preview = client.post(cancel_page(order), data)
    assert preview.context["preview"].refund == Decimal("25.00")
    client.post(cancel_page(order), {**data, "confirm": "1", "previewed": preview.context["previewed"]})
    cancellation = order.cancellations.get()
    assert cancellation.is_full and cancellation.refund_amount == Decimal("25.00")


def test_quantity_fields_that_are_all_zero_are_still_refused(client, clerk, order):
    client.force_login(clerk)
    before = factories.snapshot(order)
    response = client.post(cancel_page(order), {**form_data(order), "confirm": "1"})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Enter a quantity to cancel for at least one line."]
    assert factories.snapshot(order) == before


def test_a_quantity_field_of_another_order_is_refused_not_taken_for_the_whole_order(
        client, clerk, order, customer):
    other = factories.place_order(customer)
    client.force_login(clerk)
    response = client.post(cancel_page(order), {"reason": "staff",
                                                f"quantity_{other.lines.get().pk}": "1"})
    assert response.status_code == 400
    assert f"#{other.lines.get().pk} is not a line of order {order.number}" in response.content.decode()
    assert not order.cancellations.exists() and not other.cancellations.exists()


def test_a_whole_order_post_on_a_partly_shipped_order_says_why_not(client, clerk, customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    factories.ship(order, lines_of(order)[0], 1)
    client.force_login(clerk)
    response = client.post(cancel_page(order), {"reason": "staff"})
    assert response.status_code == 400
    assert "Some items of this order have already shipped" in response.content.decode()
    assert not order.cancellations.exists()


# --------------------------------------- issue 13 item 8: quantities on the form


def test_a_quantity_over_the_ordered_amount_shows_only_the_field_error(client, clerk, order):
    first, __ = lines_of(order)
    client.force_login(clerk)
    response = client.post(cancel_page(order), form_data(order, {first.pk: 3}))
    assert response.status_code == 400
    assert response.context["form"].errors[f"quantity_{first.pk}"]
    assert response.context["form"].non_field_errors() == []
    assert "Enter a quantity to cancel for at least one line." not in response.content.decode()


def test_a_quantity_over_the_cancellable_amount_is_said_at_its_line(client, clerk, customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    first, __ = lines_of(order)
    factories.ship(order, first, 1)
    client.force_login(clerk)
    response = client.post(cancel_page(order), form_data(order, {first.pk: 2}))
    assert response.status_code == 400
    assert response.context["form"].errors[f"quantity_{first.pk}"] == [
        f"Line #{first.pk} “{first.title}”: only 1 of 2 can be cancelled; 1 has shipped."]
    assert response.context["form"].non_field_errors() == []


def test_the_boxes_default_and_max_are_the_cancellable_quantity(client, clerk, customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    first, second = lines_of(order)
    factories.ship(order, first, 1)
    client.force_login(clerk)
    form = client.get(cancel_page(order)).context["form"]
    assert form[f"quantity_{first.pk}"].value() == 1
    assert 'max="1"' in str(form[f"quantity_{first.pk}"])
    assert 'max="1"' in str(form[f"quantity_{second.pk}"])
    page = client.get(detail(order)).content.decode()
    # the order page tells its line boxes what each line can cancel (for the line action)
    offered = re.search(r'<script id="ordercancel-cancellable" type="application/json">(.*?)</script>',
                        page)
    assert json.loads(offered.group(1)) == {str(first.pk): 1, str(second.pk): 1}


# ----------------------------------------- issue 13 polish: the line action


def test_cancel_the_selected_lines_is_one_of_oscars_line_actions_in_its_card(client, clerk, order):
    client.force_login(clerk)
    text = client.get(detail(order)).content.decode()
    lines_form = text[text.index('id="order_lines_form"'):text.index('id="order_status_form"')]
    assert 'value="cancel_lines"' in lines_form
    assert lines_form.count('type="submit"') == 1  # Oscar's own "Go!" only
    assert "With selected lines" in lines_form and "ordercancel-lines-card" not in lines_form


def test_the_line_action_leads_to_the_preview_of_those_quantities(client, clerk, order):
    first, __ = lines_of(order)
    client.force_login(clerk)
    response = client.post(detail(order), {
        "line_action": "cancel_lines", "selected_line": [first.pk],
        f"selected_line_qty_{first.pk}": "1"}, follow=True)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [(row["line"].pk, row["quantity"]) for row in preview.rows] == [(first.pk, 1)]
    assert not order.cancellations.exists()  # a preview changes nothing
    done = client.post(cancel_page(order), {**form_data(order, {first.pk: 1}), "confirm": "1",
                                            "previewed": response.context["previewed"]})
    assert done.status_code == 302
    assert order.cancellations.get().lines.get().quantity == 1


def test_the_cancellation_card_has_oscars_card_header(client, clerk, order):
    client.force_login(clerk)
    text = client.get(detail(order)).content.decode()
    card = text[text.index('id="ordercancel-card"'):]
    assert re.match(r'id="ordercancel-card">\s*<div class="table-header">\s*<h3><i class="fas fa-ban">'
                    r'</i> Cancellation</h3>', card)


def test_a_fully_cancelled_order_offers_no_cancel_actions(client, clerk, order):
    """Issue 19: nothing cancellable, so no line action and no quantities panel."""
    cancel_order(order, user=clerk, channel="dashboard")
    client.force_login(clerk)
    page = client.get(detail(order))
    text = page.content.decode()
    assert page.status_code == 200 and "This order has already been cancelled." in text
    assert 'value="cancel_lines"' not in text and "Cancellable now" not in text
    assert "Go to the cancel form" not in text and 'id="ordercancel-cancel-order"' not in text


# ------------------------------------- issue 13 item 5: bulk status change


def test_the_bulk_status_change_to_cancelled_says_per_order_what_happened(client, clerk, customer):
    free = factories.place_order(customer)
    paid = factories.place_order(customer)
    factories.pay(paid, debited=paid.total_incl_tax)
    before = factories.snapshot(paid)
    clerk.user_permissions.add(Permission.objects.get(codename="change_order"))
    client.force_login(clerk)

    response = client.post(reverse("dashboard:order-list"), {
        "action": "change_order_statuses", "selected_order": [free.pk, paid.pk],
        "new_status": "Cancelled"}, follow=True)

    said = [str(m) for m in response.context["messages"]]
    assert f"Order {free.number} has been cancelled." in said
    refused = [m for m in said if paid.number in m]
    assert len(refused) == 1
    assert refused[0].startswith(f"Order {paid.number} was not cancelled: Payment has been taken")
    assert f'href="{cancel_page(paid)}"' in refused[0]
    assert not any("payment error" in m for m in said)
    free.refresh_from_db()
    assert free.status == "Cancelled" and free.cancellations.get().channel == "dashboard"
    assert factories.snapshot(paid) == before


def test_the_bulk_status_change_names_the_order_a_status_is_not_valid_for(client, clerk, customer):
    pending = factories.place_order(customer)
    done = factories.place_order(customer)
    cancel_order(done, user=clerk)
    clerk.user_permissions.add(Permission.objects.get(codename="change_order"))
    client.force_login(clerk)
    response = client.post(reverse("dashboard:order-list"), {
        "action": "change_order_statuses", "selected_order": [pending.pk, done.pk],
        "new_status": "Being processed"}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert f"Order {pending.number}: status changed from 'Pending' to 'Being processed'." in said
    assert (f"Order {done.number}: the new status 'Being processed' is not valid for an order "
            f"in status 'Cancelled'.") in said
    pending.refresh_from_db()
    assert pending.status == "Being processed"
    assert pending.notes.get().message == "Order status changed from 'Pending' to 'Being processed'"
    assert pending.notes.get().user == clerk


# ------------------------------------------ issue 13 polish: bulk cancel pages


def test_the_bulk_cancel_pages_are_named_after_the_action(client, clerk, customer):
    order = factories.place_order(customer)
    client.force_login(clerk)
    start = client.post(reverse("dashboard:order-list"), {
        "action": "cancel_selected_orders", "selected_order": [order.pk]})
    crumbs = re.compile(r'<ol class="breadcrumb">(.*?)</ol>', re.S)

    def trail(html):
        return [re.sub(r"<[^>]+>|\s+", " ", item).strip()
                for item in re.findall(r"<li[^>]*>(.*?)</li>", crumbs.search(html).group(1), re.S)]

    confirm_page = client.get(start.url).content.decode()
    assert trail(confirm_page) == ["Dashboard", "Orders", "Cancel selected orders"]
    assert re.search(r"<title>\s*Cancel selected orders \|", confirm_page)
    summary = client.post(start.url, {"reason": "staff", "notify_customer": "on"}).content.decode()
    assert trail(summary) == ["Dashboard", "Orders", "Cancel selected orders"]
    assert re.search(r"<title>\s*Cancel selected orders \|", summary)
    assert reverse("dashboard:order-list") in crumbs.search(summary).group(1)


def test_the_bulk_cancel_summary_links_each_refused_order_to_its_cancel_form(client, clerk, customer):
    """Like the status change: a refused order can be cancelled on its own form (Force, Refund)."""
    paid = factories.place_order(customer)
    factories.pay(paid, debited=paid.total_incl_tax)
    client.force_login(clerk)
    start = client.post(reverse("dashboard:order-list"), {
        "action": "cancel_selected_orders", "selected_order": [paid.pk]})
    summary = client.post(start.url, {"reason": "staff", "notify_customer": "on"}).content.decode()
    refused = summary[summary.index('id="ordercancel-refused"'):]
    refused = refused[:refused.index("</ul>")]
    assert "Payment has been taken: tick Force to cancel." in refused
    assert f'href="{cancel_page(paid)}"' in refused


def test_the_cancel_form_of_an_order_that_cannot_be_cancelled_says_why_and_offers_no_preview(
        client, clerk, order):
    """Issue 19's class: no cancel control where nothing can be cancelled, on the form too."""
    cancel_order(order, user=clerk, channel="dashboard")
    client.force_login(clerk)
    page = client.get(cancel_page(order))
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="ordercancel-unavailable"' in text and "This order has already been cancelled." in text
    assert 'id="ordercancel-preview-button"' not in text
    shipped = factories.place_order(order.user)
    shipped.status = "Shipped"
    shipped.save()
    refused = client.post(cancel_page(shipped), {"reason": "staff"})
    assert refused.status_code == 400
    said = can_cancel(shipped, clerk, force=True).message  # the policy's words, whatever they are
    assert said and refused.content.decode().count(said) == 1  # said once, not twice


def test_oscars_change_line_status_to_cancelled_goes_through_the_cancel_form(client, clerk, order):
    """Oscar's "Change line status to" Cancelled would mark the line cancelled with its stock
    still allocated and nothing recorded: the fork sends it to the cancel form's preview."""
    first, __ = lines_of(order)
    before = factories.snapshot(order)
    client.force_login(clerk)
    response = client.post(detail(order), {
        "line_action": "change_line_statuses", "new_status": "Cancelled",
        "selected_line": [first.pk], f"selected_line_qty_{first.pk}": "1"}, follow=True)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [(row["line"].pk, row["quantity"]) for row in preview.rows] == [(first.pk, 1)]
    said = [str(m) for m in response.context["messages"]]
    assert any("through the cancel form" in m for m in said), said
    first.refresh_from_db()
    assert first.status == "Pending"
    assert factories.snapshot(order) == before and not order.cancellations.exists()


def test_other_line_status_changes_stay_oscars(client, clerk, order):
    first, __ = lines_of(order)
    client.force_login(clerk)
    client.post(detail(order), {
        "line_action": "change_line_statuses", "new_status": "Being processed",
        "selected_line": [first.pk], f"selected_line_qty_{first.pk}": "1"})
    first.refresh_from_db()
    assert first.status == "Being processed"
