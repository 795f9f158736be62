"""Customers cancel their own orders from their account and guest order pages."""

from datetime import timedelta

import pytest
from django.contrib.sites.models import Site
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from oscar_ordercancel.compat import GUEST_ORDER_EMAIL_CHECK
from oscar_ordercancel.models import CancellationSettings, OrderCancellation, OrderStatusMapping
from oscar_ordercancel.policy import can_cancel
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = pytest.mark.django_db


def order_page(order):
    return reverse("customer:order", kwargs={"order_number": order.number})


def lines_of(order):
    return list(order.lines.order_by("pk"))


def cancel_url(order):
    return reverse("oscar_ordercancel:order-cancel", kwargs={"order_number": order.number})


@pytest.fixture
def browser(client, customer):
    client.force_login(customer)
    return client


def test_the_order_page_offers_cancellation(browser, order):
    page = browser.get(order_page(order))
    assert page.status_code == 200
    assert cancel_url(order) in page.content.decode()
    assert 'id="cancel-order-button"' in page.content.decode()


def test_the_confirmation_step_shows_the_order_and_reasons(browser, order):
    page = browser.get(cancel_url(order))
    html = page.content.decode()
    assert page.status_code == 200
    for line in order.lines.all():
        assert line.title in html
    assert 'name="reason"' in html and "Customer request" in html
    assert "Keep order" in html and 'name="comment"' in html
    order.refresh_from_db()
    assert order.status == "Pending"  # a GET never cancels


