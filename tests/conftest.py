"""Shared fixtures, and the loud skip / strict failure for missing services."""

import os

import pytest
from django.conf import settings

from tests import factories

STRICT = os.environ.get("ORDERCANCEL_STRICT") == "1"
_skipped_for_services: list[str] = []


def pytest_collection_modifyitems(config, items):
    """Skip service-bound tests loudly when the service is missing; fail in strict mode."""
    if os.environ.get("ORDERCANCEL_WHEEL_TEST") == "1":
        import oscar_ordercancel

        assert "site-packages" in oscar_ordercancel.__file__, oscar_ordercancel.__file__
    postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    for item in items:
        if "postgres" in item.keywords and not postgres:
            if STRICT:
                raise pytest.UsageError("ORDERCANCEL_STRICT=1: PostgreSQL tests cannot run")
            _skipped_for_services.append(item.nodeid)
            item.add_marker(pytest.mark.skip(reason="PostgreSQL not reachable"))


def pytest_terminal_summary(terminalreporter):
    """Say loudly which tests did not run for want of a service."""
    if _skipped_for_services:
        terminalreporter.section("MISSING SERVICES", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(_skipped_for_services)} tests were SKIPPED because a service is missing "
            "(PostgreSQL/Redis/Chromium). Run with ORDERCANCEL_STRICT=1 to make this fail.",
            red=True, bold=True,
        )


@pytest.fixture
def customer(db):
    return factories.create_user("customer@example.com")


@pytest.fixture
def other_customer(db):
    return factories.create_user("other@example.com")


@pytest.fixture
def staff(db):
    return factories.create_user("staff@example.com", is_staff=True,
                                 perms=["oscar_ordercancel.cancel_order"])


@pytest.fixture
def superuser(db):
    return factories.create_user("admin@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def order(customer):
    """A pending two-line order of the customer: 2 × £10 and 1 × £5, stock allocated."""
    return factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
