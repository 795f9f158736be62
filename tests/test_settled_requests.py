"""A cancellation request settled while its jobs wait (issue 13, item 2).

Request mode asks the ERP; when staff (or another processor) settle the request
first, what the jobs still waiting send must follow the settlement: a declined
request is never delivered as a request, and a request confirmed by hand is
delivered as a cancellation that is done.
"""

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from oscar_ordercancel import signals
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.jobs import delivery, monitor
from oscar_ordercancel.models import CancelJob
from oscar_ordercancel.processors import CancelProcessor
from oscar_ordercancel.services import (
    cancel_order,
    confirm_cancellation,
    reject_cancellation,
    resend_job,
    retry_job,
)
from tests import factories
from tests.conftest import FAST_RETRY

pytestmark = pytest.mark.django_db

LOG = {"name": "warehouse", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}


@pytest.fixture
def waiting(order, customer, erp, request_mode):
    """A customer's request whose job waits for a retry: the ERP was down."""
    erp.mode = "down"
    cancellation = cancel_order(order, user=customer, channel="customer")
    delivery.deliver()
    job = cancellation.jobs.get()
    assert (job.state, job.attempts) == ("pending", 1)
    erp.mode = "ok"
    return cancellation


def dispatch_now():
    """``manage.py ordercancel_dispatch --now``; returns what it printed."""
    from io import StringIO

    out = StringIO()
    call_command("ordercancel_dispatch", "--now", "--grace", "0", stdout=out)
    return out.getvalue()


def job_page(client, job):
    response = client.get(reverse("ordercancel_dashboard:ordercancel-job-detail", kwargs={"pk": job.pk}))
    assert response.status_code == 200
    return response.content.decode()


def follow_messages(client, response):
    assert response.status_code == 302, response.status_code
    return [str(m) for m in client.get(response.url).context["messages"]]


# -- declined by staff --------------------------------------------------------------------


def test_a_request_staff_declined_is_never_delivered_to_the_erp(client, clerk, order, waiting, erp):
    client.force_login(clerk)
    client.post(reverse("ordercancel_dashboard:ordercancel-cancellation-reject",
                        kwargs={"pk": waiting.pk}), {"reason": "We will ship it after all"})
    order.refresh_from_db()
    assert order.status == "Pending"

    assert "Delivered 0 cancel jobs" in dispatch_now()

    assert not erp.accepted  # the ERP never cancels an order the shop kept
    assert len(erp.received) == 1  # only the attempt made while it was down
    job = waiting.jobs.get()
    assert job.state == "not_sent" and job.next_attempt_at is None and job.date_finished
    assert job.not_sent_reason == "declined_by_staff"
    assert "Not sent: the request was declined by staff." in job_page(client, job)


def test_a_declined_requests_job_is_not_claimed_nor_woken(order, customer, waiting, erp):
    reject_cancellation(waiting, reason="Kept", user=None)
    job = waiting.jobs.get()
    assert job.state == "not_sent" and job.not_sent_reason == "declined"
    assert delivery.claim([job.pk]) == [] and delivery.claim() == []
    assert delivery.due_job_ids(grace=0) == []
    assert delivery.deliver([job.pk]) == []
    assert not erp.accepted


def test_retry_now_and_resend_refuse_a_declined_requests_job_and_say_why(
        client, clerk, order, customer, waiting, erp):
    reject_cancellation(waiting, reason="Kept", user=clerk)
    job = waiting.jobs.get()
    before = CancelJob.objects.filter(pk=job.pk).values().get()
    for call in (retry_job, resend_job):
        with pytest.raises(CancellationError) as refused:
            call(job, user=clerk)
        assert refused.value.message == (
            "This job is not sent: the cancellation request was declined and the order was kept.")
    client.force_login(clerk)
    for name in ("retry", "resend"):
        response = client.post(reverse(f"ordercancel_dashboard:ordercancel-job-{name}",
                                       kwargs={"pk": job.pk}))
        assert follow_messages(client, response) == [
            "This job is not sent: the cancellation request was declined and the order was kept."]
    assert CancelJob.objects.filter(pk=job.pk).values().get() == before
    assert "ordercancel-job-retry" not in job_page(client, job)
    assert "ordercancel-job-resend" not in job_page(client, job)
    delivery.deliver()
    assert not erp.accepted


