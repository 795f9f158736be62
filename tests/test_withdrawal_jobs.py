"""A withdrawal reaches the ERP: an ``OrderWithdrawal`` job per processor, delivered like any job."""

import pytest
from django.urls import reverse
from oscar.core.loading import get_model

from oscar_ordercancel.jobs import delivery, monitor
from oscar_ordercancel.services import declare_withdrawal
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("withdrawal_on")]

CancelJob = get_model("oscar_ordercancel", "CancelJob")


def shipped_order(customer):
    order = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    first = order.lines.order_by("pk").first()
    factories.ship(order, first, 2)
    return order


def test_the_erp_receives_the_signed_withdrawal_once(customer, erp, django_capture_on_commit_callbacks):
    order = shipped_order(customer)
    with django_capture_on_commit_callbacks(execute=True):
        declaration = declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
    job = CancelJob.objects.get(withdrawal=declaration)
    cancel_job = CancelJob.objects.get(cancellation=declaration.cancellation)
    assert job.state == "succeeded"
    assert erp.accepted == {job.idempotency_key: 1, cancel_job.idempotency_key: 1}
    payload = erp.payloads[job.idempotency_key]
    assert payload["job"] == "OrderWithdrawal" and payload["version"] == 1
    assert payload["withdrawal"]["reference"] == declaration.reference
    assert payload["withdrawal"]["state"] == "awaiting_return"
    assert payload["declarant"] == {"name": "Cara", "email": customer.email}
    assert [(line["quantity"], line["outcome"]) for line in payload["lines"]] == [
        (2, "awaiting_return"), (1, "cancelled")]


def test_a_refused_withdrawal_goes_on_the_attention_list_and_the_withdrawal_stands(customer, erp,
                                                                                   staff, client):
    erp.mode = "reject"
    order = shipped_order(customer)
    declaration = declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
    delivery.deliver()
    job = CancelJob.objects.get(withdrawal=declaration)
    assert job.state == "rejected"
    assert job in monitor.attention_list()
    declaration.refresh_from_db()
    assert declaration.state == "awaiting_return"
    note, attention = monitor.job_note(job)
    assert attention and "withdrawal stands" in note

    client.force_login(staff)
    listing = client.get(reverse("ordercancel_dashboard:ordercancel-job-list"))
    assert listing.status_code == 200 and f"ordercancel-job-{job.pk}" in listing.content.decode()
    filtered = client.get(reverse("ordercancel_dashboard:ordercancel-job-list"),
                          {"order_number": order.number})
    assert f"ordercancel-job-{job.pk}" in filtered.content.decode()
    detail = client.get(reverse("ordercancel_dashboard:ordercancel-job-detail", kwargs={"pk": job.pk}))
    assert detail.status_code == 200
    assert declaration.reference in detail.content.decode()
    # staff may resend it, as any job
    resend = client.post(reverse("ordercancel_dashboard:ordercancel-job-resend", kwargs={"pk": job.pk}))
    assert resend.status_code == 302


def test_the_email_processor_tells_the_partner_what_comes_back(customer, settings, mailoutbox,
                                                               django_capture_on_commit_callbacks):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{
        "name": "partner", "class": "oscar_ordercancel.processors.EmailProcessor",
        "options": {"to": ["orders@partner.example"]}}]
    order = shipped_order(customer)
    with django_capture_on_commit_callbacks(execute=True):
        declaration = declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
    mails = [m for m in mailoutbox if m.to == ["orders@partner.example"]]
    withdrawal = next(m for m in mails if m.subject.startswith("Withdrawal"))
    assert f"Withdrawal: order {order.number}" == withdrawal.subject
    assert declaration.reference in withdrawal.body
    assert "2 × Linen shirt" in withdrawal.body and "to come back" in withdrawal.body
    assert "1 × Travel mug" in withdrawal.body and ": cancelled" in withdrawal.body
    assert "to come back" in withdrawal.alternatives[0][0]
    # the line cancelled at once also went out as an ordinary cancel request
    assert any(m.subject == f"Cancel request: order {order.number}" for m in mails)
