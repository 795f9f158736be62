"""How a worker claims and records jobs: the single-statement path (PostgreSQL) and the ORM
path (other databases) keep the same guarantees; a worker tops up with due jobs and skips
only the fresh wake-ups of jobs it already ran; fast outcomes are written together."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oscar_ordercancel import signals
from oscar_ordercancel.jobs import delivery
from oscar_ordercancel.jobs.worker import TakenJobs
from oscar_ordercancel.models import CancelJob, CancelJobAttempt
from oscar_ordercancel.processors import CancelProcessor, RetryableError
from oscar_ordercancel.services import cancel_order, resend_job
from tests import factories

pytestmark = pytest.mark.django_db

CALLS: list[str] = []


class CountingProcessor(CancelProcessor):
    """Succeeds, and notes every call by idempotency key."""

    def process(self, payload, idempotency_key):
        CALLS.append(idempotency_key)
        return self.success()


class OvertakenProcessor(CancelProcessor):
    """While the call is under way, its lease runs out and another worker claims the job."""

    def process(self, payload, idempotency_key):
        CancelJob.objects.filter(idempotency_key=idempotency_key).update(attempts=F("attempts") + 1)
        return self.success()


class FlakyProcessor(CancelProcessor):
    def process(self, payload, idempotency_key):
        raise RetryableError("ERP busy", retry_after=120)


class RefusingProcessor(CancelProcessor):
    def process(self, payload, idempotency_key):
        return self.reject("Already packed")


def entry(cls, name="erp"):
    return {"name": name, "class": f"tests.test_delivery_paths.{cls.__name__}", "options": {}}


@pytest.fixture(params=["statements", "orm"])
def path(request, settings):
    """Run the test on each path the database allows (the ORM path everywhere)."""
    if request.param == "statements" and connection.vendor != "postgresql":
        pytest.skip("the single-statement path is PostgreSQL's; this database uses the ORM path")
    settings.OSCAR_ORDERCANCEL_DELIVERY_SINGLE_STATEMENTS = request.param == "statements"
    assert delivery.single_statements() is (request.param == "statements")
    CALLS.clear()
    return request.param


def pending_jobs(customer, staff, settings, count, processor=CountingProcessor):
    """``count`` cancellations' jobs, committed in the test but not yet woken."""
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [entry(processor)]
    for __ in range(count):
        cancel_order(factories.place_order(customer), user=staff)
    return list(CancelJob.objects.order_by("pk"))


def test_a_claim_marks_jobs_running_under_a_lease_and_no_one_claims_them_twice(
        path, customer, staff, settings):
    jobs = pending_jobs(customer, staff, settings, 3)
    before = timezone.now()
    claimed = delivery.claim([job.pk for job in jobs])
    assert sorted(job.pk for job in claimed) == [job.pk for job in jobs]
    for job in claimed:
        assert (job.state, job.attempts) == ("running", 1)
        assert job.lease_expires_at > before + timedelta(seconds=250)
        assert job.payload["parameters"]["OrderNumber"]
    assert delivery.claim([job.pk for job in jobs]) == []
    assert delivery.claim() == []
    assert set(CancelJob.objects.values_list("state", "attempts")) == {("running", 1)}


def test_a_job_whose_lease_ran_out_is_claimed_again_with_a_lost_attempt(
        path, customer, staff, settings):
    [job] = pending_jobs(customer, staff, settings, 1)
    [claimed] = delivery.claim([job.pk])
    past = timezone.now() - timedelta(minutes=1)
    CancelJob.objects.filter(pk=job.pk).update(lease_expires_at=past, date_updated=past)
    [again] = delivery.claim([job.pk])
    assert (again.state, again.attempts) == ("running", 2)
    [lost] = CancelJobAttempt.objects.filter(job=job)
    assert lost.outcome == "lost" and lost.started_at == past
    assert "lease expired" in lost.error
    # a top-up only takes pending jobs: expired leases are the dispatcher's
    CancelJob.objects.filter(pk=job.pk).update(lease_expires_at=past)
    assert delivery.claim(pending_only=True) == []


def test_outcomes_of_every_kind_are_written_with_their_attempts(path, customer, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        entry(CountingProcessor, "ok"), entry(FlakyProcessor, "flaky"),
        entry(RefusingProcessor, "refusing")]
    cancellation = cancel_order(factories.place_order(customer), user=staff)
    outcomes = delivery.deliver()
    assert sorted(o.outcome for o in outcomes) == ["rejected", "retry", "succeeded"]
    ok, flaky, refusing = (CancelJob.objects.get(cancellation=cancellation, processor=name)
                           for name in ("ok", "flaky", "refusing"))
    assert (ok.state, ok.last_error, ok.next_attempt_at, ok.lease_expires_at) == (
        "succeeded", "", None, None)
    assert ok.date_finished is not None
    assert flaky.state == "pending" and flaky.date_finished is None
    assert flaky.last_error == "ERP busy"
    assert flaky.next_attempt_at >= timezone.now() + timedelta(seconds=100)  # Retry-After
    assert (refusing.state, refusing.rejection_reason) == ("rejected", "Already packed")
    assert sorted(CancelJobAttempt.objects.values_list("job__processor", "outcome")) == [
        ("flaky", "retry"), ("ok", "succeeded"), ("refusing", "rejected")]


