"""Cancel jobs without a broker: the outbox, the processors' response rules against a real
HTTP server, retries, request mode, staff actions, alerts (deliveries run inline)."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks import Webhook

from oscar_ordercancel import signals
from oscar_ordercancel.exceptions import CancellationError, CancellationVetoed
from oscar_ordercancel.jobs import delivery, monitor
from oscar_ordercancel.models import CancelJob, OrderCancellation, OrderStatusMapping
from oscar_ordercancel.processors import (
    CancelProcessor,
    EmailProcessor,
    PermanentError,
    Rejection,
    RetryableError,
    WebhookProcessor,
)
from oscar_ordercancel.services import cancel_order, give_up_job, resend_job, retry_job
from tests import factories
from tests.erp import SECRET, FakeERP

pytestmark = pytest.mark.django_db

LOG = {"name": "log", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    """Run the after-commit callbacks: eager Celery then delivers inline, as in the sandbox."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def job_of(cancellation, processor="erp"):
    return CancelJob.objects.get(cancellation=cancellation, processor=processor)


def deliver_until_settled(rounds=10):
    for __ in range(rounds):
        if not delivery.deliver():
            return


# -- the outbox ----------------------------------------------------------------------


def test_a_cancellation_writes_one_job_per_processor_with_the_documented_payload(
        order, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG, {**LOG, "name": "warehouse"}]
    OrderStatusMapping.objects.create(status="Cancelled", erp_status_code="CX")
    factories.pay(order)
    cancellation = cancel_order(order, user=staff, reason="inventory", note="no stock")

    jobs = list(CancelJob.objects.filter(cancellation=cancellation).order_by("processor"))
    assert [(j.processor, j.state, j.attempts) for j in jobs] == [
        ("log", "pending", 0), ("warehouse", "pending", 0)]
    assert len({j.idempotency_key for j in jobs}) == 2
    payload = jobs[0].payload
    assert payload["version"] == 1
    assert payload["job"] == "OrderCancel"
    assert payload["parameters"] == {"OrderNumber": str(order.number)}
    assert payload["idempotency_key"] == jobs[0].idempotency_key
    assert payload["cancellation"]["id"] == cancellation.pk
    assert payload["cancellation"]["mode"] == "immediate" and payload["cancellation"]["full"]
    assert payload["order"]["status"] == "Cancelled" and payload["order"]["erp_status_code"] == "CX"
    assert payload["reason"] == {"code": "inventory", "label": "Out of stock"}
    assert payload["forced"] is False and payload["refund"] is False
    assert payload["amounts"] == {"currency": "GBP", "cancelled_value": "25.00",
                                  "voided": str(order.total_incl_tax), "refunded": "0.00"}
    lines = list(order.lines.order_by("pk"))
    assert [(x["partner_sku"], x["title"], x["quantity"]) for x in payload["lines"]] == [
        (line.partner_sku, line.title, line.quantity) for line in lines]
    assert all(line.partner_sku for line in lines)


