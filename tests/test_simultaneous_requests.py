"""Simultaneous requests: two submits at once, two staff users at once, and a lock held too long.

Never a 500, nothing half done.

These run on PostgreSQL and, in ``make test``, again on a file-based SQLite database
with the sandbox's options (``transaction_mode = IMMEDIATE``, a timeout) and
``ATOMIC_REQUESTS``, which is where "database is locked" used to answer a 500.
"""

import sqlite3
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from oscar_ordercancel.models import OrderCancellation
from tests import factories

pytestmark = [pytest.mark.shared_db, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def atomic_requests():
    """Every request in one transaction, as in the sandbox and Oscar's recommended settings."""
    settings_dict = connection.settings_dict
    before = settings_dict.get("ATOMIC_REQUESTS", False)
    settings_dict["ATOMIC_REQUESTS"] = True
    yield
    settings_dict["ATOMIC_REQUESTS"] = before


def _at_once(*calls):
    """Run ``calls`` in threads released together; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _customer_and_order():
    customer = factories.create_user("busy@example.com")
    return customer, factories.place_order(customer, [("10.00", 2), ("5.00", 1)])


def test_two_simultaneous_customer_submits_cancel_once_and_never_fail():
    customer, order = _customer_and_order()
    url = reverse("oscar_ordercancel:order-cancel", kwargs={"order_number": order.number})

    def submit():
        client = Client()
        client.force_login(customer)
        response = client.post(url, {"reason": "customer"})
        messages = [str(m) for m in response.wsgi_request._messages]
        return response.status_code, messages

    results = _at_once(submit, submit)

    assert [status for status, __ in results] == [302, 302]
    said = [messages for __, messages in results]
    assert any("has been cancelled" in " ".join(m) for m in said)
    assert any("already been cancelled" in " ".join(m) for m in said)
    assert OrderCancellation.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.status == "Cancelled" and order.notes.count() == 1
    assert all(line.stockrecord.num_allocated == 0 for line in order.lines.all())


def test_two_simultaneous_api_submits_give_one_201_and_one_409():
    customer, order = _customer_and_order()
    url = reverse("oscar_ordercancel:api-order-cancel", kwargs={"pk": order.pk})

    def submit():
        client = APIClient()
        client.force_authenticate(customer)
        response = client.post(url, {}, format="json")
        return response.status_code, response.json().get("code")

    results = sorted(_at_once(submit, submit), key=lambda r: r[0])

    assert results == [(201, None), (409, "already_cancelled")]
    assert OrderCancellation.objects.filter(order=order).count() == 1


class LockHolder:
    """Holds the order's lock from another connection, as a slow cancellation would."""

    def __init__(self, settings):
        self.settings, self.other = settings, None

    def hold(self, order) -> None:
        connection.close()  # the test's own connection must not be the one holding it
        if connection.vendor == "sqlite":
            self.other = sqlite3.connect(connection.settings_dict["NAME"], timeout=1,
                                         isolation_level=None)
            self.other.execute("BEGIN IMMEDIATE")  # SQLite locks the whole database
        else:
            self.settings.OSCAR_ORDERCANCEL_LOCK_TIMEOUT = 0.5
            # the driver Django uses (psycopg 3 or psycopg2: ORDERCANCEL_PG_DRIVER)
            self.other = connection.Database.connect(**connection.get_connection_params())
            self.other.cursor().execute("SELECT id FROM order_order WHERE id = %s FOR UPDATE",
                                        [order.pk])

    def release(self) -> None:
        if self.other is not None:
            self.other.rollback()
            self.other.close()
            self.other = None


@pytest.fixture
def lock(settings):
    holder = LockHolder(settings)
    yield holder
    holder.release()


def test_a_lock_held_too_long_is_a_clear_409_then_a_retry_works(lock):
    customer, order = _customer_and_order()
    before = factories.snapshot(order)
    client = APIClient()
    client.force_authenticate(customer)
    url = reverse("oscar_ordercancel:api-order-cancel", kwargs={"pk": order.pk})

    lock.hold(order)
    response = client.post(url, {}, format="json")
    lock.release()

    assert response.status_code == 409
    assert response.json()["code"] == "busy" and "try again" in response.json()["message"]
    assert factories.snapshot(order) == before
    retry = client.post(url, {}, format="json")
    assert retry.status_code == 201
    order.refresh_from_db()
    assert order.status == "Cancelled"


def test_a_lock_held_too_long_is_a_message_on_the_page_and_changes_nothing(lock):
    customer, order = _customer_and_order()
    before = factories.snapshot(order)
    client = Client()
    client.force_login(customer)

    lock.hold(order)
    response = client.post(reverse("oscar_ordercancel:order-cancel",
                                   kwargs={"order_number": order.number}), {"reason": "customer"})
    lock.release()

    assert response.status_code == 302
    messages = " ".join(str(m) for m in response.wsgi_request._messages)
    assert "try again" in messages
    assert factories.snapshot(order) == before


@pytest.mark.skipif(
    not any(app.startswith("oscar_ordercancel.dashboard.orders") for app in settings.INSTALLED_APPS),
    reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)")
def test_two_staff_users_cancelling_one_order_at_once_make_one_cancellation():
    __, order = _customer_and_order()
    url = reverse("dashboard:order-cancel", kwargs={"number": order.number})
    data = {f"quantity_{line.pk}": line.quantity for line in order.lines.all()}
    data.update(reason="staff", notify_customer="on")
    clients = []
    for email in ("first-clerk@example.com", "second-clerk@example.com"):
        clerk = factories.create_user(email, is_staff=True,
                                      perms=["order.view_order", "oscar_ordercancel.cancel_order"])
        client = Client()
        client.force_login(clerk)
        preview = client.post(url, data)  # both look at the same preview ...
        clients.append((client, preview.context["previewed"]))

    def confirm(client, signature):
        def submit():
            response = client.post(url, {**data, "confirm": "1", "previewed": signature})
            return response.status_code, [str(m) for m in response.wsgi_request._messages]
        return submit

    results = _at_once(*(confirm(c, s) for c, s in clients))  # ... and confirm at once

    assert [status for status, __ in results] == [302, 302]
    said = " | ".join(" ".join(messages) for __, messages in results)
    assert "has been cancelled" in said and "already been cancelled" in said
    assert OrderCancellation.objects.filter(order=order).count() == 1


# -- the withdrawal function ------------------------------------------------------------


def test_two_simultaneous_withdrawal_confirmations_record_one_declaration(settings):
    import re

    from oscar_ordercancel.models import WithdrawalDeclaration

    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
    order = factories.place_order(None, [("10.00", 2), ("5.00", 1)], guest_email="guest@example.com")
    step_two = Client().post(reverse("oscar_ordercancel:withdraw"), {
        "name": "Greta Guest", "email": "guest@example.com", "order_number": order.number})
    token = re.search(r'name="token" value="([^"]+)"', step_two.content.decode()).group(1)

    def confirm():
        response = Client().post(reverse("oscar_ordercancel:withdraw-confirm"), {"token": token})
        return response.status_code, response.get("Location")

    results = _at_once(confirm, confirm)

    assert [status for status, __ in results] == [302, 302]
    assert results[0][1] == results[1][1]  # both land on the same done page
    assert WithdrawalDeclaration.objects.filter(order=order).count() == 1
    assert OrderCancellation.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.status == "Cancelled"
    assert all(line.stockrecord.num_allocated == 0 for line in order.lines.all())


def test_two_simultaneous_withdrawals_with_two_tokens_record_one_and_refuse_the_other(settings):
    import re

    from oscar_ordercancel.models import WithdrawalDeclaration

    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
    order = factories.place_order(None, [("10.00", 2)], guest_email="guest@example.com")

    def token():
        page = Client().post(reverse("oscar_ordercancel:withdraw"), {
            "name": "Greta Guest", "email": "guest@example.com", "order_number": order.number})
        return re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)

    first, second = token(), token()

    def confirm(value):
        return lambda: Client().post(reverse("oscar_ordercancel:withdraw-confirm"),
                                     {"token": value}).status_code

    results = sorted(_at_once(confirm(first), confirm(second)))
    assert results == [302, 409]  # the second finds nothing left to withdraw: told, not a 500
    assert WithdrawalDeclaration.objects.filter(order=order).count() == 1
