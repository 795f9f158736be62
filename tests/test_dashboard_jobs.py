"""The delivery monitor in the dashboard (issue 8, section 5): cancel jobs, their actions,
requests settled by hand, and each cancellation's delivery state on the order page."""

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oscar_ordercancel.compat import GRANULAR_DASHBOARD_PERMISSIONS
from oscar_ordercancel.jobs import delivery
from oscar_ordercancel.models import CancelJob
from oscar_ordercancel.services import cancel_order
from tests import factories
from tests.erp import FakeERP

pytestmark = pytest.mark.django_db

FORKED = any(app.startswith("oscar_ordercancel.dashboard.orders")
             for app in django_settings.INSTALLED_APPS)
needs_fork = pytest.mark.skipif(
    not FORKED, reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)")

LOG = {"name": "erp", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}
WAREHOUSE = {**LOG, "name": "warehouse"}

LIST = reverse("ordercancel_dashboard:ordercancel-job-list")


def detail(job):
    return reverse("ordercancel_dashboard:ordercancel-job-detail", kwargs={"pk": getattr(job, "pk", job)})


def action(name, job):
    return reverse(f"ordercancel_dashboard:ordercancel-job-{name}", kwargs={"pk": getattr(job, "pk", job)})


def settle(name, cancellation):
    return reverse(f"ordercancel_dashboard:ordercancel-cancellation-{name}",
                   kwargs={"pk": getattr(cancellation, "pk", cancellation)})


def order_page(order):
    return reverse("dashboard:order-detail", kwargs={"number": order.number})


