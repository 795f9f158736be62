"""A shop forks ``oscar_ordercancel`` and replaces ``OrderCancellation`` (``tests/ordercancel_fork``).

``abstract_models.py`` promises that a shop may do this, Oscar-style: its fork keeps the
label ``oscar_ordercancel``, subclasses ``AbstractOrderCancellation`` with a field of its
own, and takes every other model from ``oscar_ordercancel.models``. These tests run the
engine, the dashboard, the customer pages, the REST API, the admin and a CSV batch against
the replaced model.

They need the fork installed in place of the package's app, which only the settings switch
does: ``make test`` runs this file on its own with ``ORDERCANCEL_MODEL_FORK=1`` (its name
does not start with ``test_``, so the other passes never collect it).
"""

from pathlib import Path

import pytest
from django.conf import settings

if not getattr(settings, "MODEL_FORK", False):
    pytest.fail("tests/model_fork_tests.py runs with the model fork installed: "
                "ORDERCANCEL_MODEL_FORK=1 python -m pytest tests/model_fork_tests.py (make test does).",
                pytrace=False)

import io  # noqa: E402

from django.apps import apps  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import translation  # noqa: E402
from oscar.core.loading import get_model  # noqa: E402

import oscar_ordercancel  # noqa: E402
from oscar_ordercancel import models as package_models  # noqa: E402
from oscar_ordercancel import signals  # noqa: E402
from oscar_ordercancel.services import cancel_order, confirm_cancellation  # noqa: E402
from tests import factories  # noqa: E402
from tests.ordercancel_fork import models as fork_models  # noqa: E402

OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")
CancelJob = get_model("oscar_ordercancel", "CancelJob")
CancellationBatch = get_model("oscar_ordercancel", "CancellationBatch")

#: The order page's cancellation history and cancel form come with the orders dashboard fork.
needs_dashboard_fork = pytest.mark.skipif(
    not any(app.startswith("oscar_ordercancel.dashboard.orders") for app in settings.INSTALLED_APPS),
    reason="the orders dashboard fork is not installed (ORDERCANCEL_FORKS=0)")

FORK = Path(__file__).resolve().parent / "ordercancel_fork"
PACKAGE = Path(oscar_ordercancel.__file__).resolve().parent


@pytest.fixture
def erp_references():
    """The shop's receiver: each cancellation gets the ERP's reference when it takes effect."""

    def stamp(sender, order, cancellation, **kwargs):
        assert type(cancellation) is fork_models.OrderCancellation
        cancellation.erp_reference = f"ERP-{order.number}-{cancellation.pk}"
        cancellation.save(update_fields=["erp_reference"])

    signals.order_cancelled.connect(stamp, dispatch_uid="model_fork_erp_reference")
    yield
    signals.order_cancelled.disconnect(dispatch_uid="model_fork_erp_reference")


@pytest.fixture
def clerk(db):
    """Dashboard staff who may cancel (Oscar 4.2 needs view_order for the order pages)."""
    return factories.create_user("clerk@example.com", is_staff=True,
                                 perms=["order.view_order", "oscar_ordercancel.cancel_order"])


def lines_of(order):
    return list(order.lines.select_related("stockrecord").order_by("pk"))


def stored(cancellation):
    """The record as the database has it, read through the replaced model."""
    return OrderCancellation.objects.get(pk=cancellation.pk)


# ----------------------------------------------------------------- the wiring


def test_the_fork_replaces_one_model_and_keeps_the_others():
    config = apps.get_app_config("oscar_ordercancel")
    assert config.name == "tests.ordercancel_fork"
    assert OrderCancellation is fork_models.OrderCancellation
    assert not hasattr(package_models, "OrderCancellation")
    assert "erp_reference" in {f.name for f in OrderCancellation._meta.fields}
    for model in (OrderCancellationLine, CancelJob, CancellationBatch):
        assert model.__module__ == "oscar_ordercancel.models"
        assert model._meta.app_config is config
    assert OrderCancellationLine._meta.get_field("cancellation").related_model is OrderCancellation
    assert CancelJob._meta.get_field("cancellation").related_model is OrderCancellation


