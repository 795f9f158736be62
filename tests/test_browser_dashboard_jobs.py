"""Staff follow a cancellation to the ERP in a real browser: the job list, a job, Retry now."""

import pytest
from django.conf import settings as django_settings

from oscar_ordercancel.jobs import delivery
from oscar_ordercancel.models import CancelJob
from oscar_ordercancel.services import cancel_order
from tests import factories
from tests.erp import FakeERP
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORKED = any(app.startswith("oscar_ordercancel.dashboard.orders")
             for app in django_settings.INSTALLED_APPS)
LOG = {"name": "warehouse", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}


def test_staff_find_a_failed_job_and_retry_it(live_server, page, screenshot, settings):
    clerk = factories.create_user("clerk@example.com", is_staff=True,
                                  perms=["order.view_order", "oscar_ordercancel.cancel_order"])
    customer = factories.create_user("buyer@example.com")
    with FakeERP() as erp:
        settings.OSCAR_ORDERCANCEL_PROCESSORS = [{**erp.processor_entry(), "name": "erp"}, LOG]
        settings.OSCAR_ORDERCANCEL_RETRY = {"max_attempts": 3, "backoff": 0, "backoff_max": 0}
        settings.OSCAR_ORDERCANCEL_FAILURE_ALERT_THRESHOLD = 2
        # a delivered cancellation, one the ERP refused, and two it never answered
        cancel_order(factories.place_order(customer, [("12.50", 2)]), user=clerk)
        erp.mode = "reject"
        cancel_order(factories.place_order(customer, [("4.99", 1)]), user=clerk)
        erp.mode = "down"
        for __ in range(2):
            cancel_order(factories.place_order(customer, [("8.00", 1)]), user=clerk)
        while delivery.deliver():
            pass
        failed = CancelJob.objects.filter(processor="erp", state="failed").order_by("pk").last()
        assert failed is not None and failed.attempt_log.count() == 3

        log_in(page, live_server, clerk.email)
        page.goto(f"{live_server.url}/dashboard/ordercancel/jobs/")
        page.wait_for_selector("#ordercancel-job-table")
        assert page.locator("#ordercancel-failing-processors").is_visible()
        assert "2" in page.inner_text("#ordercancel-job-counts .ordercancel-count-failed")
        screenshot("dashboard-jobs")

        page.click(f"#ordercancel-job-{failed.pk} a.ordercancel-job-link")
        page.wait_for_selector("#ordercancel-job-attempts")
        assert page.locator("#ordercancel-job-attempts tbody tr").count() == 3
        assert "OrderCancel" in page.inner_text("#ordercancel-job-payload")
        screenshot("dashboard-job-detail")

        erp.mode = "ok"
        page.click("#ordercancel-job-retry")
        page.wait_for_selector("#ordercancel-job-state .ordercancel-job-state-succeeded")
        assert "will be delivered now" in page.content()
        failed.refresh_from_db()
        assert failed.state == "succeeded"
        assert erp.accepted[failed.idempotency_key] == 1

        if FORKED:  # the order page's delivery states come with the orders dashboard fork
            refused = CancelJob.objects.get(processor="erp", state="rejected").cancellation
            page.goto(f"{live_server.url}/dashboard/orders/{refused.order.number}/#ordercancel-history")
            page.wait_for_selector("#ordercancel-history-table", state="visible")
            cell = page.inner_text(f"#ordercancel-cancellation-{refused.pk} .ordercancel-delivery")
            assert "Rejected" in cell and "Already shipped" in cell and "Succeeded" in cell
            screenshot("dashboard-order-deliveries")