def texts(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def follow_messages(client, response):
    """The messages a redirect leads to (read from the next page)."""
    assert response.status_code == 302, response.status_code
    return [str(m) for m in client.get(response.url).context["messages"]]


def snapshot(job):
    job = CancelJob.objects.get(pk=job.pk)
    return (job.state, job.attempts, job.next_attempt_at, job.last_error, job.date_finished,
            job.date_updated, job.attempt_log.count())


@pytest.fixture
def watcher(db):
    """Staff who may look at cancel jobs but not act on them."""
    return factories.create_user("watcher@example.com", is_staff=True,
                                 perms=["order.view_order", "oscar_ordercancel.view_canceljob"],
                                 order_pages=False)


@pytest.fixture
def outsider(db):
    """Staff with neither permission."""
    return factories.create_user("outsider@example.com", is_staff=True, perms=["order.view_order"],
                                 order_pages=False)


@pytest.fixture
def processors(settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG, WAREHOUSE]


def cancelled(customer, staff, count=1):
    """``count`` orders cancelled by ``staff``; their jobs stay pending (no commit in a test)."""
    return [cancel_order(factories.place_order(customer), user=staff) for __ in range(count)]


# -- the job list ------------------------------------------------------------------------


def test_the_job_list_shows_every_job_with_counts_per_state(client, clerk, customer, staff, processors):
    first, second, third = cancelled(customer, staff, 3)
    delivery.deliver(list(first.jobs.values_list("pk", flat=True)))  # two succeed
    CancelJob.objects.filter(cancellation=second, processor="warehouse").update(state="failed")
    client.force_login(clerk)

    page = client.get(LIST)

    assert page.status_code == 200
    counts = {link["state"]: link["count"] for link in page.context["state_links"]}
    assert counts == {"pending": 3, "running": 0, "succeeded": 2, "rejected": 0, "failed": 1,
                      "not_sent": 0}
    assert page.context["total"] == 6
    text = page.content.decode()
    assert all(detail(job) in text for job in CancelJob.objects.all())
    assert third.order.number in text and order_page(third.order) in text
    assert 'id="ordercancel-job-counts"' in text and "ordercancel-no-processors" not in text


def test_the_job_list_filters_by_state_processor_and_order_number(
        client, clerk, customer, staff, processors):
    first, second = cancelled(customer, staff, 2)
    delivery.deliver(list(first.jobs.values_list("pk", flat=True)))
    client.force_login(clerk)

    def listed(**query):
        page = client.get(LIST, query)
        assert page.status_code == 200
        return {(job.cancellation_id, job.processor, job.state) for job in page.context["jobs"].data}

    assert listed(state="succeeded") == {(first.pk, "erp", "succeeded"), (first.pk, "warehouse", "succeeded")}
    assert listed(processor="warehouse") == {(first.pk, "warehouse", "succeeded"),
                                             (second.pk, "warehouse", "pending")}
    assert listed(order_number=second.order.number) == {(second.pk, "erp", "pending"),
                                                        (second.pk, "warehouse", "pending")}
    assert listed(state="pending", processor="erp") == {(second.pk, "erp", "pending")}
    # counts follow the processor and order filters, not the state filter
    page = client.get(LIST, {"processor": "erp", "state": "pending"})
    assert {link["state"]: link["count"] for link in page.context["state_links"]}["succeeded"] == 1


def test_bad_filters_are_reported_and_not_applied(client, clerk, customer, staff, processors):
    cancelled(customer, staff, 1)
    client.force_login(clerk)
    page = client.get(LIST, {"state": "exploded", "processor": "<script>", "order_number": "x" * 500,
                             "view": "secret", "sort": "nonsense"})
    assert page.status_code == 200
    assert 'id="ordercancel-filter-errors"' in page.content.decode()
    assert "&lt;script&gt; is not one of the available choices" in page.content.decode()  # escaped
    assert len(page.context["jobs"].data) == 2  # nothing filtered out
    assert client.get(LIST, {"page": "abc"}).status_code == 404  # Django's answer to a page that is not one


def test_the_job_list_paginates_and_sorts(client, clerk, customer, staff, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    cancelled(customer, staff, 30)
    client.force_login(clerk)
    first = client.get(LIST)
    assert len(first.context["jobs"].page.object_list) == 25
    second = client.get(LIST, {"page": 2})
    assert len(second.context["jobs"].page.object_list) == 5
    by_order = client.get(LIST, {"sort": "order"})
    numbers = [row.record.cancellation.order.number for row in by_order.context["jobs"].page.object_list]
    assert numbers == sorted(numbers)
    assert client.get(LIST, {"page": 99}).status_code == 404


def test_the_job_list_costs_the_same_queries_for_1_and_30_jobs(
        client, clerk, customer, staff, settings, django_assert_max_num_queries):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    cancelled(customer, staff, 1)
    client.force_login(clerk)
    client.get(LIST)  # warm the session and the site caches
    with CaptureQueriesContext(connection) as one:
        assert client.get(LIST).status_code == 200
    cancelled(customer, staff, 29)
    with django_assert_max_num_queries(len(one)):
        page = client.get(LIST)
    assert page.status_code == 200 and len(page.context["jobs"].page.object_list) == 25


def test_the_attention_view_lists_rejected_jobs_and_waiting_requests(
        client, clerk, customer, staff, settings):
    with FakeERP() as erp:
        erp.mode = "reject"
        settings.OSCAR_ORDERCANCEL_PROCESSORS = [{**erp.processor_entry(), "name": "erp"}]
        refused = cancelled(customer, staff, 1)[0]
        delivery.deliver()
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    waiting = cancel_order(factories.place_order(customer), user=customer, channel="customer")
    assert waiting.state == "requested"
    client.force_login(clerk)

    page = client.get(LIST, {"view": "attention"})

    assert page.status_code == 200 and page.context["attention"]
    assert [job.cancellation_id for job in page.context["jobs"].data] == [refused.pk]
    assert page.context["waiting_requests"] == [waiting]
    assert page.context["attention_count"] == 2
    text = page.content.decode()
    assert "Already shipped" in text and f'id="ordercancel-waiting-{waiting.pk}"' in text
    assert order_page(waiting.order) in text
    # the normal list shows the size of the attention list in its tab
    assert client.get(LIST).context["attention_count"] == 2


def test_the_list_alerts_when_a_processor_fails_n_jobs_in_a_row(
        client, clerk, customer, staff, erp, settings):
    settings.OSCAR_ORDERCANCEL_FAILURE_ALERT_THRESHOLD = 2
    erp.mode, erp.status = "down", 401  # permanent: wrong credentials
    client.force_login(clerk)
    [first] = cancelled(customer, staff, 1)
    delivery.deliver()
    response = client.get(LIST)
    assert response.status_code == 200
    text = response.content.decode()
    job = CancelJob.objects.get(cancellation=first)
    assert job.state == "failed"  # one failure: listed as failed, but no alert yet
    assert f'id="ordercancel-job-{job.pk}"' in text and "ordercancel-job-state-failed" in text
    assert 'id="ordercancel-failing-processors"' not in text
    cancelled(customer, staff, 1)
    delivery.deliver()
    text = client.get(LIST).content.decode()
    assert 'id="ordercancel-failing-processors"' in text
    assert "has failed its last 2 jobs in a row" in text and "HTTP 401" in text


def test_the_job_pages_say_when_no_processor_is_configured(client, clerk, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = []
    client.force_login(clerk)
    assert 'id="ordercancel-no-processors"' in client.get(LIST).content.decode()


def test_the_menu_has_cancel_jobs(client, superuser):
    client.force_login(superuser)
    text = client.get(reverse("dashboard:index")).content.decode()
    assert LIST in text and "Cancel jobs" in text


# -- the job page --------------------------------------------------------------------------


def test_the_job_page_shows_payload_attempts_and_next_attempt(client, clerk, order, staff, erp, settings):
    settings.OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 5, "backoff": 60, "backoff_max": 60}
    erp.mode = "down"
    cancellation = cancel_order(order, user=staff)
    delivery.deliver()
    job = cancellation.jobs.get()
    client.force_login(clerk)

    page = client.get(detail(job))

    assert page.status_code == 200
    text = page.content.decode()
    assert page.context["attempts"] == list(job.attempt_log.all()) and len(page.context["attempts"]) == 1
    assert "HTTP 500" in text and 'class="ordercancel-attempt ordercancel-attempt-retry"' in text
    assert job.idempotency_key in text
    assert f"&quot;OrderNumber&quot;: &quot;{order.number}&quot;" in text  # pretty JSON
    assert '"job": "OrderCancel"' in page.context["payload_json"]
    assert order_page(order) in text
    assert page.context["may_retry"] and page.context["may_give_up"] and not page.context["may_resend"]
    assert 'id="ordercancel-job-retry"' in text and 'id="ordercancel-job-give-up"' in text
    assert 'id="ordercancel-job-resend"' not in text
    job.refresh_from_db()
    assert job.next_attempt_at is not None


def test_a_job_page_offers_only_what_the_state_allows(client, clerk, order, staff, processors):
    cancellation = cancel_order(order, user=staff)
    done, running = cancellation.jobs.order_by("processor")
    delivery.deliver([done.pk])
    CancelJob.objects.filter(pk=running.pk).update(state="running")
    client.force_login(clerk)

    text = client.get(detail(done)).content.decode()
    assert 'id="ordercancel-job-resend"' in text
    assert 'id="ordercancel-job-retry"' not in text and 'id="ordercancel-job-give-up"' not in text
    text = client.get(detail(running)).content.decode()
    assert "A worker is delivering this job now" in text
    assert not any(f'id="ordercancel-job-{name}"' in text for name in ("retry", "resend", "give-up"))


# -- actions ------------------------------------------------------------------------------


def test_retry_now_delivers_a_failed_job(
        client, clerk, order, staff, erp, django_capture_on_commit_callbacks):
    erp.mode = "down"
    job = cancel_order(order, user=staff).jobs.get()
    for __ in range(3):
        delivery.deliver()
    job.refresh_from_db()
    assert job.state == "failed"
    erp.mode = "ok"
    client.force_login(clerk)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(action("retry", job))

    assert response.status_code == 302 and response.url == detail(job)
    job.refresh_from_db()
    assert job.state == "succeeded" and job.attempts == 1
    assert erp.accepted == {job.idempotency_key: 1}
    assert any("will be delivered now" in m for m in follow_messages(client, response))
    assert order.notes.filter(message__contains="retry requested", user=clerk).exists()


def test_give_up_stops_a_pending_job_with_the_reason(client, clerk, order, staff, processors):
    job = cancel_order(order, user=staff).jobs.get(processor="erp")
    client.force_login(clerk)
    response = client.post(action("give-up", job), {"reason": "ERP retired"})
    job.refresh_from_db()
    assert (job.state, job.last_error) == ("failed", "ERP retired")
    assert any("was given up" in m for m in follow_messages(client, response))


def test_give_up_refuses_a_reason_that_is_too_long(client, clerk, order, staff, processors):
    job = cancel_order(order, user=staff).jobs.get(processor="erp")
    before = snapshot(job)
    client.force_login(clerk)
    response = client.post(action("give-up", job), {"reason": "x" * 501})
    assert snapshot(job) == before
    assert any("at most 500 characters" in m for m in follow_messages(client, response))


def test_resend_delivers_a_finished_job_again_under_the_same_key(
        client, clerk, order, staff, erp, django_capture_on_commit_callbacks):
    job = cancel_order(order, user=staff).jobs.get()
    delivery.deliver()
    client.force_login(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(action("resend", job))
    job.refresh_from_db()
    assert job.state == "succeeded"
    assert erp.received == {job.idempotency_key: 2}
    assert any("same idempotency key" in m for m in follow_messages(client, response))


@pytest.mark.parametrize(("name", "state", "refusal"), [
    ("retry", "succeeded", "Only a pending or failed job can be retried; this one is succeeded."),
    ("retry", "running", "Only a pending or failed job can be retried; this one is running."),
    ("resend", "pending", "Only a finished job can be sent again; this one is pending."),
    ("give-up", "failed", "Only a pending job can be given up; this one is failed."),
    ("give-up", "running", "Only a pending job can be given up; this one is running."),
])
def test_an_action_the_state_forbids_is_refused_with_a_message_and_no_change(
        client, clerk, order, staff, processors, name, state, refusal):
    job = cancel_order(order, user=staff).jobs.get(processor="erp")
    CancelJob.objects.filter(pk=job.pk).update(state=state)
    before = snapshot(job)
    notes = order.notes.count()
    client.force_login(clerk)
    response = client.post(action(name, job), {"reason": "why not"})
    assert snapshot(job) == before and order.notes.count() == notes
    assert refusal in follow_messages(client, response)


def test_hostile_requests_to_the_actions(client, clerk, order, staff, processors):
    job = cancel_order(order, user=staff).jobs.get(processor="erp")
    before = snapshot(job)
    client.force_login(clerk)
    for name in ("retry", "resend", "give-up"):
        assert client.post(action(name, 999999)).status_code == 404
        assert client.get(action(name, job)).status_code == 405  # POST only
    assert client.get(detail(999999)).status_code == 404
    assert client.get("/dashboard/ordercancel/jobs/abc/").status_code == 404
    assert client.get(detail(10**30)).status_code == 404  # beyond the column's range: no 500
    assert client.post(action("retry", 10**30)).status_code == 404
    assert snapshot(job) == before


def test_staff_without_the_permission_cannot_see_or_act(client, outsider, watcher, order, staff, processors):
    job = cancel_order(order, user=staff).jobs.get(processor="erp")
    before = snapshot(job)
    client.force_login(outsider)
    assert client.get(LIST).status_code == 403
    assert client.get(detail(job)).status_code == 403
    for name in ("retry", "resend", "give-up"):
        assert client.post(action(name, job)).status_code == 403
    client.force_login(watcher)  # may look, may not act
    assert client.get(LIST).status_code == 200
    page = client.get(detail(job))
    assert page.status_code == 200 and not page.context["may_retry"]
    assert "You may not act on cancel jobs." in page.content.decode()
    for name in ("retry", "resend", "give-up"):
        assert client.post(action(name, job)).status_code == 403
    assert snapshot(job) == before


def test_anonymous_users_are_sent_to_log_in(client, order, staff, processors):
    job = cancel_order(order, user=staff).jobs.get(processor="erp")
    assert client.get(LIST).status_code == 302
    assert client.post(action("retry", job)).status_code == 302
    assert snapshot(job)[0] == "pending"


# -- settling a request by hand (request mode) -----------------------------------------------


@pytest.fixture
def requested(order, customer, settings, processors):
    """A customer's cancellation request that no processor has answered."""
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    cancellation = cancel_order(order, user=customer, channel="customer")
    order.refresh_from_db()
    assert cancellation.state == "requested" and order.status == "Cancellation requested"
    return cancellation


def test_staff_confirm_a_waiting_request(client, clerk, order, requested, mailoutbox,
                                        django_capture_on_commit_callbacks):
    client.force_login(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(settle("confirm", requested), {"note": "ERP is down; confirmed by phone"})
    assert response.status_code == 302
    assert response.url == order_page(order) + "#ordercancel-history"
    requested.refresh_from_db()
    order.refresh_from_db()
    assert requested.state == "completed" and order.status == "Cancelled"
    assert "confirmed by phone" in requested.note
    assert [line.stockrecord.num_allocated for line in order.lines.order_by("pk")] == [0, 0]
    assert "has been cancelled" in mailoutbox[-1].subject
    # settled already: a second confirmation (or a rejection) is refused and changes nothing
    again = client.post(settle("confirm", requested))
    assert "This cancellation is already completed." in follow_messages(client, again)
    refused = client.post(settle("reject", requested), {"reason": "too late"})
    assert "This cancellation is already completed." in follow_messages(client, refused)
    requested.refresh_from_db()
    order.refresh_from_db()
    assert requested.state == "completed" and order.status == "Cancelled"


def test_staff_reject_a_waiting_request_with_a_reason(client, clerk, order, requested, mailoutbox,
                                                      django_capture_on_commit_callbacks):
    client.force_login(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(settle("reject", requested), {"reason": "Already packed"})
    requested.refresh_from_db()
    order.refresh_from_db()
    assert requested.state == "rejected" and requested.rejection_reason == "Already packed"
    assert order.status == "Pending"
    assert "Already packed" in mailoutbox[-1].body
    assert any("was declined" in m for m in follow_messages(client, response))


def test_a_rejection_needs_a_reason(client, clerk, order, requested):
    client.force_login(clerk)
    response = client.post(settle("reject", requested), {"reason": "  "})
    requested.refresh_from_db()
    assert requested.state == "requested"
    assert any("Give a reason" in m for m in follow_messages(client, response))


def test_settling_by_hand_needs_the_cancel_permission_and_post(client, watcher, clerk, order, requested):
    client.force_login(watcher)
    assert client.post(settle("confirm", requested)).status_code == 403
    assert client.post(settle("reject", requested), {"reason": "no"}).status_code == 403
    client.force_login(clerk)
    assert client.get(settle("confirm", requested)).status_code == 405
    assert client.post(settle("confirm", 999999)).status_code == 404
    assert client.post(settle("reject", 999999), {"reason": "no"}).status_code == 404
    assert client.post(settle("confirm", 10**30)).status_code == 404
    requested.refresh_from_db()
    assert requested.state == "requested"


# -- the order page (orders dashboard fork) ----------------------------------------------------


@needs_fork
def test_the_order_page_shows_each_cancellations_delivery_per_processor(
        client, clerk, customer, staff, settings):
    with FakeERP() as erp:
        erp.mode = "reject"
        settings.OSCAR_ORDERCANCEL_PROCESSORS = [{**erp.processor_entry(), "name": "erp"}, WAREHOUSE]
        order = factories.place_order(customer, [("10.00", 1), ("5.00", 1)])
        first_line, second_line = order.lines.order_by("pk")
        first = cancel_order(order, user=staff, lines={first_line: 1})
        delivery.deliver()
        second = cancel_order(order, user=staff, lines={second_line: 1})
    client.force_login(clerk)

    page = client.get(order_page(order))

    assert page.status_code == 200
    deliveries = page.context["deliveries"]
    assert [(d.processor, d.state) for d in deliveries[first.pk]] == [
        ("erp", "rejected"), ("warehouse", "succeeded")]
    assert [(d.processor, d.state) for d in deliveries[second.pk]] == [
        ("erp", "pending"), ("warehouse", "pending")]
    text = page.content.decode()
    for job in CancelJob.objects.all():
        assert detail(job) in text
    assert "Already shipped" in text and "ordercancel-job-state-rejected" in text


@needs_fork
def test_the_order_page_offers_confirm_and_reject_for_a_waiting_request(
        client, clerk, order, requested):
    client.force_login(clerk)
    text = client.get(order_page(order)).content.decode()
    assert settle("confirm", requested) in text and settle("reject", requested) in text


@needs_fork
@pytest.mark.skipif(not GRANULAR_DASHBOARD_PERMISSIONS, reason=(
    "Oscar 4.0/4.1: whoever may open the order page has order.change_order, a cancel permission"))
def test_staff_who_may_see_the_order_but_not_cancel_get_no_buttons(client, order, requested):
    outsider = factories.create_user("viewer@example.com", is_staff=True, perms=["order.view_order"])
    client.force_login(outsider)  # may see the order, may not cancel
    response = client.get(order_page(order))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="ordercancel-history-table"' in text  # the cancellation is shown, without the buttons
    assert settle("confirm", requested) not in text and settle("reject", requested) not in text


@needs_fork
def test_the_order_page_with_10_cancellations_costs_at_most_3_more_queries_than_with_1(
        client, clerk, customer, staff, processors, django_assert_max_num_queries):
    items = [("1.00", 1)] * 11
    one = factories.place_order(customer, items)
    cancel_order(one, user=staff, lines={one.lines.order_by("pk").first(): 1})
    ten = factories.place_order(customer, items)
    for line in list(ten.lines.order_by("pk"))[:10]:
        cancel_order(ten, user=staff, lines={line: 1})
    delivery.deliver()
    assert CancelJob.objects.filter(cancellation__order=ten).count() == 20
    client.force_login(clerk)
    client.get(order_page(one))
    with CaptureQueriesContext(connection) as base:
        assert client.get(order_page(one)).status_code == 200
    with django_assert_max_num_queries(len(base) + 3):
        page = client.get(order_page(ten))
    assert page.status_code == 200 and len(page.context["deliveries"]) == 10
