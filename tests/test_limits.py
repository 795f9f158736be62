"""One limit per field, from ``oscar_ordercancel.limits``, with one message on every surface.

The REST API, CSV batches and ``cancel_orders`` have their own tests of the same
limits (``test_api.py``, ``test_batches.py``, ``test_dashboard_batches.py``,
``test_batch_command.py``); these are the Python API and the forms.
"""

import pytest
from django.conf import settings
from django.urls import reverse

from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = pytest.mark.django_db

NOTE_MESSAGE = "The note can be at most 2,000 characters long; this one has 2,001."
COMMENT_MESSAGE = "The comment can be at most 1,000 characters long; this one has 1,001."
forks_only = pytest.mark.skipif(
    not any(app.startswith("oscar_ordercancel.dashboard.orders") for app in settings.INSTALLED_APPS),
    reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)")


@pytest.mark.parametrize(("field", "message"), [("note", NOTE_MESSAGE), ("comment", COMMENT_MESSAGE)])
def test_cancel_order_itself_refuses_a_note_or_comment_over_its_limit(order, staff, field, message):
    before = factories.snapshot(order)
    length = {"note": 2001, "comment": 1001}[field]
    with pytest.raises(CancellationError) as refused:
        cancel_order(order, user=staff, **{field: "x" * length})
    assert (refused.value.code, refused.value.message) == (f"{field}_too_long", message)
    assert factories.snapshot(order) == before
    assert cancel_order(order, user=staff, **{field: "x" * (length - 1)}).is_full


def test_a_batch_note_over_the_limit_fails_its_row_in_the_engine_too(staff, customer):
    """A batch built in code (not from a file) still meets the engine's limit."""
    from oscar_ordercancel.engine.batch import CancelRequest, cancel_many

    order = factories.place_order(customer, [("10.00", 1)])
    [outcome] = cancel_many([CancelRequest(order_id=order.pk, user=staff, note="x" * 2001)])
    assert (outcome.error.code, outcome.error.message) == ("note_too_long", NOTE_MESSAGE)
    assert factories.snapshot(order)["cancellations"] == 0


def test_the_customer_form_gives_the_same_message(client, customer, order):
    client.force_login(customer)
    url = reverse("oscar_ordercancel:order-cancel", kwargs={"order_number": order.number})
    page = client.get(url).content.decode()
    assert 'maxlength="1000"' in page
    response = client.post(url, {"reason": "customer", "comment": "c" * 1001})
    assert response.status_code == 400
    assert COMMENT_MESSAGE in response.content.decode()
    assert factories.snapshot(order)["cancellations"] == 0


@forks_only
def test_the_dashboard_cancel_form_gives_the_same_message(client, order):
    clerk = factories.create_user("clerk@example.com", is_staff=True,
                                  perms=["order.view_order", "oscar_ordercancel.cancel_order"])
    client.force_login(clerk)
    url = reverse("dashboard:order-cancel", kwargs={"number": order.number})
    assert 'maxlength="2000"' in client.get(url).content.decode()
    data = {f"quantity_{line.pk}": line.quantity for line in order.lines.all()}
    response = client.post(url, {**data, "reason": "staff", "note": "n" * 2001})
    assert NOTE_MESSAGE in response.content.decode()
    assert factories.snapshot(order)["cancellations"] == 0


@pytest.mark.parametrize(("form_name", "field", "value", "message"), [
    ("ConfirmCancellationForm", "note", "n" * 2001, NOTE_MESSAGE),
    ("RejectCancellationForm", "reason", "r" * 1001,
     "The reason can be at most 1,000 characters long; this one has 1,001."),
    ("GiveUpForm", "reason", "r" * 501,
     "The reason can be at most 500 characters long; this one has 501."),
])
def test_the_settle_and_job_forms_give_the_same_message(form_name, field, value, message):
    from oscar_ordercancel.dashboard import forms

    form = getattr(forms, form_name)({field: value})
    assert not form.is_valid()
    assert form.errors[field] == [message]
    assert getattr(forms, form_name)({field: value[:-1]}).is_valid()
