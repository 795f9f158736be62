"""The REST API (django-oscar-api style): what a mobile app or headless shop front sees."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from oscar.core.loading import get_model
from rest_framework.test import APIClient

from oscar_ordercancel import signals
from oscar_ordercancel.exceptions import CancellationVetoed
from oscar_ordercancel.models import OrderCancellation
from oscar_ordercancel.policy import can_cancel
from tests import factories

pytest.importorskip("oscarapi")
pytestmark = pytest.mark.django_db

Partner = get_model("partner", "Partner")
Source = get_model("payment", "Source")


def cancel_url(order):
    return reverse("oscar_ordercancel:api-order-cancel", kwargs={"pk": order.pk})


def cancellations_url(order):
    return reverse("oscar_ordercancel:api-order-cancellations", kwargs={"pk": order.pk})


def admin_cancel_url(order_or_pk):
    pk = getattr(order_or_pk, "pk", order_or_pk)
    return reverse("oscar_ordercancel:api-admin-order-cancel", kwargs={"pk": pk})


def lines_of(order):
    return list(order.lines.select_related("stockrecord").order_by("pk"))


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(customer):
    """The order owner's API client."""
    return client_for(customer)


# ------------------------------------------------------------------ owner cancels


def test_owner_cancels_the_whole_order(api, order, customer):
    first, second = lines_of(order)

    response = api.post(cancel_url(order), {"reason": "customer", "comment": "Ordered twice"},
                        format="json")

    assert response.status_code == 201, response.json()
    order.refresh_from_db()
    assert order.status == "Cancelled"
    first, second = lines_of(order)
    assert first.stockrecord.num_allocated == 0 and second.stockrecord.num_allocated == 0
    cancellation = OrderCancellation.objects.get(order=order)
    assert cancellation.is_full and cancellation.channel == "api"
    assert cancellation.user == customer and cancellation.comment == "Ordered twice"
    assert response.json()["id"] == cancellation.pk
    assert response.json()["order_status"] == "Cancelled"