def test_cancelling_with_a_reason(browser, order, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(cancel_url(order), {"reason": "customer", "comment": "Ordered twice"})
    assert response.status_code == 302 and response.url == order_page(order)
    order.refresh_from_db()
    assert order.status == "Cancelled"
    cancellation = order.cancellations.get()
    assert (cancellation.reason, cancellation.comment, cancellation.channel) == (
        "customer", "Ordered twice", "customer")
    assert [line.stockrecord.num_allocated for line in order.lines.all()] == [0, 0]
    assert len(mailoutbox) == 1
    page = browser.get(response.url)
    html = page.content.decode()
    assert "has been cancelled" in html  # the success message
    assert "This order was cancelled on" in html
    assert 'id="cancel-order-button"' not in html


def test_a_safe_next_is_honoured_and_an_unsafe_one_ignored(browser, customer):
    first, second = factories.place_order(customer), factories.place_order(customer)
    listing = reverse("customer:order-list")
    response = browser.post(cancel_url(first), {"reason": "customer", "next": listing})
    assert response.url == listing
    response = browser.post(cancel_url(second), {"reason": "customer", "next": "https://evil.example/"})
    assert response.url == order_page(second)


def test_another_customers_order_is_not_found(client, order, other_customer):
    client.force_login(other_customer)
    before = factories.snapshot(order)
    assert client.get(cancel_url(order)).status_code == 404
    assert client.post(cancel_url(order), {"reason": "customer"}).status_code == 404
    assert factories.snapshot(order) == before


def test_anonymous_visitors_are_sent_to_login(client, order):
    response = client.post(cancel_url(order), {"reason": "customer"})
    assert response.status_code == 302 and reverse("customer:login") in response.url
    order.refresh_from_db()
    assert order.status == "Pending"


def test_csrf_is_enforced(customer, order):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    assert client.post(cancel_url(order), {"reason": "customer"}).status_code == 403
    order.refresh_from_db()
    assert order.status == "Pending"


def test_a_double_click_cancels_once_and_sends_one_email(browser, order, mailoutbox,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = browser.post(cancel_url(order), {"reason": "customer"})
        second = browser.post(cancel_url(order), {"reason": "customer"})
    assert first.status_code == second.status_code == 302
    assert OrderCancellation.objects.filter(order=order).count() == 1
    assert len(mailoutbox) == 1
    html = browser.get(order_page(order)).content.decode()
    assert "already been cancelled" in html


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [("reason", "bored", "Select a valid choice"),
     ("comment", "x" * 1001, "The comment can be at most 1,000 characters long; this one has 1,001.")],
)
def test_bad_form_input_changes_nothing(browser, order, field, value, error):
    data = {"reason": "customer", "comment": ""}
    data[field] = value
    before = factories.snapshot(order)
    response = browser.post(cancel_url(order), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert factories.snapshot(order) == before


def _make_uncancellable(kind, order, settings):
    if kind == "site_toggle":
        CancellationSettings.objects.create(site=Site.objects.get_current(),
                                            allow_customer_cancellation=False)
    elif kind == "window":
        settings.OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = timedelta(minutes=30)
        order.date_placed = timezone.now() - timedelta(hours=2)
        order.save()
    elif kind == "status":
        order.set_status("Being processed")
    elif kind == "mapping":
        OrderStatusMapping.objects.create(status="Pending", display_name="Order received",
                                          allow_cancellation=False)
    elif kind == "setting":
        settings.OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES = ["Being processed"]
    elif kind == "paid":
        factories.pay(order, debited=order.total_incl_tax)


@pytest.mark.parametrize(
    ("kind", "code", "text"),
    [
        ("site_toggle", "customer_cancellation_disabled", "cannot be cancelled online"),
        ("window", "window_passed", "Orders can be cancelled within 30 minutes of purchase"),
        ("status", "not_cancellable_status", "already being prepared"),
        ("mapping", "not_cancellable_status",
         "Orders with the status “Order received” cannot be cancelled."),
        ("setting", "not_cancellable_status", "Orders with the status “Pending” cannot be cancelled."),
        ("paid", "paid_needs_force", "please contact us"),
    ],
)
def test_hidden_button_explains_why_and_a_crafted_post_is_refused_the_same(
        browser, order, customer, settings, kind, code, text):
    _make_uncancellable(kind, order, settings)
    decision = can_cancel(order, customer, channel="customer")
    assert decision.code == code

    page = browser.get(order_page(order))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="cancel-order-button"' not in html
    assert text in html
    if kind in ("mapping", "setting"):
        assert "already being prepared" not in html  # nothing is

    before = factories.snapshot(order)
    response = browser.post(cancel_url(order), {"reason": "customer"}, follow=True)
    assert factories.snapshot(order) == before
    assert decision.message in response.content.decode()


def test_comments_with_markup_are_shown_as_text(browser, order, superuser, client,
                                                mailoutbox, django_capture_on_commit_callbacks):
    evil = "<script>alert('x')</script>"
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(cancel_url(order), {"reason": "customer", "comment": evil})
    mail = mailoutbox[0]
    html_body = mail.alternatives[0][0]
    assert "<script>" not in html_body and "&lt;script&gt;" in html_body
    staff_client = Client()
    staff_client.force_login(superuser)
    dashboard = staff_client.get(reverse("dashboard:order-detail", kwargs={"number": order.number}))
    assert dashboard.status_code == 200
    page = dashboard.content.decode()
    assert evil not in page and "&lt;script&gt;" in page


def test_the_order_list_shows_cancel_for_cancellable_orders_only(browser, customer):
    open_order = factories.place_order(customer)
    busy_order = factories.place_order(customer)
    busy_order.set_status("Being processed")
    html = browser.get(reverse("customer:order-list")).content.decode()
    assert cancel_url(open_order) in html
    assert cancel_url(busy_order) not in html


def test_order_list_buttons_cost_at_most_two_queries(browser, customer, monkeypatch):
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from oscar.core.loading import get_class

    # Oscar reads OSCAR_ORDERS_PER_PAGE at import: set the page size on the view.
    monkeypatch.setattr(get_class("customer.views", "OrderHistoryView"), "paginate_by", 50)
    for _ in range(50):
        factories.place_order(customer, [("10.00", 1), ("5.00", 2)])
    url = reverse("customer:order-list")
    browser.get(url)  # warm the caches (site, session, user)
    with CaptureQueriesContext(connection) as with_buttons:
        html = browser.get(url).content.decode()
    assert html.count("ordercancel-list-cancel") == 50
    # The same page without the policy's work: no decisions, no buttons.
    with mock.patch("oscar_ordercancel.templatetags.ordercancel_tags.decisions_for",
                    return_value={}), CaptureQueriesContext(connection) as without_buttons:
        html = browser.get(url).content.decode()
    assert html.count("ordercancel-list-cancel") == 0
    assert len(with_buttons) - len(without_buttons) <= 2


def test_request_mode_shows_the_request_and_its_outcome(browser, order, settings):
    from oscar_ordercancel.services import reject_cancellation

    settings.OSCAR_ORDERCANCEL_MODE = "request"
    html = browser.get(order_page(order)).content.decode()
    assert "Request cancellation" in html
    browser.post(cancel_url(order), {"reason": "customer"})
    html = browser.get(order_page(order)).content.decode()
    assert "Cancellation requested on" in html
    assert 'id="cancel-order-button"' not in html
    reject_cancellation(order.cancellations.get(), reason="Already packed")
    html = browser.get(order_page(order)).content.decode()
    assert "was declined" in html and "Already packed" in html


@pytest.fixture
def guest_order():
    return factories.place_order(None, guest_email="guest@example.com")


def test_a_guest_cancels_from_the_order_status_page(client, guest_order, mailoutbox,
                                                     django_capture_on_commit_callbacks):
    status_url = factories.open_guest_order(client, guest_order)
    page = client.get(status_url)
    assert page.status_code == 200
    guest_cancel = reverse("oscar_ordercancel:anon-order-cancel", kwargs={
        "order_number": guest_order.number, "hash": guest_order.verification_hash()})
    assert guest_cancel in page.content.decode()
    assert client.get(guest_cancel).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(guest_cancel, {"reason": "customer"})
    assert response.status_code == 302 and response.url == status_url
    guest_order.refresh_from_db()
    assert guest_order.status == "Cancelled"
    cancellation = guest_order.cancellations.get()
    assert cancellation.channel == "guest" and cancellation.user is None
    assert mailoutbox[0].to == ["guest@example.com"]


def test_a_guest_without_the_verified_email_or_hash_gets_nothing(client, guest_order):
    before = factories.snapshot(guest_order)
    bad_hash = reverse("oscar_ordercancel:anon-order-cancel",
                       kwargs={"order_number": guest_order.number, "hash": "not-the-hash"})
    assert client.post(bad_hash, {"reason": "customer"}).status_code == 404
    no_session = reverse("oscar_ordercancel:anon-order-cancel", kwargs={
        "order_number": guest_order.number, "hash": guest_order.verification_hash()})
    if GUEST_ORDER_EMAIL_CHECK:  # Oscar 4.1+: the hash alone is not enough
        assert client.post(no_session, {"reason": "customer"}).status_code == 404
    assert factories.snapshot(guest_order) == before


def test_customers_are_offered_customer_reasons_only(browser, order):
    html = browser.get(cancel_url(order)).content.decode()
    assert "Customer request" in html and "Other" in html
    assert "Suspected fraud" not in html and "Staff decision" not in html
    before = factories.snapshot(order)
    assert browser.post(cancel_url(order), {"reason": "fraud"}).status_code == 400
    assert factories.snapshot(order) == before


def test_next_survives_a_form_error(browser, order):
    listing = reverse("customer:order-list")
    response = browser.post(cancel_url(order), {"reason": "bored", "next": listing})
    assert response.status_code == 400
    assert f'name="next" value="{listing}"' in response.content.decode()


def test_the_guest_cancel_url_sits_under_oscars_guest_page(guest_order):
    kwargs = {"order_number": guest_order.number, "hash": guest_order.verification_hash()}
    guest_cancel = reverse("oscar_ordercancel:anon-order-cancel", kwargs=kwargs)
    assert guest_cancel == reverse("customer:anon-order", kwargs=kwargs) + "cancel/"
    assert guest_cancel.startswith("/accounts/order-status/")


def test_the_old_guest_cancel_url_redirects_and_old_forms_still_work(
        client, guest_order, django_capture_on_commit_callbacks):
    status_url = factories.open_guest_order(client, guest_order)
    kwargs = {"order_number": guest_order.number, "hash": guest_order.verification_hash()}
    new = reverse("oscar_ordercancel:anon-order-cancel", kwargs=kwargs)
    old = f"/order-status/{guest_order.number}/{guest_order.verification_hash()}/cancel/"

    response = client.get(f"{old}?next=/accounts/")
    assert response.status_code == 301 and response.url == f"{new}?next=/accounts/"
    response = client.post(old, {"reason": "customer"})
    assert response.status_code == 308 and response.url == new
    guest_order.refresh_from_db()
    assert guest_order.status == "Pending"  # a redirect changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(old, {"reason": "customer"}, follow=True)
    assert response.redirect_chain == [(new, 308), (status_url, 302)]
    guest_order.refresh_from_db()
    assert guest_order.status == "Cancelled"


# -- the confirmation page of an order that is not (wholly) cancellable ---------------------


def test_the_confirmation_page_of_an_uncancellable_order_shows_only_the_refusal(client, customer):
    order = factories.place_order(customer)
    order.set_status("Being processed")
    client.force_login(customer)

    page = client.get(reverse("oscar_ordercancel:order-cancel", kwargs={"order_number": order.number}))

    text = page.content.decode()
    assert page.status_code == 200
    assert "Please confirm" not in text and 'id="ordercancel-form"' not in text
    assert "being prepared" in text and 'id="back-to-order"' in text


def test_the_confirmation_of_a_partly_cancelled_order_shows_what_is_cancelled_now(client, order, customer):
    first, second = lines_of(order)
    cancel_order(order, user=customer, lines={first.pk: 1}, channel="customer")
    client.force_login(customer)

    page = client.get(reverse("oscar_ordercancel:order-cancel", kwargs={"order_number": order.number}))

    rows = page.context["summary"]
    assert [(r["line"].pk, r["ordered"], r["cancelled"], r["now"]) for r in rows] == [
        (first.pk, 2, 1, 1), (second.pk, 1, 0, 1)]
    text = page.content.decode()
    assert "Already cancelled" in text and "To cancel now" in text
