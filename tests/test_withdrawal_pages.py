"""The withdrawal function's pages: two steps for guests and customers, no oracle, limits, one use."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import translation
from oscar.core.loading import get_model

from tests import factories
from tests.withdrawals import CONFIRM, WITHDRAW, step_one, token_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("withdrawal_on")]

WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
CSRF = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')


def test_a_guest_withdraws_in_two_steps_and_reads_the_acknowledgement(
        client, guest_order, mailoutbox, django_capture_on_commit_callbacks):
    page = client.get(WITHDRAW)
    assert page.status_code == 200
    assert "Withdraw from contract here" in page.content.decode()

    second = step_one(client, guest_order.number)
    html = second.content.decode()
    assert second.status_code == 200
    assert "Confirm withdrawal" in html and "Greta Guest" in html and "Linen shirt" in html
    assert not WithdrawalDeclaration.objects.exists()  # the second step records nothing
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(CONFIRM, {"token": token_of(second)})
    assert done.status_code == 302
    declaration = WithdrawalDeclaration.objects.get()
    guest_order.refresh_from_db()
    assert guest_order.status == "Cancelled" and declaration.channel == "guest"
    assert declaration.client_hash and "127.0.0.1" not in declaration.client_hash

    receipt = client.get(done["Location"])
    text = receipt.content.decode()
    assert receipt.status_code == 200
    for fact in (declaration.reference, "Greta Guest", "guest@example.com", str(guest_order.number),
                 "UTC", declaration.content_digest):
        assert fact in text
    [mail] = mailoutbox
    assert declaration.reference in mail.subject and mail.to == ["guest@example.com"]


def test_the_same_token_twice_records_one_declaration_and_shows_it_again(client, guest_order):
    token = token_of(step_one(client, guest_order.number))
    first = client.post(CONFIRM, {"token": token})
    second = client.post(CONFIRM, {"token": token})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert WithdrawalDeclaration.objects.count() == 1


@pytest.mark.parametrize("token", ["", "nonsense", "a" * 5000, None])
def test_a_bad_or_missing_token_records_nothing(client, guest_order, token):
    data = {} if token is None else {"token": token}
    page = client.post(CONFIRM, data)
    assert page.status_code == 400
    assert "Nothing was recorded" in page.content.decode()
    assert not WithdrawalDeclaration.objects.exists()


def test_an_expired_token_records_nothing(client, guest_order, settings):
    token = token_of(step_one(client, guest_order.number))
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_TOKEN_MAX_AGE = -1
    assert client.post(CONFIRM, {"token": token}).status_code == 400
    assert not WithdrawalDeclaration.objects.exists()


def test_the_confirm_address_takes_only_posts(client):
    assert client.get(CONFIRM).status_code == 405


def test_a_wrong_email_and_an_unknown_number_get_the_same_answer(client, guest_order):
    wrong_email = step_one(client, guest_order.number, email="someone@example.com")
    unknown = step_one(client, "999999999", email="someone@example.com")
    assert wrong_email.status_code == unknown.status_code == 400
    same = [CSRF.sub("", page.content.decode()).replace(str(guest_order.number), "N")
            .replace("999999999", "N") for page in (wrong_email, unknown)]
    assert same[0] == same[1]
    assert "We could not find an order with this order number and e-mail address" in same[0]
    assert not WithdrawalDeclaration.objects.exists()


def test_forty_failed_look_ups_from_one_address_meet_a_429_and_nothing_is_looked_up(
        client, guest_order):
    statuses = [step_one(client, f"{1000 + attempt}").status_code for attempt in range(40)]
    assert statuses[0] == 400 and statuses[-1] == 429
    assert statuses.index(429) == 20  # OSCAR_ORDERCANCEL_WITHDRAWAL_LOOKUP_LIMIT
    # past the limit even the right number and e-mail are not looked up
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        page = step_one(client, guest_order.number)
    assert page.status_code == 429
    assert not [q["sql"] for q in queries.captured_queries if "order_order" in q["sql"]]
    assert not WithdrawalDeclaration.objects.exists()


def test_failed_look_ups_of_one_order_number_from_many_addresses_are_limited_too(client, guest_order):
    for attempt in range(20):
        step_one(client, guest_order.number, email=f"guess{attempt}@example.com",
                 REMOTE_ADDR=f"10.0.0.{attempt}")
    page = client.post(WITHDRAW, {"name": "G", "email": "guest@example.com",
                                  "order_number": guest_order.number}, REMOTE_ADDR="10.0.1.1")
    assert page.status_code == 429


def test_the_honeypot_gets_the_not_found_answer_and_records_nothing(client, guest_order):
    page = step_one(client, guest_order.number, website="http://spam.example")
    assert page.status_code == 400
    assert "We could not find an order" in page.content.decode()
    assert "Confirm withdrawal" not in page.content.decode()


@pytest.mark.parametrize("data", [
    {},
    {"name": "", "email": "", "order_number": ""},
    {"name": "G", "email": "not-an-email", "order_number": "1"},
    {"name": "x" * 300, "email": "guest@example.com", "order_number": "1"},
    {"name": ["a", "b"], "email": "guest@example.com", "order_number": ["1", "2"]},
    {"name": "G", "email": "guest@example.com", "order_number": "1" * 500},
])
def test_bad_input_on_the_first_step_gets_a_message_and_records_nothing(client, guest_order, data):
    page = client.post(WITHDRAW, data)
    assert page.status_code == 400
    assert not WithdrawalDeclaration.objects.exists()


def test_a_json_body_is_not_a_withdrawal(client, guest_order):
    page = client.post(WITHDRAW, json.dumps({"name": "G", "email": "guest@example.com",
                                             "order_number": guest_order.number}),
                       content_type="application/json")
    assert page.status_code == 400
    assert not WithdrawalDeclaration.objects.exists()


def test_a_signed_in_customer_finds_the_form_filled_in(client, customer, order):
    customer.first_name, customer.last_name = "Cara", "Customer"
    customer.save()
    client.force_login(customer)
    html = client.get(WITHDRAW).content.decode()
    assert 'value="Cara Customer"' in html and f'value="{customer.email}"' in html
    # their own order needs no e-mail that matches: the account proves it
    page = step_one(client, order.number, email="typo@example.com", name="Cara Customer")
    assert page.status_code == 200 and "Confirm withdrawal" in page.content.decode()


def test_a_customer_withdraws_one_line_of_two_from_the_order_page(client, customer, order):
    first, second = order.lines.order_by("pk")
    client.force_login(customer)
    url = reverse("oscar_ordercancel:order-withdraw", kwargs={"order_number": order.number})
    page = client.get(url)
    assert page.status_code == 200
    assert f'name="quantity_{first.pk}"' in page.content.decode()

    second_step = client.post(url, {f"quantity_{first.pk}": "0", f"quantity_{second.pk}": "1",
                                    "name": "Cara Customer"})
    assert second_step.status_code == 200
    assert client.post(CONFIRM, {"token": token_of(second_step)}).status_code == 302

    declaration = WithdrawalDeclaration.objects.get()
    assert [(wl.line_id, wl.quantity) for wl in declaration.lines.all()] == [(second.pk, 1)]
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.status == "Cancelled" and first.status != "Cancelled"
    assert declaration.channel == "account" and declaration.user == customer


@pytest.mark.parametrize("fields", [
    {"quantity_{first}": "-1"}, {"quantity_{first}": "abc"}, {"quantity_{first}": "9" * 30},
    {"quantity_{first}": "3"}, {"quantity_999999": "1"}, {"quantity_{first}": ["1", "1"]},
    {"quantity_{first}": "0"}, {"quantity_x": "1"}, {"quantity_{first}": "1.5"},
])
def test_bad_quantities_on_the_order_page_get_a_message_and_record_nothing(client, customer, order,
                                                                            fields):
    first = order.lines.order_by("pk").first()
    client.force_login(customer)
    url = reverse("oscar_ordercancel:order-withdraw", kwargs={"order_number": order.number})
    data = {key.format(first=first.pk): value for key, value in fields.items()}
    page = client.post(url, data)
    assert page.status_code == 400
    assert 'id="withdraw-refusal"' in page.content.decode()
    assert not WithdrawalDeclaration.objects.exists()


def test_another_customers_order_page_is_not_found(client, other_customer, order):
    client.force_login(other_customer)
    url = reverse("oscar_ordercancel:order-withdraw", kwargs={"order_number": order.number})
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404


def test_a_token_of_another_customer_is_refused(client, customer, other_customer, order):
    client.force_login(customer)
    url = reverse("oscar_ordercancel:order-withdraw", kwargs={"order_number": order.number})
    token = token_of(client.post(url, {"name": "Cara"}))
    client.force_login(other_customer)
    assert client.post(CONFIRM, {"token": token}).status_code == 403
    assert not WithdrawalDeclaration.objects.exists()


def test_disabled_every_page_is_not_found(client, customer, order, settings):
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
    client.force_login(customer)
    url = reverse("oscar_ordercancel:order-withdraw", kwargs={"order_number": order.number})
    assert client.get(WITHDRAW).status_code == 404
    assert client.post(CONFIRM, {"token": "x"}).status_code == 404
    assert client.get(url).status_code == 404
    done = reverse("oscar_ordercancel:withdraw-done", kwargs={"token": "x"})
    assert client.get(done).status_code == 404


def test_a_refusal_is_true_to_the_customer(client, customer, settings):
    order = factories.place_order(customer, [("10.00", 1)])
    product_class = order.lines.get().product.get_product_class()
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = (product_class.slug,)
    page = step_one(client, order.number, email=customer.email)
    assert page.status_code == 400
    assert "no right of withdrawal" in page.content.decode()
    assert not WithdrawalDeclaration.objects.exists()


def test_the_german_pages_use_the_statutory_wording(client, guest_order):
    with translation.override("de"):
        first = client.get(WITHDRAW, HTTP_ACCEPT_LANGUAGE="de")
        second = step_one(client, guest_order.number, HTTP_ACCEPT_LANGUAGE="de")
    assert "Vertrag widerrufen" in first.content.decode()
    assert "Widerruf bestätigen" in second.content.decode()


def test_the_pages_cost_no_more_queries_for_fifty_lines_than_for_one(client, customer):
    client.force_login(customer)
    counts = {}
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for size in (1, 50):
        order = factories.place_order(customer, [("1.00", 1)] * size)
        url = reverse("oscar_ordercancel:order-withdraw", kwargs={"order_number": order.number})
        steps = []
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        steps.append(len(queries))
        with CaptureQueriesContext(connection) as queries:
            second = client.post(url, {"name": "Cara"})
        steps.append(len(queries))
        with CaptureQueriesContext(connection) as queries:
            assert client.post(CONFIRM, {"token": token_of(second)}).status_code == 302
        steps.append(len(queries))
        with CaptureQueriesContext(connection) as queries:
            assert step_one(client, order.number, email=customer.email).status_code == 400
        steps.append(len(queries))  # everything withdrawn now: the refusal
        counts[size] = steps
    print("withdrawal page queries (get, step two, confirm, refusal) 1 line vs 50:", counts)
    assert all(big <= small + 3 for small, big in zip(counts[1], counts[50], strict=True)), counts
