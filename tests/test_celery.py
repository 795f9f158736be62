"""The customer e-mail goes through a real Celery worker on the Redis broker."""

import pytest
from celery import current_app
from celery.contrib.testing.worker import start_worker

from oscar_ordercancel.services import cancel_order
from tests import factories
from tests.conftest import REDIS_URL

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker():
    """A worker thread consuming from Redis; tasks are queued, not run eagerly."""
    conf = current_app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.result_backend)
    conf.broker_url, conf.task_always_eager, conf.result_backend = REDIS_URL, False, None
    current_app.connection_for_write().default_channel.client.flushdb()
    try:
        with start_worker(current_app, pool="solo", perform_ping_check=False,
                          shutdown_timeout=10):
            yield
    finally:
        conf.broker_url, conf.task_always_eager, conf.result_backend = saved


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

    assert wait_for(lambda: len(mailoutbox) == 1), "the worker did not send the e-mail"
    mail = mailoutbox[0]
    assert mail.to == ["worker@example.com"]
    assert str(order.number) in mail.subject and "Out of stock" in mail.body
    assert order.communication_events.filter(event_type__code="ORDER_CANCELLED").exists()