def test_a_failed_job_of_a_declined_request_is_not_sent_either(order, customer, erp, request_mode, settings):
    erp.mode = "down"
    settings.OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 1, "backoff": 0, "backoff_max": 0}
    cancellation = cancel_order(order, user=customer, channel="customer")
    delivery.deliver()
    assert cancellation.jobs.get().state == "failed"
    reject_cancellation(cancellation, reason="Kept")
    job = cancellation.jobs.get()
    assert (job.state, job.last_error) == ("not_sent", "HTTP 500")  # its history stays
    erp.mode = "ok"
    with pytest.raises(CancellationError):
        retry_job(job)
    assert not erp.accepted


# -- a job running when the request is settled ------------------------------------------------


class DeclinedMeanwhile(CancelProcessor):
    """While the ERP is being called, staff decline the request; the ERP then answers."""

    answer = "ok"

    def process(self, payload, idempotency_key):
        from oscar_ordercancel.models import OrderCancellation

        reject_cancellation(OrderCancellation.objects.get(pk=payload["cancellation"]["id"]),
                            reason="Kept after all")
        if self.answer == "retry":
            from oscar_ordercancel.processors import RetryableError

            raise RetryableError("ERP busy")
        return self.success()


def test_an_erp_answer_that_arrives_after_staff_declined_does_not_undo_it(
        order, customer, settings, client, clerk):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        {"name": "erp", "class": "tests.test_settled_requests.DeclinedMeanwhile", "options": {}}]
    cancellation = cancel_order(order, user=customer, channel="customer")
    delivery.deliver()
    cancellation.refresh_from_db()
    order.refresh_from_db()
    job = cancellation.jobs.get()
    assert cancellation.state == "rejected" and order.status == "Pending"
    assert job.state == "succeeded"  # the ERP did accept: that is what happened
    # ... so the shop and the ERP disagree, and staff are told
    assert list(monitor.attention_list()) == [job]
    client.force_login(clerk)
    assert ("erp accepted the cancellation, but the request was declined: the order was kept. "
            "Tell them the order stands.") in job_page(client, job)
    with pytest.raises(CancellationError):  # sending it again would ask once more
        resend_job(job)


def test_a_retry_that_comes_back_after_staff_declined_is_not_sent(order, customer, settings):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    settings.OSCAR_ORDERCANCEL_RETRY = FAST_RETRY
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        {"name": "erp", "class": "tests.test_settled_requests.DeclinedMeanwhile", "options": {}}]
    DeclinedMeanwhile.answer = "retry"
    try:
        cancellation = cancel_order(order, user=customer, channel="customer")
        delivery.deliver()
    finally:
        DeclinedMeanwhile.answer = "ok"
    job = cancellation.jobs.get()
    assert job.state == "not_sent" and job.next_attempt_at is None
    assert list(job.attempt_log.values_list("outcome", flat=True)) == ["retry"]
    assert delivery.due_job_ids(grace=0) == []
    assert not monitor.attention_list().exists()


def test_the_dispatcher_finishes_jobs_of_a_declined_request_instead_of_waking_them(
        order, customer, waiting, erp):
    """Left over (written before this fix, or a race): pending although the request was declined."""
    reject_cancellation(waiting, reason="Kept")
    CancelJob.objects.filter(cancellation=waiting).update(
        state="pending", not_sent_reason="", date_finished=None, next_attempt_at=timezone.now())
    assert "Delivered 0 cancel jobs" in dispatch_now()
    job = waiting.jobs.get()
    assert job.state == "not_sent" and job.not_sent_reason == "declined"
    assert not erp.accepted


