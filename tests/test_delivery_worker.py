"""Cancel jobs delivered by a real Celery worker (``celery.contrib.testing``), on the Redis
broker and again on RabbitMQ, to a real HTTP server that plays the ERP."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery, current_app
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command
from django.db import connection
from kombu import Queue

import oscar_ordercancel.tasks  # noqa: F401 - registers the shared tasks
from oscar_ordercancel.models import CancelJob, OrderCancellation
from oscar_ordercancel.services import cancel_order, retry_job
from oscar_ordercancel.tasks import dispatch_cancel_jobs
from tests import factories
from tests.conftest import DELIVERY_REDIS_URL, RABBITMQ_URL
from tests.erp import FakeERP, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BROKERS = [
    pytest.param(DELIVERY_REDIS_URL, id="redis", marks=pytest.mark.celery),
    pytest.param(RABBITMQ_URL, id="rabbitmq", marks=pytest.mark.rabbitmq),
]
#: Our own queue, so parallel runs of other suites on the same brokers never collide.
QUEUE = f"ordercancel-delivery-tests-{os.getpid()}"
FAST_RETRY = {"max_attempts": 10, "backoff": 0.05, "backoff_max": 0.2}


def make_app(broker_url: str) -> Celery:
    """A fresh app on ``broker_url`` with the settings the deployment docs recommend."""
    app = Celery("ordercancel-delivery-tests", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_always_eager=False, result_backend=None, broker_connection_retry=False,
        broker_connection_retry_on_startup=False, task_default_queue=QUEUE,
        task_queues=[Queue(QUEUE, durable=False, auto_delete=True)],
        task_acks_late=True, worker_prefetch_multiplier=4,
    )
    return app


def purge(app: Celery) -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue=QUEUE, durable=False, auto_delete=True)
        conn.default_channel.queue_purge(QUEUE)


def running(app: Celery):
    """A worker thread of ``app``, current while it runs."""
    return start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=60)


@pytest.fixture(params=BROKERS)
def broker(request):
    """A fresh app on each broker, current for this test only (nothing eager)."""
    previous = current_app._get_current_object()
    app = make_app(request.param)
    purge(app)
    app.set_current()
    try:
        yield app
    finally:
        previous.set_current()


@pytest.fixture
def worker(broker):
    with running(broker):
        yield broker


@pytest.fixture
def worker_erp(settings):
    """The fake ERP for real workers: more attempts with short pauses, no customer e-mails."""
    with FakeERP() as server:
        settings.OSCAR_ORDERCANCEL_PROCESSORS = [server.processor_entry()]
        settings.OSCAR_ORDERCANCEL_RETRY = FAST_RETRY
        settings.OSCAR_ORDERCANCEL_NOTIFY_CUSTOMER = False
        yield server


@pytest.fixture
def delivery_staff(db):
    """Staff who may cancel (``delivery-staff@example.com``)."""
    return factories.create_user("delivery-staff@example.com", is_staff=True,
                                 perms=["oscar_ordercancel.cancel_order"])


def cancel_orders(staff, count):
    orders = [factories.place_order(None) for __ in range(count)]
    return [cancel_order(order, user=staff) for order in orders]


#: Generous: the machine's disk is shared, and a commit can take long under load.
WAIT = 150


class Beat:
    """What the beat schedule does every 30 seconds, here every 2 seconds."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> None:
        if time.monotonic() - self.last >= 2.0:
            self.last = time.monotonic()
            dispatch_cancel_jobs.delay()


@pytest.fixture
def beat():
    return Beat()


def states():
    return sorted(CancelJob.objects.values_list("state", flat=True))


def keys():
    return set(CancelJob.objects.values_list("idempotency_key", flat=True))


def test_every_job_reaches_the_erp_exactly_once(worker, worker_erp, delivery_staff):
    cancel_orders(delivery_staff, 20)
    assert wait_for(lambda: states() == ["succeeded"] * 20, seconds=WAIT), states()
    assert set(worker_erp.accepted) == keys() and set(worker_erp.accepted.values()) == {1}
    assert worker_erp.bad_signatures == 0
    payload = worker_erp.payloads[next(iter(worker_erp.accepted))]
    assert payload["job"] == "OrderCancel" and payload["version"] == 1


def test_a_flaky_erp_still_gets_every_job_once(worker, worker_erp, delivery_staff, beat):
    worker_erp.mode, worker_erp.failure_rate = "flaky", 0.3
    cancel_orders(delivery_staff, 30)
    assert wait_for(lambda: states() == ["succeeded"] * 30, seconds=WAIT, tick=beat), states()
    assert set(worker_erp.accepted) == keys() and set(worker_erp.accepted.values()) == {1}
    assert sum(worker_erp.received.values()) > 30  # some deliveries failed and were retried
    assert CancelJob.objects.filter(attempts__gt=1).exists()


