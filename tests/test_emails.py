"""What the package's e-mails say: customer-facing reasons only, and one signature."""

import re

import pytest
from django.contrib.sites.models import Site
from django.urls import reverse
from oscar.core.loading import get_model

from oscar_ordercancel import conf
from oscar_ordercancel.services import cancel_order, confirm_cancellation, reject_cancellation
from tests import factories

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")


def parts(mail) -> tuple[str, str]:
    """The text and HTML bodies of ``mail``."""
    return mail.body, mail.alternatives[0][0]


def signature() -> str:
    return f"The {Site.objects.get_current().name} team"


@pytest.fixture
def cancelled_by_staff(order, staff, mailoutbox, django_capture_on_commit_callbacks):
    def cancel(reason):
        with django_capture_on_commit_callbacks(execute=True):
            cancel_order(order, user=staff, reason=reason, note="Card flagged by the bank",
                         channel="dashboard")
        return mailoutbox[-1]
    return cancel


@pytest.mark.parametrize(("reason", "label"), [("staff", "Staff decision"), ("fraud", "Suspected fraud")])
def test_a_staff_only_reason_is_not_told_to_the_customer(cancelled_by_staff, reason, label):
    mail = cancelled_by_staff(reason)
    for body in parts(mail):
        assert "has been cancelled" in body
        assert label not in body and "Reason:" not in body
        assert "Card flagged" not in body  # the staff note stays with staff


@pytest.mark.parametrize(("reason", "staff_label", "wording"), [
    ("customer", "Customer request", "At your request"),
    ("inventory", "Out of stock", "An item is out of stock"),
    ("declined", "Payment declined", "The payment was declined"),
])
def test_a_staff_reason_a_customer_may_know_is_told_in_customer_words(
        cancelled_by_staff, reason, staff_label, wording):
    mail = cancelled_by_staff(reason)
    for body in parts(mail):
        assert f"Reason: {wording}" in body
        assert staff_label not in body


def test_a_reason_customers_may_choose_is_told_by_its_label(cancelled_by_staff):
    mail = cancelled_by_staff("other")
    for body in parts(mail):
        assert "Reason: Other" in body


def test_the_shop_decides_which_reasons_customers_read(cancelled_by_staff, settings):
    settings.OSCAR_ORDERCANCEL_CUSTOMER_REASON_LABELS = {"fraud": "We could not verify the order"}
    mail = cancelled_by_staff("fraud")
    for body in parts(mail):
        assert "Reason: We could not verify the order" in body
        assert "Suspected fraud" not in body
    settings.OSCAR_ORDERCANCEL_CUSTOMER_REASON_LABELS = {}
    assert conf.customer_reason_label("inventory") == ""
    assert conf.customer_reason_label("other") == "Other"


def test_the_customer_order_page_shows_no_staff_only_reason(client, customer, order, staff):
    cancel_order(order, user=staff, reason="fraud", channel="dashboard")
    client.force_login(customer)
    page = client.get(reverse("customer:order", kwargs={"order_number": order.number}))
    assert page.status_code == 200
    html = page.content.decode()
    assert "This order was cancelled on" in html
    assert "Suspected fraud" not in html and "Reason:" not in html


def test_the_customer_api_shows_no_staff_only_reason(order, customer, staff):
    pytest.importorskip("oscarapi")
    from rest_framework.test import APIClient

    cancel_order(order, user=staff, reason="fraud", channel="dashboard")
    api = APIClient()
    api.force_authenticate(customer)
    body = api.get(reverse("oscar_ordercancel:api-order-cancellations",
                           kwargs={"pk": order.pk})).json()
    assert [(c["reason"], c["reason_label"]) for c in body] == [("", "")]


def _signed_once(body: str) -> bool:
    return body.count(signature()) == 1 and not re.search(r"^The team$", body, re.M)


