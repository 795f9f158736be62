"""System checks tell a shop developer what is misconfigured."""

import pytest
from django.core import checks
from oscar.core.loading import get_model

from oscar_ordercancel.checks import (
    app_order_messages,
    check_order_model,
    check_processors,
    check_statuses,
    order_model_messages,
)


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


def test_the_installed_order_model_needs_no_warning():
    # The package's fork has the mixin; Oscar's own order app is W006's business.
    assert check_order_model() == []


def test_a_forked_order_model_without_the_mixin_warns():
    from oscar.apps.order.abstract_models import AbstractOrder

    class Order(AbstractOrder):  # a shop's fork, as ``oscar_fork_app order`` leaves it
        class Meta:
            abstract = True

    messages = order_model_messages(Order, "yourshop.order")

    assert ids(messages) == ["ordercancel.W007"]
    assert "yourshop.order" in messages[0].msg
    assert "CancellableOrderMixin" in messages[0].hint


def test_a_forked_order_model_with_the_mixin_is_fine():
    from oscar.apps.order.abstract_models import AbstractOrder

    from oscar_ordercancel.order.mixins import CancellableOrderMixin

    class Order(CancellableOrderMixin, AbstractOrder):
        class Meta:
            abstract = True

    assert order_model_messages(Order, "yourshop.order") == []


def test_oscars_own_order_app_is_left_to_w006():
    from oscar.apps.order.abstract_models import AbstractOrder

    assert order_model_messages(AbstractOrder, "oscar.apps.order") == []


def test_every_check_is_in_the_documented_table():
    import re
    from pathlib import Path

    from oscar_ordercancel import checks as module

    ids = set(re.findall(r'id="(ordercancel\.[EW]\d{3})"', Path(module.__file__).read_text()))
    table = (Path(__file__).resolve().parent.parent / "docs" / "api.rst").read_text()
    table = table[table.index(".. _system-checks:"):]
    assert "ordercancel.W007" in ids
    assert sorted(i for i in ids if f"``{i}``" not in table) == []


def test_an_eu_shop_without_the_withdrawal_function_is_warned():
    from oscar_ordercancel.checks import withdrawal_messages

    [warning] = withdrawal_messages(currency="EUR", languages=["en-gb"], enabled=False)
    assert warning.id == "ordercancel.W009" and "EUR" in warning.msg and "Art. 11a" in warning.msg
    [warning] = withdrawal_messages(currency="GBP", languages=["en-gb", "de", "fr-ca"], enabled=False)
    assert "de, fr" in warning.msg
    assert withdrawal_messages(currency="EUR", languages=["de"], enabled=True) == []
    assert withdrawal_messages(currency="GBP", languages=["en-gb", "en-us"], enabled=False) == []
    assert withdrawal_messages(currency="USD", languages=["en"], enabled=False) == []


def test_the_check_reads_the_shops_settings(settings):
    from oscar_ordercancel.checks import check_withdrawal

    settings.OSCAR_DEFAULT_CURRENCY = "EUR"
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
    assert [m.id for m in check_withdrawal()] == ["ordercancel.W009"]
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
    assert check_withdrawal() == []
