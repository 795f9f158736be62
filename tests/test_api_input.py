"""Malformed bodies on the cancel endpoints: a 400 that says what is wrong, never a 500,
and a partial cancel never widened into more than the body asked for."""

import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests import factories

pytest.importorskip("oscarapi")
pytestmark = pytest.mark.django_db


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


# ------------------------------------------------ a form body never widens a partial cancel


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


# ------------------------------------------------------- malformed JSON: a 400, never a 500


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