def test_owner_cancels_some_lines(api, order):
    first, second = lines_of(order)

    response = api.post(cancel_url(order), {"lines": [{"line": first.pk, "quantity": 1}]},
                        format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_full"] is False and body["order_status"] == "Pending"
    assert body["lines"] == [
        {"line": first.pk, "title": first.title, "quantity": 1, "stock_released": 1}]
    order.refresh_from_db()
    first, second = lines_of(order)
    assert order.status == "Pending"
    assert first.stockrecord.num_allocated == 1 and second.stockrecord.num_allocated == 1
    assert OrderCancellation.objects.get(order=order).lines.get().quantity == 1


def test_repeated_line_items_add_up(api, order):
    first, __ = lines_of(order)
    response = api.post(cancel_url(order), {"lines": [
        {"line": first.pk, "quantity": 1}, {"line": first.pk, "quantity": 1}]}, format="json")
    assert response.status_code == 201
    assert response.json()["lines"][0]["quantity"] == 2


def test_the_cancellation_json(api, order, customer):
    first, second = lines_of(order)

    body = api.post(cancel_url(order), {}, format="json").json()

    cancellation = OrderCancellation.objects.get(order=order)
    assert set(body) == {
        "id", "order", "order_number", "order_url", "order_status", "order_status_display",
        "state", "state_label",
        "is_full", "reason", "reason_label", "comment", "channel", "channel_label", "forced",
        "refund_amount", "void_amount", "rejection_reason", "date_created", "date_completed",
        "lines",
    }
    assert body["order"] == order.pk and body["order_number"] == str(order.number)
    assert body["order_url"] == f"http://testserver/api/orders/{order.pk}/"
    assert (body["state"], body["is_full"], body["order_status"]) == ("completed", True, "Cancelled")
    # no reason sent: the configured "customer" reason
    assert (body["reason"], body["reason_label"]) == ("customer", "At your request")
    assert (body["channel"], body["channel_label"]) == ("api", "Customer API")
    assert body["forced"] is False
    assert body["refund_amount"] == "0.00" and body["void_amount"] == "0.00"
    assert body["comment"] == "" and body["date_completed"] is not None
    assert body["date_created"].startswith(str(cancellation.date_created.date()))
    assert body["lines"] == [
        {"line": first.pk, "title": first.title, "quantity": 2, "stock_released": 2},
        {"line": second.pk, "title": second.title, "quantity": 1, "stock_released": 1},
    ]
    assert "note" not in body and "user" not in body  # staff-only


def test_no_default_reason_when_the_shop_does_not_offer_it(api, order, settings):
    settings.OSCAR_ORDERCANCEL_REASONS = [("changed_mind", "Changed my mind")]
    body = api.post(cancel_url(order), {}, format="json").json()
    assert body["reason"] == ""
    other = factories.place_order(order.user)
    body = api.post(cancel_url(other), {"reason": "changed_mind"}, format="json").json()
    assert (body["reason"], body["reason_label"]) == ("changed_mind", "Changed my mind")


def test_request_mode_answers_with_a_requested_cancellation(api, order, settings):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    response = api.post(cancel_url(order), {}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "requested" and body["date_completed"] is None
    assert body["order_status"] == "Cancellation requested"
    second = api.post(cancel_url(order), {}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "cancellation_pending"


# --------------------------------------------------------------- listing


def test_owner_lists_the_cancellations_newest_first(api, order):
    first, second = lines_of(order)
    api.post(cancel_url(order), {"lines": [{"line": first.pk, "quantity": 1}]}, format="json")
    api.post(cancel_url(order), {"lines": [{"line": second.pk, "quantity": 1}]}, format="json")

    response = api.get(cancellations_url(order))

    assert response.status_code == 200
    body = response.json()
    newest, oldest = OrderCancellation.objects.filter(order=order).order_by("-pk")
    assert [item["id"] for item in body] == [newest.pk, oldest.pk]
    assert body[0]["lines"][0]["line"] == second.pk


def test_an_order_without_cancellations_lists_none(api, order):
    response = api.get(cancellations_url(order))
    assert response.status_code == 200 and response.json() == []


def test_another_customers_cancellations_are_not_found(order, other_customer):
    OrderCancellation.objects.create(order=order, channel="dashboard", reason="staff")
    response = client_for(other_customer).get(cancellations_url(order))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# ------------------------------------------------------- refusals: nothing changes


def test_another_customers_order_is_not_found_and_unchanged(order, other_customer):
    before = factories.snapshot(order)
    response = client_for(other_customer).post(cancel_url(order), {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and response.json()["message"]
    assert factories.snapshot(order) == before


def test_anonymous_users_are_refused(order):
    before = factories.snapshot(order)
    response = client_for(None).post(cancel_url(order), {}, format="json")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"
    assert client_for(None).get(cancellations_url(order)).status_code in (401, 403)
    assert factories.snapshot(order) == before


def test_unknown_reason_is_bad_input(api, order):
    before = factories.snapshot(order)
    response = api.post(cancel_url(order), {"reason": "bored"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_reason" and response.json()["message"]
    assert factories.snapshot(order) == before


def test_comment_is_limited_to_1000_characters(api, order):
    before = factories.snapshot(order)
    response = api.post(cancel_url(order), {"comment": "x" * 1001}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "comment_too_long",
        "message": "The comment can be at most 1,000 characters long; this one has 1,001.",
        "params": {"field": "comment", "limit": 1000, "length": 1001}}
    assert factories.snapshot(order) == before
    response = api.post(cancel_url(order), {"comment": "x" * 1000}, format="json")
    assert response.status_code == 201


def test_the_staff_note_has_the_same_limit_as_the_dashboard_and_csv(order, staff):
    api = client_for(staff)
    before = factories.snapshot(order)
    response = api.post(admin_cancel_url(order), {"note": "n" * 200_000}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "note_too_long"
    assert response.json()["message"] == (
        "The note can be at most 2,000 characters long; this one has 200,000.")
    assert factories.snapshot(order) == before
    response = api.post(admin_cancel_url(order), {"note": "n" * 2000}, format="json")
    assert response.status_code == 201 and response.json()["note"] == "n" * 2000


NOT_INTEGERS = ["1", "01", 1.0, 1.5, True, False, None, [1], {"n": 1}, ""]


@pytest.mark.parametrize("value", NOT_INTEGERS, ids=repr)
@pytest.mark.parametrize("field", ["line", "quantity"])
def test_line_ids_and_quantities_must_be_json_integers(api, order, field, value):
    first, __ = lines_of(order)
    item = {"line": first.pk, "quantity": 1, field: value}
    before = factories.snapshot(order)
    response = api.post(cancel_url(order), {"lines": [item]}, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid_input"
    assert list(body["errors"]["lines"]["0"]) == [field]
    assert factories.snapshot(order) == before


@pytest.mark.parametrize("value", ["CUSTOMER", 1.0, True, [1]], ids=repr)
def test_on_behalf_of_must_be_a_json_integer_too(order, staff, customer, value):
    body = {"on_behalf_of": str(customer.pk) if value == "CUSTOMER" else value}
    if value == 1.0:
        body["on_behalf_of"] = float(customer.pk)
    before = factories.snapshot(order)
    response = client_for(staff).post(admin_cancel_url(order), body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid_input" and "on_behalf_of" in response.json()["errors"]
    assert factories.snapshot(order) == before
    response = client_for(staff).post(admin_cancel_url(order), {"on_behalf_of": customer.pk},
                                      format="json")
    assert response.status_code == 201 and response.json()["on_behalf_of"] == customer.pk


@pytest.mark.parametrize(
    ("make_lines", "code"),
    [
        (lambda first, other: [{"line": first.pk, "quantity": 3}], "quantity_not_cancellable"),
        (lambda first, other: [{"line": first.pk, "quantity": 0}], "invalid_quantity"),
        (lambda first, other: [{"line": first.pk, "quantity": -2}], "invalid_quantity"),
        (lambda first, other: [{"line": 999999, "quantity": 1}], "unknown_line"),
        # a line of another order reads as unknown: customers cannot probe other orders
        (lambda first, other: [{"line": other.pk, "quantity": 1}], "unknown_line"),
        (lambda first, other: [{"line": first.pk, "quantity": "two"}], "invalid_input"),
        (lambda first, other: [{"line": first.pk}], "invalid_input"),
        (lambda first, other: [], "invalid_input"),
        (lambda first, other: {"line": first.pk, "quantity": 1}, "invalid_input"),
    ],
)
def test_bad_lines_are_bad_input(api, order, other_customer, make_lines, code):
    first, __ = lines_of(order)
    other_line = factories.place_order(other_customer).lines.get()
    before = factories.snapshot(order)

    response = api.post(cancel_url(order), {"lines": make_lines(first, other_line)}, format="json")

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == code and body["message"]
    if code == "invalid_input":
        assert "lines" in body["errors"]
    assert factories.snapshot(order) == before


def test_a_body_that_is_not_an_object_is_bad_input(api, order):
    before = factories.snapshot(order)
    response = api.post(cancel_url(order), [1, 2], format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_input"
    assert factories.snapshot(order) == before


def _processing(order):
    order.set_status("Being processed")


def _window_passed(order):
    order.date_placed -= timedelta(days=31)
    order.save(update_fields=["date_placed"])


def _customers_may_not(order, settings):
    settings.OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION = False


def _paid(order):
    factories.pay(order, debited=order.total_incl_tax)


@pytest.mark.parametrize(
    ("prepare", "code"),
    [
        (lambda order, settings: _processing(order), "not_cancellable_status"),
        (lambda order, settings: _window_passed(order), "window_passed"),
        (_customers_may_not, "customer_cancellation_disabled"),
        (lambda order, settings: _paid(order), "paid_needs_force"),
    ],
)
def test_an_order_that_cannot_be_cancelled_is_a_conflict(api, order, customer, settings,
                                                         prepare, code):
    prepare(order, settings)
    order.refresh_from_db()
    before = factories.snapshot(order)

    response = api.post(cancel_url(order), {}, format="json")

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == code == can_cancel(order, customer, channel="api").code
    assert response.json()["message"] == can_cancel(order, customer, channel="api").message
    assert factories.snapshot(order) == before


def test_a_status_refused_by_its_mapping_says_so_on_both_endpoints(api, order, staff):
    from oscar_ordercancel.models import OrderStatusMapping

    OrderStatusMapping.objects.create(status="Pending", display_name="Order received",
                                      allow_cancellation=False)
    before = factories.snapshot(order)
    for response in (api.post(cancel_url(order), {}, format="json"),
                     client_for(staff).post(admin_cancel_url(order), {}, format="json")):
        assert response.status_code == 409
        assert response.json() == {
            "code": "not_cancellable_status",
            "message": "Orders with the status “Order received” cannot be cancelled.",
            "params": {"stage": "status", "status": "Pending"},
        }
    assert factories.snapshot(order) == before


def test_a_second_post_is_already_cancelled(api, order):
    assert api.post(cancel_url(order), {}, format="json").status_code == 201
    second = api.post(cancel_url(order), {}, format="json")
    assert second.status_code == 409
    assert second.json()["code"] == "already_cancelled"
    assert OrderCancellation.objects.filter(order=order).count() == 1


def test_get_on_the_cancel_endpoint_does_not_cancel(api, order):
    before = factories.snapshot(order)
    response = api.get(cancel_url(order))
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert factories.snapshot(order) == before


def test_a_veto_is_a_conflict_with_the_receivers_code(api, order):
    def veto(sender, **kwargs):
        raise CancellationVetoed("fraud_review", "Under fraud review")

    signals.order_cancellation_requested.connect(veto)
    before = factories.snapshot(order)
    try:
        response = api.post(cancel_url(order), {}, format="json")
    finally:
        signals.order_cancellation_requested.disconnect(veto)
    assert response.status_code == 409
    assert response.json() == {"code": "fraud_review", "message": "Under fraud review"}
    assert factories.snapshot(order) == before


def test_customers_cannot_force_through_the_customer_endpoint(api, order):
    _paid(order)
    before = factories.snapshot(order)
    response = api.post(cancel_url(order), {"force": True, "refund": True}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "paid_needs_force"
    assert factories.snapshot(order) == before


# ------------------------------------------------------------------- staff endpoint


def test_staff_force_cancel_a_paid_order_with_refund(order, staff, customer):
    source = factories.pay(order, debited=order.total_incl_tax)

    response = client_for(staff).post(admin_cancel_url(order), {
        "reason": "inventory", "note": "Supplier out", "force": True, "refund": True,
        "on_behalf_of": customer.pk,
    }, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["channel"] == "admin_api" and body["forced"] is True
    assert Decimal(body["refund_amount"]) == order.total_incl_tax
    assert body["note"] == "Supplier out" and body["reason"] == "inventory"
    assert body["user"] == staff.pk and body["on_behalf_of"] == customer.pk
    assert body["refund_requested"] is True and body["previous_status"] == "Pending"
    source.refresh_from_db()
    assert source.amount_refunded == order.total_incl_tax
    order.refresh_from_db()
    assert order.status == "Cancelled"
    assert "Supplier out" in order.notes.get().message


def test_staff_default_reason_and_paid_order_needs_force(order, staff):
    api = client_for(staff)
    paid = factories.place_order(order.user)
    _paid(paid)
    response = api.post(admin_cancel_url(paid), {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "paid_needs_force"
    # an API client has no Force box to tick: the message names the request's field
    assert response.json()["message"] == 'Payment has been taken: send "force": true to cancel anyway.'

    body = api.post(admin_cancel_url(order), {}, format="json").json()
    assert body["reason"] == "staff" and body["user"] == staff.pk and body["on_behalf_of"] is None


@pytest.mark.parametrize("perms", [["order.change_order"], ["oscar_ordercancel.cancel_order"]])
def test_either_permission_lets_staff_cancel(order, perms):
    user = factories.create_user("clerk@example.com", is_staff=True, perms=perms)
    response = client_for(user).post(admin_cancel_url(order), {}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("is_staff", [False, True])
def test_users_without_the_permission_get_403_on_the_staff_endpoint(order, customer, is_staff):
    user = customer if not is_staff else factories.create_user("flag@example.com", is_staff=True)
    before = factories.snapshot(order)
    response = client_for(user).post(admin_cancel_url(order), {"force": True}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "not_permitted" and response.json()["message"]
    assert factories.snapshot(order) == before
    # no order lookup for them: an unknown order is refused the same way
    assert client_for(user).post(admin_cancel_url(999999), {}, format="json").status_code == 403


def test_staff_endpoint_unknown_order_is_404(staff):
    response = client_for(staff).post(admin_cancel_url(999999), {}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_staff_endpoint_refuses_anonymous_users(order):
    response = client_for(None).post(admin_cancel_url(order), {}, format="json")
    assert response.status_code in (401, 403)
    assert factories.snapshot(order)["status"] == "Pending"


def test_partners_cancel_only_their_partners_orders(customer):
    ours = factories.place_order(customer, [("10.00", 1)], partner="Acme")
    theirs = factories.place_order(customer, [("10.00", 1)], partner="Globex")
    partner_user = factories.create_user("acme@example.com", is_staff=True,
                                         perms=["partner.dashboard_access"])
    Partner.objects.get(name="Acme").users.add(partner_user)
    api = client_for(partner_user)
    before = factories.snapshot(theirs)

    response = api.post(admin_cancel_url(theirs), {}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "partner_lines"
    assert factories.snapshot(theirs) == before
    assert api.post(admin_cancel_url(ours), {}, format="json").status_code == 201


def test_staff_endpoint_bad_on_behalf_of_is_bad_input(order, staff):
    before = factories.snapshot(order)
    response = client_for(staff).post(admin_cancel_url(order), {"on_behalf_of": 999999},
                                      format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input" and "on_behalf_of" in response.json()["errors"]
    assert factories.snapshot(order) == before


# ------------------------------------------------------------- oscarapi's order


def test_oscarapi_order_detail_shows_can_cancel_and_the_cancellation(api, order):
    url = reverse("order-detail", kwargs={"pk": order.pk})
    body = api.get(url).json()
    assert body["can_cancel"] is True and body["cancellation"] is None

    first, __ = lines_of(order)
    api.post(cancel_url(order), {"lines": [{"line": first.pk, "quantity": 1}]}, format="json")
    body = api.get(url).json()
    cancellation = OrderCancellation.objects.get(order=order)
    assert body["can_cancel"] is True
    assert body["cancellation"]["id"] == cancellation.pk
    assert body["cancellation"]["lines"] == [
        {"line": first.pk, "title": first.title, "quantity": 1, "stock_released": 1}]

    api.post(cancel_url(order), {}, format="json")
    body = api.get(url).json()
    assert body["can_cancel"] is False
    assert body["cancellation"]["is_full"] is True and body["cancellation"]["order_status"] == "Cancelled"
    assert body["status"] == "Cancelled"


def test_oscarapi_can_cancel_follows_the_customer_rules(api, order):
    _window_passed(order)
    body = api.get(reverse("order-detail", kwargs={"pk": order.pk})).json()
    assert body["can_cancel"] is False


def test_oscarapi_order_list_costs_the_same_for_more_orders(api, customer):
    def list_queries():
        with CaptureQueriesContext(connection) as queries:
            response = api.get(reverse("order-list"))
        assert response.status_code == 200
        ours = [q["sql"] for q in queries.captured_queries if "oscar_ordercancel" in q["sql"]]
        return response.json(), ours

    first = factories.place_order(customer)
    api.post(cancel_url(first), {}, format="json")
    body, one = list_queries()
    assert [(o["can_cancel"], o["cancellation"]["is_full"]) for o in body] == [(False, True)]

    for __ in range(4):
        factories.place_order(customer)
    body, five = list_queries()
    assert sorted(o["can_cancel"] for o in body) == [False, True, True, True, True]
    # decisions, site settings, latest cancellations and their lines, status display
    # names: once per page
    assert len(five) == len(one) <= 5, five


def test_the_cancel_endpoint_query_count(customer, django_assert_max_num_queries):
    small = factories.place_order(customer, [("1.00", 1)])
    large = factories.place_order(customer, [("1.00", 1)] * 20)
    factories.pay(small)
    factories.pay(large)
    api = client_for(customer)
    with CaptureQueriesContext(connection) as one_line:
        assert api.post(cancel_url(small), {}, format="json").status_code == 201
    assert len(one_line) <= 35  # 27 today, with a payment to void
    with django_assert_max_num_queries(len(one_line) + 3):
        assert api.post(cancel_url(large), {}, format="json").status_code == 201


def test_a_too_large_quantity_says_which_line_and_how_many_are_left(customer, order):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(customer)
    line = order.lines.order_by("pk").first()
    response = api.post(reverse("oscar_ordercancel:api-order-cancel", kwargs={"pk": order.pk}),
                        {"reason": "customer", "lines": [{"line": line.pk, "quantity": 5}]},
                        format="json")
    assert response.status_code == 400
    assert response.json()["params"] == {"line": line.pk, "available": 2}