def test_the_cancellation_emails_are_signed_with_the_sites_name(
        order, customer, settings, mailoutbox, django_capture_on_commit_callbacks):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    with django_capture_on_commit_callbacks(execute=True):
        cancellation = cancel_order(order, user=customer, reason="customer", channel="customer")
    with django_capture_on_commit_callbacks(execute=True):
        reject_cancellation(cancellation, reason="Already packed")
    other = factories.place_order(customer)
    settings.OSCAR_ORDERCANCEL_MODE = "immediate"
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(other, user=customer, reason="customer", channel="customer")
    assert [m.subject for m in mailoutbox] == [
        f"We have received your request to cancel order {order.number}",
        f"Your order {order.number} could not be cancelled",
        f"Your order {other.number} has been cancelled",
    ]
    for mail in mailoutbox:
        text, html = parts(mail)
        assert _signed_once(text), text
        assert _signed_once(html), html


def test_the_partner_and_staff_emails_are_signed_with_the_sites_name(order, staff, settings, mailoutbox):
    from oscar_ordercancel.jobs.monitor import FailureStreak, send_failure_alert
    from oscar_ordercancel.processors import EmailProcessor

    settings.OSCAR_ORDERCANCEL_FAILURE_ALERT_EMAILS = ["ops@example.com"]
    payload = {"job": "OrderCancel", "parameters": {"OrderNumber": order.number},
               "cancellation": {"full": True, "mode": "immediate"}, "lines": [],
               "reason": {"code": "", "label": ""}}
    messages = EmailProcessor("partner", {"to": ["partner@example.com"]}).messages(payload, "oc_1")
    send_failure_alert(FailureStreak(processor="partner", count=5, last_error="timeout"))
    alert = mailoutbox[-1]
    for text, html in ((messages["body"], messages["html"]), parts(alert)):
        assert _signed_once(text), text
        assert _signed_once(html), html
        assert "Thanks for using our site" not in html  # not a customer


def test_an_email_template_may_show_statuses_for_one_query(order, staff, mailoutbox,
                                                           django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from oscar.core.loading import get_model

    from oscar_ordercancel.models import OrderStatusMapping
    from oscar_ordercancel.notifications import send_cancellation_email

    OrderStatusMapping.objects.create(status="Cancelled", display_name="Cancelled by the shop")
    get_model("communication", "CommunicationEventType").objects.update_or_create(
        code="ORDER_CANCELLED", defaults={
            "name": "Order cancelled",
            "email_subject_template": "{% load ordercancel_tags %}{{ order.status|status_display }}",
            "email_body_template": "{% load ordercancel_tags %}" + "{{ order.status|status_display }} " * 5,
            "email_body_html_template": "{% load ordercancel_tags %}{{ order.status|status_display }}"})
    cancellation = cancel_order(order, user=staff, channel="dashboard", notify_customer=False)
    with CaptureQueriesContext(connection) as queries:
        send_cancellation_email(cancellation.pk)
    assert mailoutbox[-1].subject == "Cancelled by the shop"
    assert mailoutbox[-1].body.split() == ["Cancelled", "by", "the", "shop"] * 5
    reads = [q for q in queries.captured_queries
             if q["sql"].startswith('SELECT "oscar_ordercancel_orderstatusmapping"')]
    assert len(reads) == 1


def test_the_text_email_shows_the_comment_as_written_and_the_html_escapes_it(
        order, customer, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order, user=customer, channel="customer", comment="<script>x</script> & co")
    message = mailoutbox[0]
    assert "<script>x</script> & co" in message.body
    assert "&lt;" not in message.body
    html = message.alternatives[0][0]
    assert "&lt;script&gt;" in html and "<script>x" not in html


def test_emails_link_to_the_orders_own_site(order, customer, mailoutbox, django_capture_on_commit_callbacks):
    other = Site.objects.create(domain="shop-two.test", name="Shop two")
    Order.objects.filter(pk=order.pk).update(site=other)
    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order, user=customer, channel="customer")
    body = mailoutbox[0].body
    assert "://shop-two.test/accounts/orders/" in body
    assert Site.objects.get_current().domain not in body


def test_a_confirmation_honours_the_original_notify_customer(order, staff, settings, mailoutbox,
                                                             django_capture_on_commit_callbacks):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    with django_capture_on_commit_callbacks(execute=True):
        cancellation = cancel_order(order, user=staff, notify_customer=False)
    assert cancellation.notify_customer is False
    with django_capture_on_commit_callbacks(execute=True):
        confirm_cancellation(cancellation)
    order.refresh_from_db()
    assert order.status == "Cancelled"
    assert mailoutbox == []
