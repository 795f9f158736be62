"""The customer e-mail goes through a real Celery worker on the Redis broker."""

import pytest
from celery import Celery, current_app
from celery.contrib.testing.worker import start_worker

import oscar_ordercancel.tasks  # noqa: F401 - registers the shared tasks
from oscar_ordercancel.services import cancel_order
from tests import factories
from tests.conftest import REDIS_URL

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker():
    """A worker thread of a fresh app on Redis, current for this test only (nothing eager)."""
    previous = current_app._get_current_object()
    app = Celery("ordercancel-tests", broker=REDIS_URL, set_as_current=False)
    app.conf.update(task_always_eager=False, result_backend=None, broker_connection_retry=False)
    with app.connection_for_write() as connection:
        connection.default_channel.client.flushdb()
    app.set_current()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield app
    finally:
        previous.set_current()


def wait_for(condition, seconds=20.0):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_cancellation_email_is_sent_by_the_worker(celery_worker, mailoutbox):
    customer = factories.create_user("worker@example.com")
    order = factories.place_order(customer)
    staff = factories.create_user("w-staff@example.com", is_staff=True,
                                  perms=["oscar_ordercancel.cancel_order"])

    cancel_order(order, user=staff, reason="inventory")

    events = order.communication_events.filter(event_type__code="ORDER_CANCELLED")
    # The worker sends the mail, then records Oscar's CommunicationEvent: wait for both.
    assert wait_for(lambda: len(mailoutbox) == 1 and events.exists()), "the worker sent nothing"
    mail = mailoutbox[0]
    assert mail.to == ["worker@example.com"]
    assert str(order.number) in mail.subject and "An item is out of stock" in mail.body
    assert events.count() == 1
