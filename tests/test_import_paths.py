"""Import paths a shop may already use keep working after the re-shelving (issue 14)."""

import importlib
import warnings

import pytest
from django.utils.module_loading import import_string

MOVED = [
    ("oscar_ordercancel.engine.payment", "DefaultPaymentHandler", "oscar_ordercancel.payment"),
    ("oscar_ordercancel.engine.payment", "get_payment_handler", "oscar_ordercancel.payment"),
    ("oscar_ordercancel.integrations.monitor", "attention_list", "oscar_ordercancel.jobs.monitor"),
    ("oscar_ordercancel.integrations.monitor", "waiting_requests", "oscar_ordercancel.jobs.monitor"),
    ("oscar_ordercancel.integrations.outbox", "wake_ups_held", "oscar_ordercancel.jobs.outbox"),
    ("oscar_ordercancel.integrations.delivery", "deliver", "oscar_ordercancel.jobs.delivery"),
    ("oscar_ordercancel.integrations.notifications", "send_cancellation_email",
     "oscar_ordercancel.notifications"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_a_moved_name_still_imports_from_its_old_path_and_says_where_it_lives(old, name, new):
    with pytest.warns(DeprecationWarning, match=f"moved to {new}.{name}"):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), name)


def test_the_old_default_payment_handler_setting_still_loads_the_handler(settings):
    settings.OSCAR_ORDERCANCEL_PAYMENT_HANDLER = "oscar_ordercancel.engine.payment.DefaultPaymentHandler"
    from oscar_ordercancel.payment import DefaultPaymentHandler, get_payment_handler

    with pytest.warns(DeprecationWarning):
        handler = get_payment_handler()
    assert type(handler) is DefaultPaymentHandler


@pytest.mark.parametrize("path", [
    "oscar_ordercancel.payment.DefaultPaymentHandler",
    "oscar_ordercancel.services.cancel_order",
    "oscar_ordercancel.services.cancel_many",
    "oscar_ordercancel.services.CancelRequest",
    "oscar_ordercancel.services.preview_cancellation",
    "oscar_ordercancel.services.retry_job",
    "oscar_ordercancel.policy.can_cancel",
    "oscar_ordercancel.policy.message_for",
    "oscar_ordercancel.policy.decision.message_for",
    "oscar_ordercancel.signals.order_cancelled",
    "oscar_ordercancel.exceptions.CancellationError",
    "oscar_ordercancel.processors.WebhookProcessor",
    "oscar_ordercancel.processors.base.CancelProcessor",
    "oscar_ordercancel.engine.batch.cancel_many",
    "oscar_ordercancel.tasks.BEAT_SCHEDULE",
    "oscar_ordercancel.tasks.expire_unpaid_orders",
    "oscar_ordercancel.expiry.sweep",
    "oscar_ordercancel.payment.is_paid",
])
def test_public_names_import_without_a_warning(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert import_string(path) is not None


def test_the_celery_task_names_are_unchanged():
    from celery import current_app

    from oscar_ordercancel import queue, tasks

    names = {"oscar_ordercancel.send_customer_email", "oscar_ordercancel.send_customer_emails",
             "oscar_ordercancel.deliver_cancel_jobs", "oscar_ordercancel.dispatch_cancel_jobs",
             "oscar_ordercancel.run_cancellation_batch", "oscar_ordercancel.resume_stalled_batches",
             "oscar_ordercancel.send_withdrawal_emails",
             "oscar_ordercancel.tasks.expire_unpaid_orders"}
    assert names <= set(current_app.tasks.keys())
    assert {getattr(queue, n) for n in dir(queue) if n.isupper()} == names
    beat = tasks.BEAT_SCHEDULE["oscar-ordercancel-dispatch"]
    assert beat["task"] == "oscar_ordercancel.dispatch_cancel_jobs"
    sweep = tasks.BEAT_SCHEDULE["oscar-ordercancel-expire-unpaid"]
    assert sweep["task"] == "oscar_ordercancel.tasks.expire_unpaid_orders"
    assert tasks.expire_unpaid_orders.name == sweep["task"]