def test_the_fork_carries_the_packages_migrations_unchanged(db):
    """Oscar's ``oscar_fork_app`` copies an app's migrations; the fork's own come after them.

    When the package gains a migration, copy it here and make the fork's own migration
    depend on it (a shop with a database adds a merge migration instead)."""
    ours = sorted(p.name for p in (PACKAGE / "migrations").glob("0*.py"))
    theirs = sorted(p.name for p in (FORK / "migrations").glob("0*.py"))
    assert theirs[:len(ours)] == ours, "copy the package's new migrations into the fork"
    for name in ours:
        assert (FORK / "migrations" / name).read_text() == (PACKAGE / "migrations" / name).read_text()
    own = theirs[len(ours):]
    assert own == ["0012_ordercancellation_erp_reference.py"]
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(
            cursor, OrderCancellation._meta.db_table)}
    assert "erp_reference" in columns


def test_the_packages_templates_static_files_and_translations_are_still_found():
    from django.template.loader import get_template

    template = get_template("oscar_ordercancel/dashboard/orders/partials/cancellation_history.html")
    assert Path(template.origin.name).is_relative_to(PACKAGE)
    # the package's override of Oscar's order page wins over Oscar's own
    assert Path(get_template("oscar/customer/order/order_detail.html").origin.name).is_relative_to(PACKAGE)
    assert finders.find("oscar_ordercancel/ordercancel.css")
    with translation.override("de"):
        assert translation.gettext("This order has not been cancelled.") != (
            "This order has not been cancelled.")


# ----------------------------------------------------------------- the engine


def test_partial_then_full_cancel_write_the_forks_records(order, staff, erp_references):
    first, second = lines_of(order)

    partial = cancel_order(order, user=staff, lines={first: 1}, reason="inventory")

    assert type(partial) is OrderCancellation and not partial.is_full
    first, second = lines_of(order)
    assert first.stockrecord.num_allocated == 1 and second.stockrecord.num_allocated == 1
    assert stored(partial).erp_reference == f"ERP-{order.number}-{partial.pk}"

    order.refresh_from_db()
    full = cancel_order(order, user=staff, reason="inventory")

    order.refresh_from_db()
    assert order.status == "Cancelled" and full.is_full
    assert [line.stockrecord.num_allocated for line in lines_of(order)] == [0, 0]
    assert stored(full).erp_reference == f"ERP-{order.number}-{full.pk}"
    assert list(order.cancellations.all()) == [full, partial]
    assert all(type(c) is OrderCancellation for c in order.cancellations.all())
    assert {(cl.line_id, cl.quantity) for cl in full.lines.all()} == {(first.pk, 1), (second.pk, 1)}


def test_a_confirmed_request_keeps_the_forks_field(order, customer, settings,
                                                     django_capture_on_commit_callbacks):
    settings.OSCAR_ORDERCANCEL_MODE = "request"
    requested = cancel_order(order, user=customer, channel="customer")
    OrderCancellation.objects.filter(pk=requested.pk).update(erp_reference="REQ-1")

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = confirm_cancellation(requested)

    assert stored(confirmed).state == "completed" and stored(confirmed).erp_reference == "REQ-1"
    assert [line.stockrecord.num_allocated for line in lines_of(order)] == [0, 0]


def test_cancel_jobs_point_at_the_forks_records(order, staff, settings,
                                                django_capture_on_commit_callbacks):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        {"name": "log", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}]
    with django_capture_on_commit_callbacks(execute=True):
        cancellation = cancel_order(order, user=staff)
    job = CancelJob.objects.get()
    assert type(job.cancellation) is OrderCancellation and job.cancellation == cancellation
    assert job.state == "succeeded"


# ----------------------------------------------------------------- the surfaces


@needs_dashboard_fork
def test_the_dashboard_order_page_shows_the_forks_cancellation(client, clerk, order, staff):
    cancellation = cancel_order(order, user=staff, note="Supplier out")
    client.force_login(clerk)

    page = client.get(reverse("dashboard:order-detail", kwargs={"number": order.number}))

    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="ordercancel-cancellation-{cancellation.pk}"' in html
    assert "Supplier out" in html and "staff@example.com" in html


@needs_dashboard_fork
def test_the_dashboard_cancel_form_cancels_into_the_forks_model(client, clerk, order, erp_references):
    client.force_login(clerk)
    url = reverse("dashboard:order-cancel", kwargs={"number": order.number})
    data = {f"quantity_{line.pk}": line.quantity for line in lines_of(order)}
    data.update({"reason": "staff", "note": "", "notify_customer": "on"})

    preview = client.post(url, data)
    assert preview.status_code == 200 and "previewed" in preview.context
    done = client.post(url, {**data, "confirm": "1", "previewed": preview.context["previewed"]})

    assert done.status_code == 302
    cancellation = OrderCancellation.objects.get(order=order)
    assert cancellation.channel == "dashboard" and cancellation.erp_reference.startswith("ERP-")


