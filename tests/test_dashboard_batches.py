"""The batch pages: tabs, templates, upload and preview, start, progress JSON, results, history."""

from __future__ import annotations

import csv
import io

import pytest
from bs4 import BeautifulSoup
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oscar.core.loading import get_model

from oscar_ordercancel.models import CancellationBatch
from tests import factories

pytestmark = [pytest.mark.django_db]
Partner = get_model("partner", "Partner")


def url(name: str, **kwargs) -> str:
    return reverse(f"ordercancel_dashboard:ordercancel-batch-{name}", kwargs=kwargs)


def post_file(client, content: bytes, kind: str = "orders", name: str = "cancel.csv", **data):
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(url("upload") + f"?kind={kind}", {"file": upload, "kind": kind, **data})


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_the_pages_need_a_user_who_may_cancel(client, customer, order):
    assert client.get(url("upload")).status_code == 302  # to the log-in page
    client.force_login(customer)
    for name, kwargs in [("upload", {}), ("list", {}), ("template", {"kind": "orders"})]:
        assert client.get(url(name, **kwargs)).status_code == 403
    assert post_file(client, f"order_number\n{order.number}\n".encode()).status_code == 403
    assert not CancellationBatch.objects.exists()


def test_tabs_and_templates(staff_client):
    page = staff_client.get(url("upload")).content.decode()
    for tab in ("Single order", "Orders (CSV)", "Line items (CSV)"):
        assert tab in page
    response = staff_client.get(url("template", kind="lines"))
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines() == [
        "order_number,sku,quantity,reason,note,force,refund",
        "EXAMPLE-100001,EXAMPLE-SKU,1,customer,Replace this row with your own.,no,no"]
    assert staff_client.get(url("template", kind="nope")).status_code == 404


def test_no_processors_shows_a_plain_alert(staff_client, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = []
    assert b"ordercancel-no-processors" in staff_client.get(url("upload")).content
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{"name": "log", "class": "x.Y", "options": {}}]
    assert b"ordercancel-no-processors" not in staff_client.get(url("upload")).content


def test_single_order_tab_opens_the_orders_cancel_page(staff_client, superuser, order, client):
    client.force_login(superuser)
    response = client.get(url("upload"), {"kind": "single", "order_number": order.number})
    assert response.status_code == 302 and str(order.number) in response["Location"]
    response = client.get(url("upload"), {"kind": "single", "order_number": "NOPE"})
    assert b"There is no order with this number." in response.content


def test_upload_preview_start_progress_results_and_errors(staff_client, staff, customer,
                                                          django_capture_on_commit_callbacks):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    content = ("order_number,note\n" + "\n".join(f"{o.number}," for o in orders)
               + "\nNOPE,=1+1\n").encode()
    response = post_file(staff_client, content, reason="inventory")
    batch = CancellationBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == url("preview", pk=batch.pk)
    page = staff_client.get(url("preview", pk=batch.pk)).content.decode()
    assert 'id="count_valid">3<' in page and 'id="count_invalid">1<' in page
    assert "There is no order with this number." in page and "Will cancel" in page
    for o in orders:
        o.refresh_from_db()
        assert o.status == "Pending"

    with django_capture_on_commit_callbacks(execute=True):  # Celery runs eagerly in the tests
        response = staff_client.post(url("start", pk=batch.pk))
    assert response.status_code == 302 and response["Location"] == url("detail", pk=batch.pk)
    progress = staff_client.get(url("progress", pk=batch.pk)).json()
    assert progress | {"seconds_left": None} == {
        "state": "completed", "state_display": "Completed", "finished": True, "total": 4,
        "processed": 4, "succeeded": 3, "failed": 1, "percent": 100, "seconds_left": None,
        "error": ""}
    page = staff_client.get(url("detail", pk=batch.pk)).content.decode()
    assert "1 row was not cancelled." in page and "Download Error CSV" in page
    assert page.count(">Cancelled</span>") == 3 and page.count(">Error</span>") == 1
    table = list(csv.reader(io.StringIO(b"".join(
        staff_client.get(url("errors", pk=batch.pk)).streaming_content).decode())))
    assert table == [["order_number", "reason", "note", "force", "refund", "error"],
                     ["NOPE", "", "'=1+1", "", "", "There is no order with this number."]]
    for o in orders:
        o.refresh_from_db()
        assert o.status == "Cancelled" and o.cancellations.get().reason == "inventory"
    history = staff_client.get(url("list")).content.decode()
    assert "cancel.csv" in history and staff.email in history
    assert url("detail", pk=batch.pk) in history


def test_a_refused_file_is_a_form_error(staff_client, order):
    response = post_file(staff_client, b"order_number,colour\n1,red\n")
    assert response.status_code == 200
    assert "Unknown column" in response.content.decode()
    assert not CancellationBatch.objects.exists()


