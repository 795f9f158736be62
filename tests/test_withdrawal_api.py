"""``POST api/orders/<pk>/withdraw/``: the withdrawal function for a shop's app."""

import pytest
from django.urls import reverse
from oscar.core.loading import get_model
from rest_framework.test import APIClient

from tests import factories

pytest.importorskip("oscarapi")
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("withdrawal_on")]

WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")


def url(order):
    return reverse("oscar_ordercancel:api-order-withdraw", kwargs={"pk": order.pk})


@pytest.fixture
def api(customer):
    client = APIClient()
    client.force_authenticate(customer)
    return client


def test_the_owner_withdraws_from_one_line_and_reads_the_declaration(api, order, customer, mailoutbox,
                                                                     django_capture_on_commit_callbacks):
    first, second = order.lines.order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url(order), {"name": "Cara Customer",
                                         "lines": [{"line": second.pk, "quantity": 1}]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    declaration = WithdrawalDeclaration.objects.get()
    assert body["reference"] == declaration.reference and body["channel"] == "api"
    assert body["state"] == "cancelled" and body["content_digest"] == declaration.content_digest
    assert body["lines"] == [{"line": second.pk, "title": second.title, "quantity": 1,
                              "outcome": "cancelled"}]
    assert body["email"] == customer.email and body["name"] == "Cara Customer"
    [mail] = mailoutbox
    assert declaration.reference in mail.subject


def test_without_lines_everything_withdrawable_is_withdrawn(api, order, customer):
    customer.first_name = "Cara"
    customer.save()
    response = api.post(url(order), {}, format="json")
    assert response.status_code == 201
    assert response.json()["name"] == "Cara"
    assert sum(line["quantity"] for line in response.json()["lines"]) == 3


def test_another_customers_order_is_not_found_and_nothing_recorded(order, other_customer):
    client = APIClient()
    client.force_authenticate(other_customer)
    assert client.post(url(order), {"name": "X"}, format="json").status_code == 404
    assert APIClient().post(url(order), {"name": "X"}, format="json").status_code in (401, 403)
    assert not WithdrawalDeclaration.objects.exists()


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"name": "C", "lines": [{"line": 0, "quantity": 1}]}, 400, None),
    ({"name": "C", "lines": [{"line": "1", "quantity": 1}]}, 400, "invalid_input"),
    ({"name": "C", "lines": [{"line": None, "quantity": 1}]}, 400, "invalid_input"),
    ({"name": "C", "lines": "all"}, 400, "invalid_input"),
    ({"name": "C", "lines": []}, 400, "invalid_input"),
    ({"name": "C", "lines": [{"line": "{first}", "quantity": -1}]}, 400, "invalid_quantity"),
    ({"name": "C", "lines": [{"line": "{first}", "quantity": 10**12}]}, 400, None),
    ({"name": "C", "lines": [{"line": "{first}", "quantity": 3}]}, 400, "quantity_not_withdrawable"),
    ({"name": ["C"]}, 400, "invalid_input"),
    ({"name": None}, 400, "invalid_input"),
    ({"name": ""}, 400, "withdrawal_name_required"),
])
def test_hostile_bodies_get_an_error_and_record_nothing(api, order, body, status, code):
    first = order.lines.order_by("pk").first()

    def fill(value):
        if value == "{first}":
            return first.pk
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value

    response = api.post(url(order), fill(body), format="json")
    assert response.status_code == status, response.json()
    if code:
        assert response.json()["code"] == code
    assert not WithdrawalDeclaration.objects.exists()


def test_a_refusal_says_why(api, customer, settings):
    order = factories.place_order(customer, [("10.00", 1)])
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = (
        order.lines.get().product.get_product_class().slug,)
    response = api.post(url(order), {"name": "C"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "withdrawal_excluded"


def test_disabled_it_is_not_found(api, order, settings):
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
    assert api.post(url(order), {"name": "C"}, format="json").status_code == 404