# -- several processors ------------------------------------------------------------------------


def test_when_one_processor_declines_the_others_waiting_job_is_not_sent(
        client, clerk, order, customer, erp, request_mode, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [erp.processor_entry(), LOG]
    erp.mode = "reject"
    cancellation = cancel_order(order, user=customer, channel="customer")
    delivery.deliver(limit=1)  # the ERP's job first: it declines
    cancellation.refresh_from_db()
    assert cancellation.state == "rejected"
    warehouse = cancellation.jobs.get(processor="warehouse")
    assert warehouse.state == "not_sent" and warehouse.not_sent_reason == "declined_by_processor"
    assert "Delivered 0 cancel jobs" in dispatch_now()
    assert cancellation.jobs.get(processor="warehouse").attempt_log.count() == 0
    client.force_login(clerk)
    assert "Not sent: erp declined the request." in job_page(client, warehouse)
    # not a failure: no failure streak, no alert
    assert monitor.failure_streak("warehouse").count == 0


def test_a_processor_that_accepted_before_another_declined_goes_on_the_attention_list(
        order, customer, erp, request_mode, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [erp.processor_entry(), LOG]
    cancellation = cancel_order(order, user=customer, channel="customer")
    warehouse = cancellation.jobs.get(processor="warehouse")
    delivery.deliver([warehouse.pk])  # the warehouse accepts the request
    erp.mode = "reject"
    delivery.deliver()  # the ERP declines it
    cancellation.refresh_from_db()
    assert cancellation.state == "rejected"
    assert [job.processor for job in monitor.attention_list()] == ["warehouse"]


# -- confirmed by hand --------------------------------------------------------------------------


def test_a_request_confirmed_by_hand_tells_the_erp_the_cancellation_is_done(
        client, clerk, order, waiting, erp):
    factories.pay(order)
    client.force_login(clerk)
    client.post(reverse("ordercancel_dashboard:ordercancel-cancellation-confirm",
                        kwargs={"pk": waiting.pk}), {"note": "Confirmed by phone"})
    waiting.refresh_from_db()
    order.refresh_from_db()
    assert waiting.state == "completed" and order.status == "Cancelled"

    assert "Delivered 1 cancel jobs (succeeded: 1)" in dispatch_now()

    job = waiting.jobs.get()
    sent = erp.payloads[job.idempotency_key]
    assert sent["cancellation"]["state"] == "completed"
    assert sent["cancellation"]["mode"] == "request"
    assert sent["cancellation"]["completed"] == waiting.date_completed.isoformat()
    assert sent["order"]["status"] == "Cancelled"
    assert sent["amounts"]["voided"] == str(order.total_incl_tax)
    assert sent["idempotency_key"] == job.idempotency_key  # still the same job, the same key
    assert job.state == "succeeded"
    waiting.refresh_from_db()
    assert waiting.state == "completed"


def test_an_erp_that_refuses_a_request_confirmed_by_hand_goes_on_the_attention_list(
        client, clerk, order, waiting, erp):
    confirm_cancellation(waiting)
    erp.mode = "reject"
    dispatch_now()
    waiting.refresh_from_db()
    job = waiting.jobs.get()
    assert waiting.state == "completed" and job.state == "rejected"
    assert list(monitor.attention_list()) == [job]
    client.force_login(clerk)
    assert ("erp refused the cancellation, but it is done in the shop. Sort it out with them."
            in job_page(client, job))


def test_a_job_running_when_staff_confirm_sends_the_confirmation_on_its_next_attempt(
        order, customer, erp, request_mode):
    erp.mode = "down"
    cancellation = cancel_order(order, user=customer, channel="customer")
    [claimed] = delivery.claim()
    confirm_cancellation(cancellation)  # while a worker holds the job
    assert delivery._record([delivery._attempt(claimed, delivery.get_processor("erp"))])
    job = cancellation.jobs.get()
    assert job.state == "pending"
    erp.mode = "ok"
    delivery.deliver()
    assert erp.payloads[job.idempotency_key]["cancellation"]["state"] == "completed"


def test_resending_a_confirmed_requests_job_says_the_cancellation_is_done(
        order, customer, erp, request_mode):
    cancellation = cancel_order(order, user=customer, channel="customer")
    delivery.deliver()  # the ERP accepts; every processor did: confirmed
    cancellation.refresh_from_db()
    assert cancellation.state == "completed"
    job = cancellation.jobs.get()
    first = erp.payloads[job.idempotency_key]
    assert first["cancellation"]["state"] == "requested"
    resend_job(job)
    delivery.deliver()
    assert erp.payloads[job.idempotency_key]["cancellation"]["state"] == "completed"
    assert erp.received[job.idempotency_key] == 2


def test_the_rejection_signal_of_a_declined_request_is_sent_once(order, waiting, erp):
    seen = []
    signals.order_cancellation_rejected.connect(receiver := lambda sender, **kw: seen.append(kw))
    try:
        reject_cancellation(waiting, reason="Kept")
        dispatch_now()
    finally:
        signals.order_cancellation_rejected.disconnect(receiver)
    assert len(seen) == 1


# -- the order page's Cancellations tab ---------------------------------------------------------

FORKED = any(app.startswith("oscar_ordercancel.dashboard.orders")
             for app in __import__("django.conf").conf.settings.INSTALLED_APPS)
needs_fork = pytest.mark.skipif(
    not FORKED, reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)")


def history_row(client, order, cancellation):
    """The text of one cancellation's row in the order page's Cancellations tab."""
    import re

    from django.utils.html import strip_tags

    response = client.get(reverse("dashboard:order-detail", kwargs={"number": order.number}))
    assert response.status_code == 200
    html = response.content.decode()
    row = re.search(rf'<tr id="ordercancel-cancellation-{cancellation.pk}">(.*?)</tr>', html, re.S)
    assert row, "no history row"
    return " ".join(strip_tags(row.group(1)).split())


@needs_fork
def test_the_cancellations_tab_says_why_a_declined_requests_job_was_not_sent(
        client, clerk, order, waiting):
    from django.utils.formats import date_format
    from django.utils.timezone import localtime

    reject_cancellation(waiting, reason="Kept", user=clerk)
    waiting.refresh_from_db()
    client.force_login(clerk)
    text = history_row(client, order, waiting)
    assert "erp: Not sent Not sent: the request was declined by staff." in text
    created = date_format(localtime(waiting.date_created), "DATETIME_FORMAT")
    rejected = date_format(localtime(waiting.date_completed), "DATETIME_FORMAT")
    assert f"requested {created} rejected {rejected}" in text
    assert "completed" not in text


@needs_fork
def test_the_cancellations_tab_says_when_a_request_was_confirmed(client, clerk, order, waiting):
    from django.utils.formats import date_format
    from django.utils.timezone import localtime

    confirm_cancellation(waiting, user=clerk)
    waiting.refresh_from_db()
    client.force_login(clerk)
    text = history_row(client, order, waiting)
    created = date_format(localtime(waiting.date_created), "DATETIME_FORMAT")
    confirmed = date_format(localtime(waiting.date_completed), "DATETIME_FORMAT")
    assert f"requested {created} confirmed {confirmed}" in text


@needs_fork
def test_the_cancellations_tab_warns_when_a_processor_accepted_a_declined_request(
        client, clerk, order, customer, settings):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        {"name": "erp", "class": "tests.test_settled_requests.DeclinedMeanwhile", "options": {}}]
    cancellation = cancel_order(order, user=customer, channel="customer")
    delivery.deliver()
    client.force_login(clerk)
    text = history_row(client, order, cancellation)
    assert ("erp accepted the cancellation, but the request was declined: the order was kept. "
            "Tell them the order stands.") in text


def test_the_attention_view_lists_a_processor_that_accepted_a_declined_request(
        client, clerk, order, customer, settings):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        {"name": "erp", "class": "tests.test_settled_requests.DeclinedMeanwhile", "options": {}}]
    cancellation = cancel_order(order, user=customer, channel="customer")
    delivery.deliver()
    job = cancellation.jobs.get()
    client.force_login(clerk)
    page = client.get(reverse("ordercancel_dashboard:ordercancel-job-list"), {"view": "attention"})
    assert page.status_code == 200
    assert page.context["attention_count"] == 1
    text = page.content.decode()
    assert reverse("ordercancel_dashboard:ordercancel-job-detail", kwargs={"pk": job.pk}) in text
    assert "The shop and a processor disagree" in text