def test_a_late_outcome_does_not_overwrite_a_newer_claim(path, customer, staff, settings):
    [job] = pending_jobs(customer, staff, settings, 1, OvertakenProcessor)
    succeeded = []
    signals.cancel_job_succeeded.connect(receiver := lambda sender, job, **kw: succeeded.append(job))
    try:
        [outcome] = delivery.deliver([job.pk])
    finally:
        signals.cancel_job_succeeded.disconnect(receiver)
    job.refresh_from_db()
    assert (job.state, job.attempts) == ("running", 2)  # the newer claim still owns it
    assert list(job.attempt_log.values_list("outcome", flat=True)) == ["succeeded"]  # logged
    assert outcome.outcome == "succeeded" and succeeded == []  # but not announced


def test_fast_outcomes_are_written_together_and_signalled_after(path, customer, staff, settings):
    jobs = pending_jobs(customer, staff, settings, 5)
    seen = []

    def on_success(sender, job, **kwargs):
        # the outcome is already in the database when the signal is sent
        seen.append(CancelJob.objects.get(pk=job.pk).state)

    signals.cancel_job_succeeded.connect(on_success)
    try:
        with CaptureQueriesContext(connection) as ctx:
            outcomes = delivery.deliver([job.pk for job in jobs])
    finally:
        signals.cancel_job_succeeded.disconnect(on_success)
    assert [o.outcome for o in outcomes] == ["succeeded"] * 5
    assert seen == ["succeeded"] * 5
    assert sorted(CALLS) == sorted(job.idempotency_key for job in jobs)
    assert CancelJobAttempt.objects.filter(outcome="succeeded").count() == 5
    if path == "statements":
        ours = [q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]][:-len(seen)]
        assert len(ours) == 3  # is any due, the claim, one write for the five outcomes
        assert "INSERT" in ours[2]["sql"] and "UPDATE" in ours[2]["sql"]


def test_a_slow_call_is_written_at_once(path, customer, staff, settings, monkeypatch):
    jobs = pending_jobs(customer, staff, settings, 3)
    monkeypatch.setattr(delivery, "GROUP_COMMIT_SECONDS", 0)  # every call counts as slow
    written = []
    record = delivery._record

    def counting_record(attempts):
        written.append(len(attempts))
        return record(attempts)

    monkeypatch.setattr(delivery, "_record", counting_record)
    delivery.deliver([job.pk for job in jobs])
    assert [n for n in written if n] == [1, 1, 1]
    assert set(CancelJob.objects.values_list("state", flat=True)) == {"succeeded"}


# -- topping up ---------------------------------------------------------------------


def test_a_worker_tops_up_with_due_jobs_and_their_fresh_wake_ups_cost_nothing(
        path, customer, staff, settings, django_assert_num_queries):
    first, *others = pending_jobs(customer, staff, settings, 4)
    taken = TakenJobs()  # the worker process's memory (the Celery task keeps one per process)
    outcomes = delivery.deliver([first.pk], topup=5.0, taken=taken)
    assert len(outcomes) == 4
    assert set(CancelJob.objects.values_list("state", flat=True)) == {"succeeded"}
    assert len(CALLS) == len(set(CALLS)) == 4
    with django_assert_num_queries(0):
        assert delivery.deliver([others[0].pk], fresh=True, topup=5.0, taken=taken) == []
    # that wake-up was the one expected: a second one for the same job asks the database
    with CaptureQueriesContext(connection) as ctx:
        assert delivery.deliver([others[0].pk], fresh=True, topup=5.0, taken=taken) == []
    assert ctx.captured_queries
    assert len(CALLS) == 4


def test_a_resend_after_a_top_up_is_delivered(path, customer, staff, settings):
    first, second = pending_jobs(customer, staff, settings, 2)
    taken = TakenJobs()
    delivery.deliver([first.pk], topup=5.0, taken=taken)
    resend_job(CancelJob.objects.get(pk=second.pk))
    # a resend's wake-up is not fresh: it is never skipped
    [outcome] = delivery.deliver([second.pk], topup=5.0, taken=taken)
    assert outcome.outcome == "succeeded"
    assert CALLS.count(second.idempotency_key) == 2  # delivered again under the same key


def test_without_top_up_a_wake_up_delivers_only_its_own_jobs(path, customer, staff, settings):
    first, second = pending_jobs(customer, staff, settings, 2)
    assert [o.job_id for o in delivery.deliver([first.pk])] == [first.pk]
    assert CancelJob.objects.get(pk=second.pk).state == "pending"


def test_a_wake_up_whose_jobs_were_taken_does_not_top_up(path, customer, staff, settings):
    first, second = pending_jobs(customer, staff, settings, 2)
    delivery.deliver([first.pk])
    # another worker is evidently topping up: this one leaves the second job to it
    assert delivery.deliver([first.pk], topup=5.0) == []
    assert CancelJob.objects.get(pk=second.pk).state == "pending"