def test_a_partial_cancellation_sends_only_the_cancelled_quantities(order, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    first, __ = order.lines.order_by("pk")
    cancellation = cancel_order(order, user=staff, lines={first: 1})
    payload = job_of(cancellation, "log").payload
    assert [(x["title"], x["quantity"], x["ordered_quantity"]) for x in payload["lines"]] == [
        (first.title, 1, 2)]
    assert payload["cancellation"]["full"] is False and payload["order"]["status"] == "Pending"
    assert payload["amounts"]["cancelled_value"] == "10.00"


def test_without_processors_no_job_is_written(order, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = []
    cancel_order(order, user=staff)
    assert not CancelJob.objects.exists()


def test_a_veto_leaves_no_job_and_sends_nothing(order, staff, erp, capture):
    def veto(sender, **kwargs):
        raise CancellationVetoed("fraud_review", "Under fraud review")

    signals.order_cancellation_requested.connect(veto)
    try:
        with capture(), pytest.raises(CancellationVetoed):
            cancel_order(order, user=staff)
    finally:
        signals.order_cancellation_requested.disconnect(veto)
    assert not CancelJob.objects.exists()
    assert not erp.received


def test_an_error_after_the_jobs_were_written_rolls_them_back(order, staff, erp, capture):
    def explode(sender, **kwargs):
        raise RuntimeError("a later receiver failed")

    signals.order_cancelled.connect(explode)  # connected after the outbox's receiver
    try:
        with capture(), pytest.raises(RuntimeError):
            cancel_order(order, user=staff)
    finally:
        signals.order_cancelled.disconnect(explode)
    assert not CancelJob.objects.exists() and not OrderCancellation.objects.exists()
    assert not erp.received


# -- delivery (eager Celery, as in the sandbox) ------------------------------------------


def test_eager_celery_delivers_a_signed_webhook_once_after_commit(order, staff, erp, capture):
    succeeded = []
    signals.cancel_job_succeeded.connect(receiver := lambda sender, job, **kw: succeeded.append(job.pk))
    try:
        with capture():
            cancellation = cancel_order(order, user=staff, reason="customer")
    finally:
        signals.cancel_job_succeeded.disconnect(receiver)
    job = job_of(cancellation)
    assert job.state == "succeeded" and job.attempts == 1 and job.date_finished
    assert erp.accepted == {job.idempotency_key: 1} and erp.bad_signatures == 0
    assert erp.payloads[job.idempotency_key] == job.payload
    assert succeeded == [job.pk]
    attempt = job.attempt_log.get()
    assert attempt.outcome == "succeeded" and attempt.http_status == 200
    assert '"status": "ok"' in attempt.response


def test_the_signature_verifies_with_the_stock_library():
    processor = WebhookProcessor("erp", {"url": "http://127.0.0.1:1/", "secret": SECRET})
    body = processor.body({"version": 1, "amount": Decimal("1.50")})
    headers = processor.headers(body, "oc_key")
    assert headers["webhook-id"] == headers["Idempotency-Key"] == "oc_key"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body, headers) == {"version": 1, "amount": "1.50"}


@pytest.mark.parametrize("mode, status, expected_state, outcome", [
    ("reject", 200, "rejected", "rejected"),
    ("reject", 409, "rejected", "rejected"),
    ("down", 409, "failed", "failed"),
    ("down", 404, "failed", "failed"),
    ("down", 400, "failed", "failed"),
    ("down", 500, "pending", "retry"),
    ("down", 503, "pending", "retry"),
    ("down", 408, "pending", "retry"),
    ("down", 429, "pending", "retry"),
])
def test_webhook_response_rules(order, staff, erp, settings, mode, status, expected_state, outcome):
    settings.OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 5, "backoff": 60, "backoff_max": 600}
    erp.mode, erp.status, erp.reject_status = mode, status, status
    cancellation = cancel_order(order, user=staff)
    delivery.deliver()
    job = job_of(cancellation)
    assert job.state == expected_state
    attempt = job.attempt_log.get()
    assert (attempt.outcome, attempt.http_status) == (outcome, status)
    if outcome == "rejected":
        assert job.rejection_reason == "Already shipped"
    if outcome == "retry":
        wait = (job.next_attempt_at - timezone.now()).total_seconds()
        assert 25 < wait <= 60  # the first backoff step, half of it jittered
        assert job.last_error == f"HTTP {status}"


def test_retry_after_is_honoured(order, staff, erp, settings):
    settings.OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 5, "backoff": 1, "backoff_max": 10}
    erp.mode, erp.status, erp.retry_after = "down", 429, "120"
    cancellation = cancel_order(order, user=staff)
    delivery.deliver()
    wait = (job_of(cancellation).next_attempt_at - timezone.now()).total_seconds()
    assert 115 < wait <= 120