# -- jobs written by earlier versions ---------------------------------------------------------------


def test_migrating_makes_the_waiting_jobs_of_declined_requests_not_sent(order, customer, settings):
    """Before: a declined request's jobs stayed pending (and were delivered), or were marked
    failed ("Not sent: … declined the request.") when another processor declined."""
    import importlib
    from pathlib import Path

    from django.apps import apps

    import oscar_ordercancel.migrations as migrations
    from oscar_ordercancel.models import OrderCancellation

    [name] = [p.stem for p in Path(migrations.__path__[0]).glob("0*_cancel_job_not_sent.py")]
    migration = importlib.import_module(f"oscar_ordercancel.migrations.{name}")
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{**LOG, "name": "erp"}, LOG]
    by_staff = cancel_order(order, user=customer, channel="customer")
    by_erp = cancel_order(factories.place_order(customer), user=customer, channel="customer")
    standing = cancel_order(factories.place_order(customer), user=customer, channel="customer")
    OrderCancellation.objects.filter(pk__in=[by_staff.pk, by_erp.pk]).update(state="rejected")
    by_erp.jobs.filter(processor="erp").update(state="rejected")
    by_erp.jobs.filter(processor="warehouse").update(
        state="failed", last_error="Not sent: erp declined the request.")

    migration.not_sent_for_declined_requests(apps, None)

    assert sorted(by_staff.jobs.values_list("state", "not_sent_reason")) == [
        ("not_sent", "declined"), ("not_sent", "declined")]
    assert sorted(by_erp.jobs.values_list("processor", "state", "not_sent_reason")) == [
        ("erp", "rejected", ""), ("warehouse", "not_sent", "declined_by_processor")]
    assert set(standing.jobs.values_list("state", flat=True)) == {"pending"}