def test_an_eager_task_never_tops_up(customer, staff, settings):
    """In the sandbox the wake-up runs inside the customer's request: only its own jobs."""
    from oscar_ordercancel.tasks import deliver_cancel_jobs

    first, second = pending_jobs(customer, staff, settings, 2)
    deliver_cancel_jobs.apply(([first.pk],), {"fresh": True})
    assert CancelJob.objects.get(pk=first.pk).state == "succeeded"
    assert CancelJob.objects.get(pk=second.pk).state == "pending"


class SlowProcessor(CancelProcessor):
    def process(self, payload, idempotency_key):
        CALLS.append(idempotency_key)
        time.sleep(0.3)
        return self.success()


def test_a_top_up_gives_back_the_jobs_it_has_no_time_for(path, customer, staff, settings):
    """A slow receiver's backlog is not hoarded by one worker: what the top-up's time does not
    cover goes back at once (and, here, where Celery is eager, is delivered by that wake-up)."""
    first, *others = pending_jobs(customer, staff, settings, 5, SlowProcessor)
    outcomes = delivery.deliver([first.pk], topup=0.5)
    assert len(outcomes) == 2  # its own job, then one more before the half second was up
    assert sorted(CancelJob.objects.values_list("state", "attempts")) == [("succeeded", 1)] * 5
    assert len(CALLS) == len(set(CALLS)) == 5


def test_jobs_written_while_wake_ups_are_held_wait_for_the_dispatcher(
        customer, staff, settings, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    from oscar_ordercancel.jobs.outbox import wake_ups_held

    settings.OSCAR_ORDERCANCEL_PROCESSORS = [entry(CountingProcessor)]
    CALLS.clear()
    with django_capture_on_commit_callbacks(execute=True), wake_ups_held():
        held = cancel_order(factories.place_order(customer), user=staff)
    with django_capture_on_commit_callbacks(execute=True):
        woken = cancel_order(factories.place_order(customer), user=staff)
    assert held.jobs.get().state == "pending" and woken.jobs.get().state == "succeeded"
    call_command("ordercancel_dispatch", "--now", "--grace", "0")
    assert held.jobs.get().state == "succeeded" and len(CALLS) == 2


# -- a declined request's jobs (issue 13, item 2) -------------------------------------------------


def declined_request(customer, settings, processor=CountingProcessor):
    """A request whose job was written, then declined by staff before anything was delivered."""
    from oscar_ordercancel.services import reject_cancellation

    settings.OSCAR_ORDERCANCEL_MODE = "request"
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [entry(processor)]
    cancellation = cancel_order(factories.place_order(customer), user=customer, channel="customer")
    return cancellation, reject_cancellation


def test_the_claim_never_takes_a_job_of_a_declined_request(path, customer, staff, settings):
    cancellation, reject = declined_request(customer, settings)
    reject(cancellation, reason="Kept", user=staff)
    job = cancellation.jobs.get()
    assert job.state == "not_sent"
    # left over as pending (written by an older version, say), or running past a dead worker's lease
    past = timezone.now() - timedelta(minutes=1)
    for state, lease in (("pending", None), ("running", past)):
        CancelJob.objects.filter(pk=job.pk).update(state=state, next_attempt_at=past,
                                                   lease_expires_at=lease)
        assert delivery.claim([job.pk]) == []
        assert delivery.claim() == []
        assert delivery.claim(pending_only=True) == []
        assert delivery.deliver([job.pk]) == [] and delivery.deliver() == []
    assert CALLS == []
    assert CancelJob.objects.get(pk=job.pk).attempts == 0


def test_a_retry_that_comes_back_after_the_request_was_declined_is_not_sent(
        path, customer, staff, settings):
    cancellation, reject = declined_request(customer, settings, FlakyProcessor)
    [claimed] = delivery.claim()
    reject(cancellation, reason="Kept", user=staff)  # while the worker calls the ERP
    assert CancelJob.objects.get(pk=claimed.pk).state == "running"  # the worker's, still
    [outcome] = delivery._record([delivery._attempt(claimed, delivery.get_processor("erp"))])
    assert outcome.outcome == "retry"  # what the ERP answered is logged ...
    job = CancelJob.objects.get(pk=claimed.pk)
    # ... but the job is not sent again, and says why (who declined is in the order's notes)
    assert (job.state, job.not_sent_reason, job.next_attempt_at) == ("not_sent", "declined", None)
    assert list(job.attempt_log.values_list("outcome", flat=True)) == ["retry"]
    assert delivery.due_job_ids(grace=0) == []


def test_a_success_that_comes_back_after_the_request_was_declined_does_not_undo_it(
        path, customer, staff, settings):
    cancellation, reject = declined_request(customer, settings)
    [claimed] = delivery.claim()
    reject(cancellation, reason="Kept", user=staff)
    delivery._record([delivery._attempt(claimed, delivery.get_processor("erp"))])
    cancellation.refresh_from_db()
    job = CancelJob.objects.get(pk=claimed.pk)
    assert cancellation.state == "rejected" and job.state == "succeeded"
    assert cancellation.order.status == "Pending"