def test_a_connection_error_is_retried(order, staff, settings):
    with FakeERP() as closed:
        entry = closed.processor_entry()
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [entry]  # nobody listens there any more
    cancellation = cancel_order(order, user=staff)
    delivery.deliver()
    job = job_of(cancellation)
    assert job.state == "pending" and "ConnectionError" in job.last_error
    assert job.attempt_log.get().http_status is None


def test_only_the_first_2kb_of_a_response_are_kept(order, staff, erp, monkeypatch):
    big = "x" * 10000
    monkeypatch.setattr(erp, "respond", lambda h, status, body="", headers=None: FakeERP.respond(
        erp, h, 500, big))
    cancellation = cancel_order(order, user=staff)
    delivery.deliver()
    assert job_of(cancellation).attempt_log.get().response == big[:2048]


def test_an_erp_down_past_the_retry_budget_fails_visibly_then_retry_now_delivers(
        order, staff, erp, mailoutbox, capture):
    erp.mode = "down"
    events = []
    signals.cancel_job_failed.connect(receiver := lambda sender, job, final, **kw: events.append(final))
    try:
        cancellation = cancel_order(order, user=staff)
        deliver_until_settled()
    finally:
        signals.cancel_job_failed.disconnect(receiver)
    job = job_of(cancellation)
    assert job.state == "failed" and job.attempts == 3 and job.last_error == "HTTP 500"
    assert events == [False, False, True]
    assert list(job.attempt_log.values_list("outcome", flat=True)) == ["failed", "retry", "retry"]
    assert len(erp.received) == 1 and not erp.accepted

    erp.mode = "ok"
    with capture():
        retry_job(job, user=staff)
    job.refresh_from_db()
    assert job.state == "succeeded" and job.attempts == 1
    assert erp.accepted == {job.idempotency_key: 1}
    assert order.notes.filter(message__contains="retry requested").exists()


def test_resend_delivers_again_under_the_same_key(order, staff, erp, capture):
    with capture():
        cancellation = cancel_order(order, user=staff)
    job = job_of(cancellation)
    with capture():
        resend_job(job, user=staff)
    job.refresh_from_db()
    assert job.state == "succeeded"
    assert erp.received == {job.idempotency_key: 2}  # the ERP recognises the key it has seen


def test_give_up_stops_a_pending_job(order, staff, erp, settings):
    settings.OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 5, "backoff": 60, "backoff_max": 60}
    erp.mode = "down"
    cancellation = cancel_order(order, user=staff)
    delivery.deliver()
    finals = []
    signals.cancel_job_failed.connect(receiver := lambda sender, final, **kw: finals.append(final))
    try:
        job = give_up_job(job_of(cancellation), user=staff, reason="ERP retired")
    finally:
        signals.cancel_job_failed.disconnect(receiver)
    assert job.state == "failed" and job.last_error == "ERP retired" and finals == [True]
    assert delivery.due_job_ids(grace=0) == []
    with pytest.raises(CancellationError):
        give_up_job(job, user=staff)
    CancelJob.objects.filter(pk=job.pk).update(state="running")
    with pytest.raises(CancellationError):  # a worker holds it
        resend_job(job, user=staff)
    with pytest.raises(CancellationError):
        retry_job(job, user=staff)