def test_the_email_to_a_partner_asks_only_while_the_request_is_open(
        order, customer, settings, mailoutbox):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{
        "name": "partner", "class": "oscar_ordercancel.processors.EmailProcessor",
        "options": {"to": ["orders@partner.example"]}}]
    asking = "Please reply to confirm the cancellation or to tell us why it is not possible."
    open_request = cancel_order(order, user=customer, channel="customer")
    confirmed = cancel_order(factories.place_order(customer), user=customer, channel="customer")
    confirm_cancellation(confirmed)  # by hand, before the partner was written to
    delivery.deliver()
    mails = {mail.subject: mail for mail in mailoutbox if mail.to == ["orders@partner.example"]}
    [to_ask] = [m for s, m in mails.items() if open_request.order.number in s]
    [to_tell] = [m for s, m in mails.items() if confirmed.order.number in s]
    assert asking in to_ask.body and asking in to_ask.alternatives[0][0]
    assert asking not in to_tell.body and asking not in to_tell.alternatives[0][0]


def test_the_admin_does_not_call_a_rejection_a_completion(client, order, customer, settings):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    cancellation = cancel_order(order, user=customer, channel="customer")
    reject_cancellation(cancellation, reason="Kept")
    client.force_login(factories.create_user("root@example.com", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:oscar_ordercancel_ordercancellation_change",
                              args=[cancellation.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Completed or rejected at" in text and "Completed at" not in text
