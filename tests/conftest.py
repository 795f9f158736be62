"""Shared fixtures, and the loud skip / strict failure for missing services."""

import os
import shutil
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from django.conf import settings

from tests import factories
from tests.erp import FakeERP

STRICT = os.environ.get("ORDERCANCEL_STRICT") == "1"
CHROMIUM = os.environ.get("ORDERCANCEL_CHROMIUM", "/usr/bin/chromium")


REDIS_URL = os.environ.get("ORDERCANCEL_REDIS_URL", "redis://127.0.0.1:6379/14")
#: The cancel-job delivery tests' own Redis database (other suites use 14 and 15).
DELIVERY_REDIS_URL = os.environ.get("ORDERCANCEL_DELIVERY_REDIS_URL", "redis://127.0.0.1:6379/13")
RABBITMQ_URL = os.environ.get("ORDERCANCEL_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _redis_available() -> bool:
    try:
        import redis
    except ImportError:
        return False
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


def _rabbitmq_available() -> bool:
    try:
        from kombu import Connection
    except ImportError:
        return False
    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:  # noqa: BLE001
        return False


def _chromium_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(CHROMIUM)
_skipped_for_services: list[str] = []

#: The tests of the PostgreSQL-only paths: COPY (batch preview, ``cancel_orders``, the dashboard
#: upload), the ``unnest`` inserts and ``VALUES`` updates of the batch engine, the delivery
#: statements, ``SET LOCAL`` (lock timeout, JIT), row locks and ``= ANY(array)`` filters. They
#: carry the ``pg_paths`` marker, and ``make test`` runs them once more with psycopg2
#: (``ORDERCANCEL_PG_DRIVER=psycopg2``).
PG_PATHS = (
    "tests/test_drivers.py::*",
    "tests/test_batches.py::*",
    "tests/test_batch_command.py::*",
    "tests/test_dashboard_batches.py::test_upload_preview_start_progress_results_and_errors*",
    "tests/test_delivery_paths.py::*[[]statements[]]",
    "tests/test_transactions.py::*",
    "tests/test_policy.py::test_facts_read_by_number_*",
    "tests/test_concurrency.py::*",
    "tests/test_simultaneous_requests.py::test_a_lock_held_too_long_*",
    "tests/test_simultaneous_requests.py::"
    "test_two_staff_users_cancelling_one_order_at_once_make_one_cancellation",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "gettext: needs GNU gettext's xgettext (makemessages)")
    config.addinivalue_line(
        "markers", "pg_paths: a PostgreSQL-only path (COPY, unnest, delivery statements, SET LOCAL, "
                   "locks); make test runs these again with psycopg2")


def pytest_itemcollected(item):
    """Mark the tests of ``PG_PATHS`` (before ``-m`` selects)."""
    if any(fnmatchcase(item.nodeid, pattern) for pattern in PG_PATHS):
        item.add_marker(pytest.mark.pg_paths)


@pytest.hookimpl(trylast=True)  # after -m / -k deselection: only what will run counts
def pytest_collection_modifyitems(config, items):
    """Skip service-bound tests loudly when the service is missing; fail in strict mode."""
    if os.environ.get("ORDERCANCEL_WHEEL_TEST") == "1":
        import oscar_ordercancel

        assert "site-packages" in oscar_ordercancel.__file__, oscar_ordercancel.__file__
    missing = {}
    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("postgresql"):
        missing["postgres"] = "PostgreSQL not reachable at 127.0.0.1:5432"
        if database["NAME"] == ":memory:":
            missing["shared_db"] = ("an in-memory SQLite database cannot be shared between threads "
                                    "(ORDERCANCEL_DB=sqlite-file runs these tests)")
    if not _redis_available():
        missing["celery"] = f"Redis is not reachable at {REDIS_URL}"
    if any("rabbitmq" in item.keywords for item in items) and not _rabbitmq_available():
        missing["rabbitmq"] = f"RabbitMQ is not reachable at {RABBITMQ_URL}"
    if not _chromium_available():
        missing["browser"] = f"Chromium ({CHROMIUM}) or Playwright is not installed"
    if shutil.which("xgettext") is None:
        missing["gettext"] = "GNU gettext (xgettext, for makemessages) is not installed"
    for item in items:
        for marker, reason in missing.items():
            if marker in item.keywords:
                if STRICT:
                    raise pytest.UsageError(f"ORDERCANCEL_STRICT=1: {reason}")
                _skipped_for_services.append(item.nodeid)
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    """Say loudly which tests did not run for want of a service."""
    if _skipped_for_services:
        terminalreporter.section("MISSING SERVICES", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(_skipped_for_services)} tests were SKIPPED because a service is missing "
            "(PostgreSQL/Redis/RabbitMQ/Chromium/gettext). Run with ORDERCANCEL_STRICT=1 to make this fail.",
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
def clerk(db):
    """Dashboard staff who may cancel (Oscar 4.2 needs view_order for the order pages)."""
    return factories.create_user("clerk@example.com", is_staff=True,
                                 perms=["order.view_order", "oscar_ordercancel.cancel_order"])


@pytest.fixture
def superuser(db):
    return factories.create_user("admin@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def order(customer):
    """A pending two-line order of the customer: 2 × £10 and 1 × £5, stock allocated."""
    return factories.place_order(customer, [("10.00", 2), ("5.00", 1)])


@pytest.fixture
def withdrawal_on(settings):
    """The withdrawal function on (the package's default is off), with no failed look-ups counted."""
    from django.core.cache import cache

    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def guest_order(db):
    """A guest's pending two-line order: 2 × £10 and 1 × £5."""
    return factories.place_order(None, [("10.00", 2), ("5.00", 1)], guest_email="guest@example.com")


@pytest.fixture
def request_mode(settings):
    """Cancellations are requests that wait for the ERP or staff to settle them."""
    settings.OSCAR_ORDERCANCEL_MODE = "request"


#: Cancel jobs retried at once, three attempts in all.
FAST_RETRY = {"max_attempts": 3, "backoff": 0, "backoff_max": 0}


@pytest.fixture
def erp(settings):
    """A fake ERP over HTTP (``tests.erp.FakeERP``), the one processor, named ``erp``."""
    with FakeERP() as server:
        settings.OSCAR_ORDERCANCEL_PROCESSORS = [server.processor_entry()]
        settings.OSCAR_ORDERCANCEL_RETRY = FAST_RETRY
        yield server


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright (its own browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make around it are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # Module scope: Playwright's loop must be gone before other tests start threads.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser tab (own cookies) per test."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15000)
    yield tab
    context.close()


SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "_static" / "screenshots"


#: axe-core impacts that fail a page: a person cannot use the page, or only with great effort.
BLOCKING_IMPACTS = ("serious", "critical")


def assert_accessible(page, name: str = "") -> None:
    """Run axe-core on the page in the browser; fail on any serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    # A tab or an alert still fading in has a lower contrast than the page a person reads;
    # endless animations (a running batch's striped bar) are what the person sees.
    page.wait_for_function(
        "() => document.getAnimations().every(a => a.playState !== 'running'"
        " || a.effect.getComputedTiming().endTime === Infinity)", timeout=5000)
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in blocking
    )
    assert not blocking, f"axe-core found serious or critical violations on {name or page.url}:\n{report}"


@pytest.fixture
def screenshot(page):
    """Audit the page with axe-core, then save a screenshot for the docs (from a source checkout).

    Every page worth a screenshot is a page a person uses, so each one must pass the
    accessibility audit (no serious or critical violation)."""

    def take(name: str) -> None:
        assert_accessible(page, name)
        if SCREENSHOTS.parent.parent.joinpath("conf.py").exists():
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
