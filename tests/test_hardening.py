"""Defects found by trying the shop as a new user would, each pinned by a test (issue 6)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from oscar.core.loading import get_class, get_model
from rest_framework.test import APIClient

from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.models import OrderCancellation
from oscar_ordercancel.policy import can_cancel
from oscar_ordercancel.services import cancel_order, confirm_cancellation
from tests import factories

pytest.importorskip("oscarapi")
pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")
StockAlert = get_model("partner", "StockAlert")
DOCS = Path(__file__).resolve().parent.parent / "docs"


def api_cancel(order):
    return reverse("oscar_ordercancel:api-order-cancel", kwargs={"pk": order.pk})


def api_admin_cancel(order):
    return reverse("oscar_ordercancel:api-admin-order-cancel", kwargs={"pk": order.pk})


def api_cancellations(order):
    return reverse("oscar_ordercancel:api-order-cancellations", kwargs={"pk": order.pk})


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def lines_of(order):
    return list(order.lines.order_by("pk"))


# ---------------------------------------------- 1. a partial cancel never widens


@pytest.mark.parametrize("body", [
    {"lines": "1"},
    {"lines": "x"},
    {"lines": ""},
    {"lines[x]": "1"},
    {"lines[0]line": "1"},  # an item without its quantity
])
@pytest.mark.parametrize("endpoint", ["owner", "staff"])
def test_a_form_body_naming_lines_it_cannot_read_is_refused(order, customer, superuser, body, endpoint):
    before = factories.snapshot(order)
    user, url = (customer, api_cancel(order)) if endpoint == "owner" else (superuser, api_admin_cancel(order))

    response = client_for(user).post(url, body)  # multipart form, as a browser or curl -F sends

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input" and "lines" in response.json()["errors"]
    assert factories.snapshot(order) == before


def test_a_form_encoded_lines_body_is_refused_too(order, customer):
    before = factories.snapshot(order)
    response = client_for(customer).post(api_cancel(order), "lines=1",
                                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.json()["code"] == "invalid_input"
    assert factories.snapshot(order) == before


def test_a_form_body_with_well_formed_items_cancels_only_those(order, customer):
    first, second = lines_of(order)
    response = client_for(customer).post(
        api_cancel(order), {"lines[0]line": str(first.pk), "lines[0]quantity": "1"})
    assert response.status_code == 201, response.json()
    assert response.json()["is_full"] is False
    order.refresh_from_db()
    assert order.status == "Pending"


# ------------------------------------------ 2 + 3. malformed JSON: a 400, never a 500


@pytest.mark.parametrize("lines", [
    [None], None, [[1, 2]], ["1"], [{"line": None, "quantity": 1}], [{"line": 1}],
    [{"line": "abc", "quantity": 1}], [{"line": 1, "quantity": 1.5}],
    [{"line": 2**70, "quantity": 1}], [{"line": 1, "quantity": 2**70}], {"line": 1, "quantity": 1},
    [{"line": True, "quantity": 1}], [], "1",
])
@pytest.mark.parametrize("endpoint", ["owner", "staff"])
def test_malformed_lines_are_a_json_400(order, customer, superuser, lines, endpoint):
    before = factories.snapshot(order)
    user, url = (customer, api_cancel(order)) if endpoint == "owner" else (superuser, api_admin_cancel(order))

    response = client_for(user).post(url, {"lines": lines}, format="json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "invalid_input" and response.json()["message"]
    assert factories.snapshot(order) == before


@pytest.mark.parametrize("items", [
    [{"line": "FIRST", "quantity": 2}, {"line": "FIRST", "quantity": -1}],
    [{"line": "FIRST", "quantity": 0}],
    [{"line": "FIRST", "quantity": 1}, {"line": "SECOND", "quantity": 0}],
])
def test_every_item_is_validated_on_its_own(order, customer, items):
    first, second = lines_of(order)
    ids = {"FIRST": first.pk, "SECOND": second.pk}
    body = {"lines": [{**item, "line": ids[item["line"]]} for item in items]}
    before = factories.snapshot(order)

    response = client_for(customer).post(api_cancel(order), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_quantity" and response.json()["message"]
    assert factories.snapshot(order) == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**80, max_value=2**80)
    | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["line", "quantity", "reason", "x"]), children, max_size=3),
    max_leaves=12,
)
bodies = st.dictionaries(
    st.sampled_from(["lines", "reason", "comment", "note", "force", "refund", "on_behalf_of",
                     "notify_customer", "lines[0]line", "extra"]),
    json_values, max_size=6,
)


@pytest.mark.django_db(transaction=True)
@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies, as_form=st.booleans(), duplicate=st.booleans())
def test_generated_bodies_never_give_a_server_error_or_change_another_order(
        body, as_form, duplicate, generated_world):
    """Nulls, nested lists, strings, huge and negative numbers, duplicate keys: never a 5xx."""
    world = generated_world
    target = factories.place_order(world["owner_user"], [("10.00", 3), ("5.00", 1)])  # fresh each time
    payload = json.dumps(body)  # Python writes Infinity for an infinite float: also sent
    if duplicate and body:  # a repeated key: JSON parsers keep the last one
        key = next(iter(body))
        payload = payload[:-1] + f', "{key}": null}}'
    form = {key: value if isinstance(value, str) else
            "" if value is None else json.dumps(value) for key, value in body.items()}
    for client, url in ((world["owner"], api_cancel(target)), (world["staff"], api_admin_cancel(target))):
        if as_form:
            response = client.post(url, form)
        else:
            response = client.post(url, payload, content_type="application/json")
        assert response.status_code < 500, (body, response.content[:300])
        assert response["Content-Type"].startswith("application/json")
    assert world["owner"].get(api_cancellations(target), {"lines": payload}).status_code == 200
    # the bystander's order is never touched, whatever the body said
    assert factories.snapshot(world["bystander"]) == world["bystander_before"]


@pytest.fixture
def generated_world(db):
    owner = factories.create_user("owner-h@example.com")
    staff = factories.create_user("staff-h@example.com", is_staff=True, is_superuser=True)
    bystander = factories.place_order(factories.create_user("by-h@example.com"), [("3.00", 2)])
    return {
        "owner_user": owner, "owner": client_for(owner), "staff": client_for(staff),
        "bystander": bystander, "bystander_before": factories.snapshot(bystander),
    }


# ----------------------------- 5. Oscar's own status change goes through the engine

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


# ------------------------------------------------ 6. the audit trail is read-only


def test_cancellation_records_are_view_only_in_the_admin(client, order, superuser):
    cancellation = cancel_order(order, user=superuser, note="audit")
    client.force_login(superuser)
    model_admin = admin.site._registry[OrderCancellation]
    request = RequestFactory().get("/")
    request.user = superuser

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, cancellation)
    assert not model_admin.has_delete_permission(request, cancellation)
    assert model_admin.has_view_permission(request, cancellation)
    change_url = reverse("admin:oscar_ordercancel_ordercancellation_change", args=[cancellation.pk])
    assert client.post(change_url, {"state": "rejected", "channel": "api"}).status_code == 403
    delete_url = reverse("admin:oscar_ordercancel_ordercancellation_delete", args=[cancellation.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:oscar_ordercancel_ordercancellation_add")).status_code == 403
    cancellation.refresh_from_db()
    assert cancellation.state == "completed" and cancellation.channel == "code"
    listing = client.get(reverse("admin:oscar_ordercancel_ordercancellation_changelist"),
                         {"q": order.number, "state__exact": "completed"})
    assert listing.status_code == 200 and str(order.number) in listing.content.decode()
    page = client.get(change_url).content.decode()
    assert 'name="state"' not in page  # shown, not editable


# ------------------------------------------------- 7-9. what the customer reads


def test_each_refusal_has_its_true_words(customer):
    shipped = factories.place_order(customer, [("4.00", 1)])
    factories.ship(shipped, shipped.lines.get(), 1)
    shipped.set_status("Being processed")
    shipped.set_status("Shipped")
    complete = factories.place_order(customer)
    for status in ("Being processed", "Shipped", "Complete"):
        complete.set_status(status)
    processing = factories.place_order(customer)
    processing.set_status("Being processed")
    cancelled = factories.place_order(customer)
    cancel_order(cancelled, user=None)

    def words(order):
        return can_cancel(order, customer, channel="customer").message

    assert "shipped" in words(shipped) and "prepared" not in words(shipped)
    assert "complete" in words(complete)
    assert "being prepared" in words(processing)
    assert "already been cancelled" in words(cancelled)


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


# ----------------------------------------------------------------- 10-12. e-mails


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


# --------------------------------------------------------------- 13. stock alerts


def test_releasing_allocations_closes_low_stock_alerts(customer, staff):
    order = factories.place_order(customer, [("10.00", 4)], num_in_stock=5)
    record = order.lines.get().stockrecord
    record.low_stock_threshold = 2
    record.save()  # Oscar's receiver opens an alert: 5 in stock - 4 allocated = 1 < 2
    assert StockAlert.objects.filter(stockrecord=record, status=StockAlert.OPEN).count() == 1

    cancel_order(order, user=staff)

    record.refresh_from_db()
    assert record.num_allocated == 0
    assert not StockAlert.objects.filter(stockrecord=record, status=StockAlert.OPEN).exists()
    assert StockAlert.objects.filter(stockrecord=record, status=StockAlert.CLOSED).count() == 1


# ------------------------------------------------------------ 14-15. docs, sandbox


def test_the_docs_state_the_customer_reasons_setting_and_every_api_code():
    from oscar_ordercancel.api.errors import STATUS_BY_CODE
    from oscar_ordercancel.policy.decision import MESSAGES

    settings_doc = (DOCS / "settings.rst").read_text()
    assert "OSCAR_ORDERCANCEL_CUSTOMER_REASONS" in settings_doc
    assert "OSCAR_ORDERCANCEL_LOCK_TIMEOUT" in settings_doc
    rest = (DOCS / "rest-api.rst").read_text()
    # every code a cancel endpoint can answer: the status table's, and the policy's and
    # engine's (the resubmit codes and message variants are not cancellation answers)
    not_api = {"not_resubmittable", "already_resubmitted", "product_unavailable",
               "insufficient_stock", "use_cancel_form"}
    codes = set(STATUS_BY_CODE) | {c for c in MESSAGES if not c.startswith("status_")} - not_api
    missing = sorted(code for code in codes if f"``{code}``" not in rest)
    assert missing == []
    assert "JSON list" in rest


def test_the_sandbox_serves_links_on_its_port_and_prints_the_guest_order_page(client):
    out = StringIO()
    call_command("load_demo_data", "--port", "8100", stdout=out)
    printed = out.getvalue()
    assert Site.objects.get_current().domain == "127.0.0.1:8100"
    assert "http://127.0.0.1:8100/dashboard/orders/" in printed
    guest_line = next(line for line in printed.splitlines() if "guest order page" in line)
    email, path = guest_line.split("enter ", 1)[1].split("): http://127.0.0.1:8100", 1)
    guest = Client()
    form = guest.get(path, follow=True)  # Oscar asks for the order's e-mail address first
    assert form.status_code == 200 and form.redirect_chain
    page = guest.post(form.redirect_chain[-1][0], {"email": email}, follow=True)
    assert page.status_code == 200 and "Cancel order" in page.content.decode()
    makefile = (DOCS.parent / "Makefile").read_text()
    assert "sandbox.run --port $(PORT)" in makefile and "load_demo_data --port $(PORT)" in makefile
    from sandbox.run import server_command

    assert server_command(8100)[-2:] == ["runserver", "127.0.0.1:8100"]

