"""System checks tell a shop developer what is misconfigured."""

import pytest
from django.core import checks
from oscar.core.loading import get_model

from oscar_ordercancel.checks import app_order_messages, check_processors, check_statuses


def ids(messages):
    return sorted(m.id for m in messages)


def test_the_sandbox_configuration_is_clean():
    assert check_statuses() == []
    errors = [m for m in checks.run_checks() if m.level >= checks.ERROR]
    assert errors == []


def test_a_cancellable_status_missing_from_the_pipeline(settings):
    settings.OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES = ["Pending", "On hold"]
    assert ids(check_statuses()) == ["ordercancel.E001"]


def test_a_cancelled_status_that_cannot_be_reached(settings):
    settings.OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES = ["Pending", "Shipped"]
    assert "ordercancel.E002" in ids(check_statuses())


def test_an_unknown_cancelled_status(settings):
    settings.OSCAR_ORDERCANCEL_CANCELLED_STATUS = "Void"
    assert "ordercancel.E003" in ids(check_statuses())


def test_an_empty_pipeline_warns(monkeypatch):
    monkeypatch.setattr(get_model("order", "Order"), "pipeline", {})
    assert ids(check_statuses()) == ["ordercancel.W001"]


def test_a_processor_that_does_not_import(settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{"name": "erp", "class": "nowhere.Processor"}]
    assert ids(check_processors()) == ["ordercancel.E007"]


def test_no_processor_warns_that_the_erp_is_not_told(settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = []
    assert ids(check_processors()) == ["ordercancel.W003"]


def test_a_payment_handler_that_does_not_import(settings):
    settings.OSCAR_ORDERCANCEL_PAYMENT_HANDLER = "nowhere.Handler"
    assert "ordercancel.E008" in ids(check_processors())


@pytest.mark.parametrize(
    ("apps", "expected"),
    [
        (["oscar_ordercancel.apps.OrderCancelConfig", "oscar.config.Shop"], []),
        (["oscar.config.Shop", "oscar_ordercancel.apps.OrderCancelConfig"], ["ordercancel.W004"]),
    ],
)
def test_template_override_order(apps, expected):
    assert ids(app_order_messages(["django.contrib.auth", *apps])) == expected


def test_request_mode_needs_a_way_back_from_the_requested_status(settings, monkeypatch):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    assert check_statuses() == []
    Order = get_model("order", "Order")
    pipeline = dict(Order.pipeline, **{"Cancellation requested": ("Cancelled",)})
    monkeypatch.setattr(Order, "pipeline", pipeline)
    assert ids(check_statuses()) == ["ordercancel.W005"]