def test_partner_users_see_only_their_own_batches(client, staff_client, customer):
    ours = factories.place_order(customer, [("10.00", 1)], partner="Acme")
    post_file(staff_client, f"order_number\n{ours.number}\n".encode())
    partner_user = factories.create_user("acme@example.com", is_staff=True,
                                         perms=["partner.dashboard_access"])
    Partner.objects.get(name="Acme").users.add(partner_user)
    client.force_login(partner_user)
    staff_batch = CancellationBatch.objects.get()
    assert client.get(url("detail", pk=staff_batch.pk)).status_code == 404
    assert post_file(client, f"order_number\n{ours.number}\n".encode()).status_code == 302
    assert client.get(url("list")).content.decode().count("cancel.csv") == 1


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(content=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)),
       name=st.sampled_from(["a.csv", "a.xlsx", "a"]), kind=st.sampled_from(["orders", "lines", "x"]))
def test_any_upload_answers_without_a_server_error(staff_client, order, content, name, kind):
    response = post_file(staff_client, content, kind=kind, name=name)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert staff_client.get(response["Location"]).status_code == 200
    assert factories.snapshot(order)["cancellations"] == 0


def test_progress_of_a_running_batch_says_how_long_is_left(staff_client, staff):
    from datetime import timedelta

    from django.utils import timezone

    batch = CancellationBatch.objects.create(
        user=staff, file_name="big.csv", state="running", total_rows=1000, valid_rows=1000,
        processed_rows=250, succeeded_rows=240, failed_rows=10,
        date_started=timezone.now() - timedelta(seconds=30))
    progress = staff_client.get(url("progress", pk=batch.pk)).json()
    assert (progress["percent"], progress["processed"], progress["failed"]) == (25, 250, 10)
    assert 85 <= progress["seconds_left"] <= 95 and progress["finished"] is False
    page = staff_client.get(url("detail", pk=batch.pk)).content.decode()
    assert 'aria-valuenow="25"' in page and "s left" in page


def test_a_german_reader_sees_a_batch_of_an_english_upload_in_german(staff_client, customer,
                                                                     django_capture_on_commit_callbacks):
    from django.utils import translation

    done = factories.place_order(customer, [("10.00", 1)])
    with translation.override("en"):
        post_file(staff_client, f"order_number\n{done.number}\nNOPE\n".encode(),
                  HTTP_ACCEPT_LANGUAGE="en")
        batch = CancellationBatch.objects.get()
        with django_capture_on_commit_callbacks(execute=True):
            staff_client.post(url("start", pk=batch.pk), HTTP_ACCEPT_LANGUAGE="en")
    english = staff_client.get(url("detail", pk=batch.pk), HTTP_ACCEPT_LANGUAGE="en")
    assert "Cancelled the whole order." in english.content.decode()
    with translation.override("de"):
        page = staff_client.get(url("detail", pk=batch.pk), HTTP_ACCEPT_LANGUAGE="de")
        errors = b"".join(staff_client.get(url("errors", pk=batch.pk),
                                           HTTP_ACCEPT_LANGUAGE="de").streaming_content).decode()
    html = page.content.decode()
    assert page.status_code == 200
    assert "Die gesamte Bestellung wurde storniert." in html
    assert "Es gibt keine Bestellung mit dieser Nummer." in html
    assert "Cancelled the whole order." not in html and "There is no order" not in html
    assert errors.splitlines()[1].endswith(",Es gibt keine Bestellung mit dieser Nummer.")


def test_the_preview_shows_the_value_the_file_had_escaped(staff_client, order):
    line = order.lines.order_by("pk").first()
    content = (f"order_number,sku,quantity\n{order.number},{line.partner_sku},12345678901234567890\n"
               f"{order.number},{line.partner_sku},<b>two</b>\n").encode()
    post_file(staff_client, content, kind="lines")
    batch = CancellationBatch.objects.get()
    page = staff_client.get(url("preview", pk=batch.pk))
    html = page.content.decode()
    assert page.status_code == 200
    rows = html.split('id="batch_rows"')[1]
    assert ">12345678901234567890</td>" in rows and "too large: at most 2,147,483,647" in rows
    assert ">&lt;b&gt;two&lt;/b&gt;</td>" in rows
    assert "&lt;b&gt;two&lt;/b&gt;" in html and "<b>two</b>" not in html
    # no cell of the file's own columns shows a dash instead of what the file had
    table = BeautifulSoup(html, "html.parser").find(id="batch_rows")
    headers = [th.get_text(strip=True) for th in table.find("thead").find_all("th")]
    read = [headers.index(name) for name in ("Order number", "SKU", "Quantity")]
    cells = [[tr.find_all("td")[i].get_text(strip=True) for i in read]
             for tr in table.find("tbody").find_all("tr")]
    assert cells == [[str(order.number), line.partner_sku, "12345678901234567890"],
                     [str(order.number), line.partner_sku, "<b>two</b>"]]


def test_the_upload_forms_default_note_has_the_notes_limit_and_message(staff_client, order):
    response = post_file(staff_client, f"order_number\n{order.number}\n".encode(), note="n" * 2001)
    assert response.status_code == 200
    assert "The note can be at most 2,000 characters long; this one has 2,001." in \
        response.content.decode()
    assert not CancellationBatch.objects.exists()
    assert post_file(staff_client, f"order_number\n{order.number}\n".encode(),
                     note="n" * 2000).status_code == 302