def test_a_processor_removed_from_the_settings_fails_the_job(order, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    cancellation = cancel_order(order, user=staff)
    settings.OSCAR_ORDERCANCEL_PROCESSORS = []
    delivery.deliver()
    job = job_of(cancellation, "log")
    assert job.state == "failed" and "No cancel processor named 'log'" in job.last_error


def test_queries_per_delivered_job(customer, staff, settings, django_assert_max_num_queries):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    for __ in range(10):
        cancel_order(factories.place_order(customer), user=staff)
    ids = list(CancelJob.objects.values_list("pk", flat=True))
    if connection.vendor == "postgresql":
        # one read (is any due?), one claim statement, one statement for the ten outcomes
        with django_assert_max_num_queries(3):
            outcomes = delivery.deliver(ids)
        assert [o.outcome for o in outcomes] == ["succeeded"] * 10
        return
    # the ORM path: claim (SELECT … FOR UPDATE + UPDATE) once per batch, then UPDATE +
    # INSERT per job; the test's transaction adds a SAVEPOINT and a RELEASE around each
    with django_assert_max_num_queries(4 + 4 * len(ids)), CaptureQueriesContext(connection) as ctx:
        outcomes = delivery.deliver(ids)
    assert [o.outcome for o in outcomes] == ["succeeded"] * 10
    real = [q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(real) <= 2 + 2 * len(ids)


# -- request mode -------------------------------------------------------------------


def test_request_mode_confirmation_by_the_erp_completes_the_cancellation(
        order, customer, erp, request_mode, mailoutbox, capture):
    factories.pay(order)
    with capture():
        cancellation = cancel_order(order, user=customer, channel="customer")
    cancellation.refresh_from_db()
    order.refresh_from_db()
    assert cancellation.state == "completed" and order.status == "Cancelled"
    assert [line.stockrecord.num_allocated for line in order.lines.order_by("pk")] == [0, 0]
    assert cancellation.void_amount == order.total_incl_tax
    assert "has been cancelled" in mailoutbox[-1].subject
    job = job_of(cancellation)
    assert job.payload["cancellation"]["mode"] == "request"
    assert job.payload["order"]["status"] == "Cancellation requested"
    assert CancelJob.objects.count() == 1  # the confirmation wrote no second job
    assert erp.accepted == {job.idempotency_key: 1}


def test_request_mode_rejection_restores_the_order_exactly(
        order, customer, erp, request_mode, mailoutbox, capture):
    factories.pay(order)
    before = factories.snapshot(order)
    erp.mode, erp.reject_reason = "reject", "Parcel already left the warehouse"
    rejected = []
    signals.order_cancellation_rejected.connect(
        receiver := lambda sender, reason, **kw: rejected.append(reason))
    try:
        with capture():
            cancellation = cancel_order(order, user=customer, channel="customer")
    finally:
        signals.order_cancellation_rejected.disconnect(receiver)
    cancellation.refresh_from_db()
    after = factories.snapshot(order)
    assert cancellation.state == "rejected"
    assert cancellation.rejection_reason == "Parcel already left the warehouse"
    assert rejected == ["Parcel already left the warehouse"]
    for key in ("status", "lines", "stock", "sources", "payment_events", "totals"):
        assert after[key] == before[key], key
    assert "could not be cancelled" in mailoutbox[-1].subject
    assert "Parcel already left the warehouse" in mailoutbox[-1].body
    assert job_of(cancellation).state == "rejected"
    assert not monitor.attention_list().exists()  # the customer was told; nothing to chase


def test_request_mode_waits_for_every_processor(order, customer, settings, request_mode):
    with FakeERP() as erp:
        settings.OSCAR_ORDERCANCEL_PROCESSORS = [erp.processor_entry(), LOG]
        cancellation = cancel_order(order, user=customer, channel="customer")
        delivery.deliver(limit=1)  # one job delivered, the other still pending
        cancellation.refresh_from_db()
        assert cancellation.state == "requested"
        assert list(monitor.waiting_requests()) == [cancellation]
        delivery.deliver()
    cancellation.refresh_from_db()
    assert cancellation.state == "completed"
    assert not monitor.waiting_requests().exists()


def test_immediate_mode_rejection_goes_on_the_attention_list(order, staff, erp):
    erp.mode = "reject"
    reasons = []
    signals.cancel_job_rejected.connect(receiver := lambda sender, reason, **kw: reasons.append(reason))
    try:
        cancellation = cancel_order(order, user=staff)
        delivery.deliver()
    finally:
        signals.cancel_job_rejected.disconnect(receiver)
    cancellation.refresh_from_db()
    assert cancellation.state == "completed"  # the shop side stays cancelled
    assert [j.cancellation_id for j in monitor.attention_list()] == [cancellation.pk]
    assert reasons == ["Already shipped"]


# -- monitoring ---------------------------------------------------------------------


def test_staff_are_alerted_once_when_a_processor_fails_n_jobs_in_a_row(
        customer, staff, erp, settings, mailoutbox):
    settings.OSCAR_ORDERCANCEL_FAILURE_ALERT_THRESHOLD = 3
    erp.mode, erp.status = "down", 401  # permanent: wrong credentials
    for __ in range(4):
        cancel_order(factories.place_order(customer), user=staff)
        delivery.deliver()
    alerts = [m for m in mailoutbox if "in a row" in m.subject]
    assert len(alerts) == 1 and alerts[0].to == [staff.email]
    assert '"erp" has failed 3 jobs in a row' in alerts[0].subject
    assert "HTTP 401" in alerts[0].body
    [streak] = monitor.failing_processors()
    assert (streak.processor, streak.count) == ("erp", 4)

    erp.mode = "ok"
    cancel_order(factories.place_order(customer), user=staff)
    delivery.deliver()
    assert monitor.failing_processors() == []


def test_delivery_summary_and_counts(order, staff, settings):
    with FakeERP() as erp:
        erp.mode = "reject"
        settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG, erp.processor_entry()]
        cancellation = cancel_order(order, user=staff)
        delivery.deliver()
    summary = monitor.delivery_summary(cancellation)
    assert [(s.processor, s.state, s.rejection_reason) for s in summary] == [
        ("erp", "rejected", "Already shipped"), ("log", "succeeded", "")]
    assert monitor.job_counts() == {"pending": 0, "running": 0, "succeeded": 1, "rejected": 1,
                                    "failed": 0, "not_sent": 0}


# -- dispatcher ---------------------------------------------------------------------


def test_the_dispatcher_finds_due_retries_expired_leases_and_lost_wakeups(order, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG, {**LOG, "name": "b"}, {**LOG, "name": "c"}]
    cancellation = cancel_order(order, user=staff)
    fresh, retry, stuck = CancelJob.objects.filter(cancellation=cancellation).order_by("processor")
    assert delivery.due_job_ids() == []  # just written: its wake-up is on its way
    past = timezone.now() - timedelta(seconds=1)
    CancelJob.objects.filter(pk=retry.pk).update(attempts=1, next_attempt_at=past)
    CancelJob.objects.filter(pk=stuck.pk).update(state="running", attempts=1, lease_expires_at=past)
    assert sorted(delivery.due_job_ids()) == sorted([retry.pk, stuck.pk])
    assert sorted(delivery.due_job_ids(grace=0)) == sorted([fresh.pk, retry.pk, stuck.pk])

    call_command("ordercancel_dispatch", "--now", "--grace", "0")
    assert set(CancelJob.objects.values_list("state", flat=True)) == {"succeeded"}
    stuck.refresh_from_db()
    assert list(stuck.attempt_log.values_list("outcome", flat=True)) == ["succeeded", "lost"]


class SlowProcessor(CancelProcessor):
    def process(self, payload, idempotency_key):
        time.sleep(1.2)
        return self.success()


def test_jobs_whose_lease_would_run_out_are_given_back(customer, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{
        "name": "slow", "class": "tests.test_cancel_jobs.SlowProcessor", "options": {"timeout": 1.5}}]
    settings.OSCAR_ORDERCANCEL_LEASE_SECONDS = 4  # 3 s usable: room for two calls, not three
    for __ in range(3):
        cancel_order(factories.place_order(customer), user=staff)
    outcomes = delivery.deliver()
    assert len(outcomes) == 2  # the third was given back, not called…
    # …and woken again at once (inline here: the tests' Celery is eager), its attempt not counted
    assert sorted(CancelJob.objects.values_list("state", "attempts")) == [("succeeded", 1)] * 3


# -- processors ---------------------------------------------------------------------


def test_the_email_processor_writes_to_the_fulfilment_partner(order, staff, settings, mailoutbox,
                                                                capture):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{
        "name": "partner", "class": "oscar_ordercancel.processors.EmailProcessor",
        "options": {"to": ["orders@partner.example"], "from_email": "shop@example.com"}}]
    first, __ = order.lines.order_by("pk")
    with capture():
        cancellation = cancel_order(order, user=staff, lines={first: 1}, reason="inventory")
    job = job_of(cancellation, "partner")
    assert job.state == "succeeded"
    [mail] = [m for m in mailoutbox if m.to == ["orders@partner.example"]]
    assert mail.from_email == "shop@example.com"
    assert f"Cancel request: order {order.number}" in mail.subject
    assert f"1 × {first.title}" in mail.body and first.partner_sku in mail.body
    assert "Out of stock" in mail.body and job.idempotency_key in mail.body
    assert mail.extra_headers["X-Idempotency-Key"] == job.idempotency_key


