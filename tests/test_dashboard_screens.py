"""The own dashboard app's screens as staff see them: one "Cancellations" menu, one name per
screen (menu, <title>, heading, breadcrumb), Oscar's date format, and the batch pages' words,
colours, columns and templates."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from html import unescape

import pytest
from django.contrib.sites.models import Site
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from oscar_ordercancel.batches.preview import create_batch
from oscar_ordercancel.batches.runner import run_batch, start_batch
from oscar_ordercancel.dashboard.navigation import ENTRIES
from oscar_ordercancel.models import CancelJob, CancellationBatch, OrderStatusMapping
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = pytest.mark.django_db

LOG = {"name": "erp", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}
#: A moment whose long and short forms differ (Oscar's pages show the long one).
WHEN = datetime(2026, 11, 30, 20, 33, tzinfo=UTC)


def batch_url(name: str, **kwargs) -> str:
    return reverse(f"ordercancel_dashboard:ordercancel-batch-{name}", kwargs=kwargs)


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def names(response) -> dict[str, object]:
    """A page's <title> (without the site's suffix), <h1> and breadcrumb trail (texts, hrefs)."""
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    title = text_of(re.search(r"<title>(.*?)</title>", page, re.S).group(1)).split(" | ")[0]
    heading = text_of(re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1))
    trail = re.search(r'<ol class="breadcrumb">(.*?)</ol>', page, re.S).group(1)
    crumbs = [(text_of(item), (re.search(r'href="([^"]+)"', item) or [None, None])[1])
              for item in re.findall(r"<li[^>]*>(.*?)</li>", trail, re.S)]
    return {"title": title, "heading": heading, "crumbs": crumbs}


def menu(page: str) -> dict[str, list[tuple[str, str]]]:
    """The dashboard menu: each dropdown's label and its (label, href) entries."""
    html = re.search(r'<div class="collapse navbar-collapse" id="bottom_nav_bar">(.*?)</nav>',
                     page, re.S).group(1)
    groups = {}
    for label, items in re.findall(
            r'class="nav-link dropdown-toggle"[^>]*>(.*?)</a>\s*<div class="dropdown-menu"[^>]*>(.*?)</div>',
            html, re.S):
        groups[text_of(label)] = [(text_of(text), href) for href, text in
                                  re.findall(r'<a class="dropdown-item[^"]*" href="([^"]+)"[^>]*>(.*?)</a>',
                                             items, re.S)]
    return groups


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


# -- the menu and the names of the screens --------------------------------------------


def test_everything_cancellation_is_in_one_cancellations_menu(staff_client):
    groups = menu(staff_client.get(reverse("dashboard:index")).content.decode())
    expected = [(str(entry["label"]), reverse(entry["url_name"])) for entry in ENTRIES]
    assert groups["Cancellations"] == expected
    assert [label for label, __ in expected] == [
        "Cancel orders", "CSV batches", "Cancel jobs", "Withdrawals", "Cancellation report",
        "Order status mappings", "Cancellation settings"]
    elsewhere = [(group, href) for group, items in groups.items() if group != "Cancellations"
                 for __, href in items if href.startswith("/dashboard/ordercancel/")]
    assert elsewhere == []


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["url_name"].split(":")[1] for e in ENTRIES])
def test_a_menu_entry_opens_a_page_of_the_same_name(staff_client, entry):
    label = str(entry["label"])
    page = names(staff_client.get(reverse(entry["url_name"]), follow=True))
    assert page["title"] == label
    assert page["heading"] == label
    assert page["crumbs"] == [("Dashboard", reverse("dashboard:index")), (label, None)]