def test_an_erp_down_past_the_budget_leaves_failed_jobs_that_retry_now_delivers(
        worker, worker_erp, delivery_staff, settings, beat):
    settings.OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 3, "backoff": 0.05, "backoff_max": 0.1}
    worker_erp.mode = "down"
    cancel_orders(delivery_staff, 5)
    assert wait_for(lambda: states() == ["failed"] * 5, seconds=WAIT, tick=beat), states()
    assert set(CancelJob.objects.values_list("attempts", flat=True)) == {3}
    assert not worker_erp.accepted and set(worker_erp.received.values()) == {3}

    worker_erp.mode = "ok"
    for job in CancelJob.objects.all():
        retry_job(job, user=delivery_staff)
    assert wait_for(lambda: states() == ["succeeded"] * 5, seconds=WAIT), states()
    assert set(worker_erp.accepted) == keys() and set(worker_erp.accepted.values()) == {1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL)
    assert wait_for(lambda: _port_open(port), seconds=10), "redis-server did not start"
    return proc


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.celery
def test_cancellations_commit_while_the_broker_is_down_and_are_delivered_after(worker_erp, delivery_staff):
    port = _free_port()
    broker = _redis_server(port)
    app = make_app(f"redis://127.0.0.1:{port}/0")
    previous = current_app._get_current_object()
    app.set_current()
    try:
        orders = [factories.place_order(None) for __ in range(100)]
        broker.terminate()
        broker.wait(10)
        began = time.monotonic()
        cancellations = [cancel_order(order, user=delivery_staff) for order in orders]
        elapsed = time.monotonic() - began
        assert OrderCancellation.objects.filter(pk__in=[c.pk for c in cancellations]).count() == 100
        assert states() == ["pending"] * 100 and not worker_erp.received
        assert elapsed < 45  # one request paid for the broker's absence, the others did not

        broker = _redis_server(port)
        with running(app):
            call_command("ordercancel_dispatch", "--grace", "0")
            assert wait_for(lambda: states() == ["succeeded"] * 100, seconds=WAIT), states()
        assert set(worker_erp.accepted) == keys() and set(worker_erp.accepted.values()) == {1}
    finally:
        previous.set_current()
        broker.terminate()
        broker.wait(10)


KILLABLE_WORKER = """
import json, os, sys
import django
django.setup()
from django.conf import settings
settings.OSCAR_ORDERCANCEL_LEASE_SECONDS = 4
settings.OSCAR_ORDERCANCEL_PROCESSORS = json.loads(os.environ["ORDERCANCEL_TEST_PROCESSORS"])
from oscar_ordercancel.tasks import deliver_cancel_jobs
deliver_cancel_jobs(json.loads(sys.argv[1]))
"""


def test_a_job_whose_worker_is_killed_mid_call_is_delivered_after_its_lease(
        broker, worker_erp, delivery_staff, beat):
    [cancellation] = cancel_orders(delivery_staff, 1)  # its wake-up waits in the queue: no worker yet
    job = CancelJob.objects.get(cancellation=cancellation)

    # A worker process takes the job, calls the ERP, which never answers; the process is killed.
    worker_erp.mode = "hang"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PGDATABASE": connection.settings_dict["NAME"],
           "ORDERCANCEL_TEST_PROCESSORS": json.dumps([worker_erp.processor_entry(timeout=2)])}
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE_WORKER, json.dumps([job.pk])], env=env,
                            cwd=Path(__file__).resolve().parent.parent)
    try:
        assert wait_for(lambda: worker_erp.received[job.idempotency_key] == 1, seconds=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    worker_erp.mode = "ok"
    job.refresh_from_db()
    assert job.state == "running" and job.lease_expires_at  # held by a dead worker

    with running(broker):  # the queued wake-up finds the job leased: it waits for the lease
        assert wait_for(lambda: states() == ["succeeded"], seconds=WAIT, tick=beat), states()
    assert worker_erp.accepted == {job.idempotency_key: 1}
    assert list(job.attempt_log.values_list("outcome", flat=True)) == ["succeeded", "lost"]


def test_a_worker_never_delivers_a_declined_request_and_tells_a_confirmed_one_as_done(
        worker, worker_erp, delivery_staff, settings, beat):
    """Request mode, the ERP down: staff settle the requests while their jobs wait (or run)."""
    from oscar_ordercancel.services import confirm_cancellation, reject_cancellation

    settings.OSCAR_ORDERCANCEL_MODE = "request"
    settings.OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 50, "backoff": 2, "backoff_max": 2}
    worker_erp.mode = "down"
    requests = cancel_orders(delivery_staff, 5)
    assert wait_for(lambda: all(worker_erp.received[key] for key in keys()), seconds=WAIT, tick=beat)
    declined, confirmed = requests[:3], requests[3:]
    for cancellation in declined:
        reject_cancellation(cancellation, reason="Kept", user=delivery_staff)
    for cancellation in confirmed:
        confirm_cancellation(cancellation, user=delivery_staff)

    def jobs_of(cancellations):
        return CancelJob.objects.filter(cancellation__in=cancellations)

    # a job that was being called when its request was declined comes back, and is not sent
    assert wait_for(lambda: set(jobs_of(declined).values_list("state", flat=True)) == {"not_sent"},
                    seconds=WAIT, tick=beat)
    worker_erp.mode = "ok"
    assert wait_for(lambda: set(jobs_of(confirmed).values_list("state", flat=True)) == {"succeeded"},
                    seconds=WAIT, tick=beat)
    for __ in range(3):  # a few more rounds of the dispatcher: nothing else is delivered
        time.sleep(2.1)
        beat()
    told = set(jobs_of(confirmed).values_list("idempotency_key", flat=True))
    assert set(worker_erp.accepted) == told
    assert {worker_erp.payloads[key]["cancellation"]["state"] for key in told} == {"completed"}
    assert set(jobs_of(declined).values_list("state", flat=True)) == {"not_sent"}