def test_processor_errors_carry_what_the_log_needs():
    error = RetryableError("HTTP 503", http_status=503, response="busy", retry_after=30)
    assert (error.http_status, error.response, error.retry_after) == (503, "busy", 30)
    assert isinstance(PermanentError("x"), Exception)
    assert Rejection(reason="no").reason == "no"
    assert EmailProcessor.check_options({"to": "a@b.c"}) and not EmailProcessor.check_options(
        {"to": ["a@b.c"]})


@pytest.mark.parametrize("processors, error_id", [
    ("not a list", "ordercancel.E009"),
    (["log"], "ordercancel.E009"),
    ([{"class": LOG["class"]}], "ordercancel.E009"),
    ([{"name": "x"}], "ordercancel.E009"),
    ([{**LOG, "options": ["a"]}], "ordercancel.E009"),
    ([LOG, LOG], "ordercancel.E010"),
    ([{**LOG, "class": "oscar_ordercancel.nope.Processor"}], "ordercancel.E007"),
    ([{**LOG, "class": "oscar_ordercancel.services.cancel_order"}], "ordercancel.E009"),
    ([{"name": "erp", "class": "oscar_ordercancel.processors.WebhookProcessor", "options": {}}],
     "ordercancel.E011"),
    ([{"name": "erp", "class": "oscar_ordercancel.processors.WebhookProcessor",
       "options": {"url": "http://erp.example/", "secret": "plain-secret"}}], "ordercancel.E011"),
    ([{"name": "erp", "class": "oscar_ordercancel.processors.WebhookProcessor",
       "options": {"url": "http://erp.example/", "secret": SECRET, "timeout": 600}}],
     "ordercancel.E012"),
    ([{"name": "p", "class": "oscar_ordercancel.processors.EmailProcessor", "options": {}}],
     "ordercancel.E011"),
])
def test_malformed_processor_settings_are_errors(settings, processors, error_id):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = processors
    ids = {m.id for m in checks.run_checks() if m.level >= checks.ERROR}
    assert error_id in ids


def test_well_formed_processor_settings_pass(settings):
    with FakeERP() as erp:
        settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG, erp.processor_entry()]
    assert not [m for m in checks.run_checks() if m.level >= checks.ERROR]


def test_the_admin_shows_jobs_and_attempts_read_only(client, superuser, order, settings):
    from django.urls import reverse

    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    job = job_of(cancel_order(order, user=superuser), "log")
    delivery.deliver()
    client.force_login(superuser)
    assert client.get(reverse("admin:oscar_ordercancel_canceljob_changelist")).status_code == 200
    page = client.get(reverse("admin:oscar_ordercancel_canceljob_change", args=[job.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and job.idempotency_key in html and "Succeeded" in html
    assert client.get(reverse("admin:oscar_ordercancel_canceljob_add")).status_code == 403