def test_screens_below_the_menu_pages_name_themselves_and_their_parent(staff_client, superuser,
                                                                        customer, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    order = factories.place_order(customer, [("10.00", 1)])
    cancel_order(order, user=superuser)
    job = CancelJob.objects.get()
    mapping = OrderStatusMapping.objects.create(status="Pending", display_name="Received")
    batch = create_batch(io.BytesIO(b"order_number\n1\n"), "a.csv", "orders", superuser)
    Site.objects.create(domain="second.example.com", name="Second shop")
    site = Site.objects.get_current()
    dashboard = ("Dashboard", reverse("dashboard:index"))
    jobs = ("Cancel jobs", reverse("ordercancel_dashboard:ordercancel-job-list"))
    mappings = ("Order status mappings", reverse("ordercancel_dashboard:ordercancel-mapping-list"))
    settings_list = ("Cancellation settings", reverse("ordercancel_dashboard:ordercancel-settings"))
    screens = [
        (reverse("ordercancel_dashboard:ordercancel-job-detail", args=[job.pk]),
         f"Cancel job #{job.pk}", [jobs]),
        (batch_url("preview", pk=batch.pk), f"Batch #{batch.pk}",
         [("CSV batches", batch_url("list"))]),
        (reverse("ordercancel_dashboard:ordercancel-mapping-create"), "Create a status mapping",
         [mappings]),
        (reverse("ordercancel_dashboard:ordercancel-mapping-update", args=[mapping.pk]),
         "Edit the mapping of “Pending”", [mappings]),
        (reverse("ordercancel_dashboard:ordercancel-mapping-delete", args=[mapping.pk]),
         "Delete a status mapping", [mappings]),
        # with several sites, the menu's page lists them and each site has its own page
        (reverse("ordercancel_dashboard:ordercancel-settings"), "Cancellation settings", []),
        (reverse("ordercancel_dashboard:ordercancel-settings-site", args=[site.pk]),
         f"Cancellation settings of {site.name}", [settings_list]),
        (reverse("ordercancel_dashboard:ordercancel-order-resubmit", args=[order.number]),
         f"Resubmit order {order.number} as a new order",
         [("Orders", reverse("dashboard:order-list")),
          (str(order.number), reverse("dashboard:order-detail", args=[order.number]))]),
    ]
    for url, name, parents in screens:
        page = names(staff_client.get(url))
        assert (page["title"], page["heading"]) == (name, name), url
        assert page["crumbs"] == [dashboard, *parents, (name, None)], url


def test_the_job_page_still_says_which_order_goes_to_which_processor(staff_client, superuser,
                                                                     customer, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    order = factories.place_order(customer, [("10.00", 1)])
    cancel_order(order, user=superuser)
    job = CancelJob.objects.get()
    response = staff_client.get(reverse("ordercancel_dashboard:ordercancel-job-detail", args=[job.pk]))
    assert response.status_code == 200
    assert f"Order {order.number} to “erp”" in text_of(response.content.decode())


def test_a_batch_page_still_names_its_file(staff_client, superuser):
    batch = create_batch(io.BytesIO(b"order_number\n1\n"), "wholesale.csv", "orders", superuser)
    response = staff_client.get(batch_url("preview", pk=batch.pk))
    assert response.status_code == 200
    assert "wholesale.csv" in text_of(response.content.decode())


# -- dates as Oscar shows them ----------------------------------------------------------


def test_the_job_and_batch_lists_show_dates_as_oscar_does(staff_client, superuser, customer,
                                                          settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [LOG]
    order = factories.place_order(customer, [("10.00", 1)])
    cancel_order(order, user=superuser)
    CancelJob.objects.update(date_created=WHEN, date_finished=WHEN, next_attempt_at=WHEN)
    batch = create_batch(io.BytesIO(b"order_number\n1\n"), "a.csv", "orders", superuser)
    CancellationBatch.objects.filter(pk=batch.pk).update(date_created=WHEN)
    local = timezone.localtime(WHEN)
    oscar_style = date_format(local, "DATETIME_FORMAT")  # as {{ order.date_placed }} on Oscar's pages
    short_style = date_format(local, "SHORT_DATETIME_FORMAT")
    assert oscar_style != short_style
    for url, count in [(reverse("ordercancel_dashboard:ordercancel-job-list"), 3),
                       (batch_url("list"), 1)]:
        response = staff_client.get(url)
        assert response.status_code == 200
        page = text_of(response.content.decode())
        assert page.count(oscar_style) == count, url
        assert short_style not in page, url
    order_list = text_of(staff_client.get(reverse("dashboard:order-list")).content.decode())
    placed = date_format(timezone.localtime(order.date_placed), "DATETIME_FORMAT")
    assert placed in order_list  # the format Oscar's own list uses


# -- batch pages: one vocabulary, colours, columns, templates -------------------------------


def _run(batch, user):
    start_batch(batch, enqueue=False)
    return run_batch(batch.pk)


def badges(page: str) -> list[str]:
    table = re.search(r'<table[^>]*id="batch_rows".*?</table>', page, re.S).group(0)
    return [text_of(b) for b in re.findall(r'<span class="badge [^"]*">(.*?)</span>', table)]


def test_preview_and_results_speak_the_same_words(staff_client, superuser, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(2)]
    content = ("order_number\n" + "\n".join(str(o.number) for o in orders) + "\nNOPE\n").encode()
    batch = create_batch(io.BytesIO(content), "a.csv", "orders", superuser)
    preview = staff_client.get(batch_url("preview", pk=batch.pk))
    assert preview.status_code == 200
    assert badges(preview.content.decode()) == ["Will cancel", "Will cancel", "Error"]
    _run(batch, superuser)
    results = staff_client.get(batch_url("detail", pk=batch.pk))
    assert results.status_code == 200
    page = results.content.decode()
    assert badges(page) == ["Cancelled", "Cancelled", "Error"]
    assert "SUCCESS" not in page and "ERROR" not in page
    progress = text_of(re.search(r'id="progress_state".*?id="progress_left"', page, re.S).group(0))
    assert "Cancelled: 2" in progress and "Errors: 1" in progress
    history = text_of(staff_client.get(batch_url("list")).content.decode())
    assert "Rows Cancelled Errors" in history


def _bar(page: str) -> dict[str, tuple[str, float]]:
    box = re.search(r'<div class="progress[^"]*"[^>]*id="progress_bar".*?</div>\s*</div>', page, re.S)
    parts = {}
    for classes, part, width in re.findall(
            r'<div class="progress-bar ([^"]*)" id="progress_bar_(\w+)" style="width: ([\d.]+)%"',
            box.group(0)):
        parts[part] = (classes, float(width))
    return parts


def test_a_completed_batch_is_green_and_only_its_errors_are_red(staff_client, superuser, customer):
    good = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    clean = create_batch(io.BytesIO(("order_number\n" + "\n".join(str(o.number) for o in good)).encode()),
                         "clean.csv", "orders", superuser)
    _run(clean, superuser)
    page = staff_client.get(batch_url("detail", pk=clean.pk)).content.decode()
    bar = _bar(page)
    assert bar["cancelled"] == ("bg-success", 100.0) and bar["errors"] == ("bg-danger", 0.0)
    assert "bg-warning" not in re.search(r'id="batch_progress".*?id="progress_state"', page, re.S).group(0)
    assert 'id="progress_state" class="badge badge-success"' in page

    more = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    mixed = create_batch(io.BytesIO(("order_number\n" + "\n".join(str(o.number) for o in more)
                                     + "\nNOPE\n").encode()), "mixed.csv", "orders", superuser)
    _run(mixed, superuser)
    bar = _bar(staff_client.get(batch_url("detail", pk=mixed.pk)).content.decode())
    assert bar["cancelled"] == ("bg-success", 75.0) and bar["errors"] == ("bg-danger", 25.0)


def test_a_running_batch_shows_moving_stripes_and_its_share_so_far(staff_client, superuser, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(4)]
    batch = create_batch(io.BytesIO(("order_number\n" + "\n".join(str(o.number) for o in orders)
                                     + "\nNOPE\n").encode()), "a.csv", "orders", superuser)
    start_batch(batch, enqueue=False)  # queued: the refused row is done, the others wait
    response = staff_client.get(batch_url("detail", pk=batch.pk))
    assert response.status_code == 200
    bar = _bar(response.content.decode())
    assert bar["cancelled"] == ("bg-success progress-bar-striped progress-bar-animated", 0.0)
    assert bar["errors"] == ("bg-danger progress-bar-striped progress-bar-animated", 20.0)


def test_the_preview_shows_each_rows_reason_and_note_as_written(staff_client, superuser, customer):
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    long_note = "Customer wrote: " + "please cancel " * 20 + "<b>now</b>"
    rows = [[orders[0].number, "inventory", '=HYPERLINK("http://evil.example","x")'],
            [orders[1].number, "", long_note],
            [orders[2].number, "fraud", ""]]
    out = io.StringIO()
    csv.writer(out).writerows([["order_number", "reason", "note"], *rows])
    batch = create_batch(io.BytesIO(out.getvalue().encode()), "a.csv", "orders", superuser,
                         reason="customer")
    response = staff_client.get(batch_url("preview", pk=batch.pk))
    assert response.status_code == 200
    page = response.content.decode()
    table = re.search(r'<table[^>]*id="batch_rows".*?</table>', page, re.S).group(0)
    headers = [text_of(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)]
    assert headers == ["Row", "Order number", "Reason", "Note", "Status", "Message"]
    cells = [[c for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
             for tr in re.findall(r"<tr[^>]*data-status[^>]*>(.*?)</tr>", table, re.S)]
    assert text_of(cells[0][2]) == "Out of stock"
    assert text_of(cells[0][3]) == '=HYPERLINK("http://evil.example","x")'
    assert text_of(cells[1][2]) == "Customer request"  # the upload's default reason
    assert "<b>now</b>" not in table and "&lt;b&gt;now&lt;/b&gt;" in cells[1][3]  # escaped
    summary = text_of(re.search(r"<summary>(.*?)</summary>", cells[1][3], re.S).group(1))
    assert len(summary) <= 60 and summary.endswith("…") and long_note.startswith(summary[:-1])
    assert text_of(cells[1][3]).endswith(long_note)  # the full text opens below
    assert text_of(cells[2][3]) == "—"


@pytest.mark.parametrize("kind", ["orders", "lines"])
def test_each_template_has_an_example_row_that_reads_as_a_valid_row(staff_client, superuser,
                                                                    customer, kind):
    response = staff_client.get(batch_url("template", kind=kind))
    assert response.status_code == 200
    header, example = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(header) == len(example) and all(example[:header.index("reason") + 1])
    # Uploaded unchanged, the file is read: the example row only names no existing order.
    upload = SimpleUploadedFile("t.csv", response.content, content_type="text/csv")
    assert staff_client.post(batch_url("upload") + f"?kind={kind}",
                             {"file": upload, "kind": kind}).status_code == 302
    batch = CancellationBatch.objects.latest("pk")
    row = batch.rows.get()
    assert (batch.total_rows, row.preview_status, row.preview_code) == (1, "error", "unknown_order")
    # With a real order (and its SKU) in place of the example, the same row will cancel.
    order = factories.place_order(customer, [("10.00", 1)])
    values = dict(zip(header, example, strict=True))
    values["order_number"] = order.number
    if kind == "lines":
        values["sku"] = order.lines.get().partner_sku
    out = io.StringIO()
    csv.writer(out).writerows([header, [values[name] for name in header]])
    ready = create_batch(io.BytesIO(out.getvalue().encode()), "t.csv", kind, superuser)
    assert ready.rows.get().preview_status == "will_cancel", ready.rows.get().preview_message


def test_a_note_with_quotes_is_read_and_shown_as_the_spreadsheet_wrote_it(staff_client, superuser,
                                                                         customer):
    # Many rows with empty notes, then one with quotes (doubled inside the quoted cell, as
    # spreadsheets write them): Python's CSV sniffer guesses "no doubled quotes" on such a file.
    orders = [factories.place_order(customer, [("10.00", 1)]) for __ in range(3)]
    note = '=HYPERLINK("http://example.com")'
    out = io.StringIO()
    csv.writer(out).writerows([["order_number", "reason", "note"],
                               *([str(o.number), "customer", ""] for o in orders[:2]),
                               *([f"NOPE-{i}", "customer", ""] for i in range(200)),
                               [str(orders[2].number), "customer", note]])
    assert '"=HYPERLINK(""http://example.com"")"' in out.getvalue()
    batch = create_batch(io.BytesIO(out.getvalue().encode()), "a.csv", "orders", superuser)
    row = batch.rows.get(order_number=str(orders[2].number))
    assert row.options["note"] == note and row.preview_status == "will_cancel"
    page = staff_client.get(batch_url("preview", pk=batch.pk) + "?page=5")
    assert page.status_code == 200
    assert "=HYPERLINK(&quot;http://example.com&quot;)" in page.content.decode()