def test_a_customer_cancels_from_the_order_page(client, customer, order):
    client.force_login(customer)
    page = reverse("customer:order", kwargs={"order_number": order.number})
    assert 'id="cancel-order-button"' in client.get(page).content.decode()

    response = client.post(
        reverse("oscar_ordercancel:order-cancel", kwargs={"order_number": order.number}),
        {"reason": "customer"})

    assert response.status_code == 302
    assert OrderCancellation.objects.get(order=order).channel == "customer"
    assert "This order was cancelled on" in client.get(page).content.decode()


def test_the_rest_api_cancels_and_lists_the_forks_records(customer, order):
    pytest.importorskip("oscarapi")
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(customer)
    response = api.post(reverse("oscar_ordercancel:api-order-cancel", kwargs={"pk": order.pk}),
                        {"reason": "customer"}, format="json")
    assert response.status_code == 201, response.json()
    listed = api.get(reverse("oscar_ordercancel:api-order-cancellations", kwargs={"pk": order.pk}))
    assert [c["id"] for c in listed.json()] == [OrderCancellation.objects.get(order=order).pk]


def test_the_admin_lists_the_forks_records(client, superuser, order, staff):
    cancellation = cancel_order(order, user=staff)
    client.force_login(superuser)
    changelist = client.get(reverse("admin:oscar_ordercancel_ordercancellation_changelist"))
    assert changelist.status_code == 200
    detail = client.get(reverse("admin:oscar_ordercancel_ordercancellation_change",
                                args=[cancellation.pk]))
    assert detail.status_code == 200


def test_a_csv_batch_cancels_into_the_forks_model(tmp_path, staff, customer, erp_references):
    orders = [factories.place_order(customer, [("10.00", 2)]) for __ in range(3)]
    path = tmp_path / "cancel.csv"
    path.write_text("order_number\n" + "\n".join(str(o.number) for o in orders) + "\nNOPE\n")
    out = io.StringIO()

    with pytest.raises(SystemExit) as exit_:
        call_command("cancel_orders", str(path), "--reason", "inventory", "--user", staff.username,
                     stdout=out, stderr=io.StringIO())

    assert exit_.value.code == 1 and "Succeeded: 3, failed: 1." in out.getvalue()
    batch = CancellationBatch.objects.get()
    records = list(OrderCancellation.objects.filter(batch=batch).order_by("pk"))
    assert [r.order for r in records] == orders
    assert all(r.channel == "cli" and r.erp_reference == f"ERP-{r.order.number}-{r.pk}"
               for r in records)
    assert all(line.stockrecord.num_allocated == 0 for o in orders for line in lines_of(o))
    assert batch.rows.filter(status="success", cancellation__in=records).count() == 3


def test_a_batch_uploaded_on_the_dashboard_cancels_into_the_forks_model(
        client, staff, customer, erp_references, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    def url(name, **kwargs):
        return reverse(f"ordercancel_dashboard:ordercancel-batch-{name}", kwargs=kwargs)

    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(2)]
    client.force_login(staff)
    upload = SimpleUploadedFile("cancel.csv", ("order_number\n" + "\n".join(
        str(o.number) for o in orders) + "\n").encode(), content_type="text/csv")
    client.post(url("upload") + "?kind=orders", {"file": upload, "kind": "orders", "reason": "inventory"})
    batch = CancellationBatch.objects.get()
    assert 'id="count_valid">2<' in client.get(url("preview", pk=batch.pk)).content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # Celery runs eagerly in the tests
        client.post(url("start", pk=batch.pk))

    page = client.get(url("detail", pk=batch.pk))
    assert page.status_code == 200 and page.content.decode().count(">Cancelled</span>") == 2
    records = OrderCancellation.objects.filter(batch=batch)
    assert sorted(r.order_id for r in records) == sorted(o.pk for o in orders)
    assert all(r.channel == "batch" and r.erp_reference.startswith("ERP-") for r in records)


def test_the_job_pages_show_the_forks_records(client, superuser, order, staff, settings,
                                             django_capture_on_commit_callbacks):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        {"name": "log", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}]
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order, user=staff)
    job = CancelJob.objects.get()
    client.force_login(superuser)
    listing = client.get(reverse("ordercancel_dashboard:ordercancel-job-list"))
    assert listing.status_code == 200 and str(order.number) in listing.content.decode()
    detail = client.get(reverse("ordercancel_dashboard:ordercancel-job-detail", kwargs={"pk": job.pk}))
    assert detail.status_code == 200 and str(order.number) in detail.content.decode()
