"""The cancellation report: its figures add up to what was cancelled, in whole local days;
the rate; who may see it; a fixed number of queries; bad input never breaks it; the
dashboard home's panel."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_ordercancel.models import OrderCancellation
from oscar_ordercancel.reports import charts, figures
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")
Partner = get_model("partner", "Partner")
URL = reverse("ordercancel_dashboard:ordercancel-cancellation-report")
BERLIN = ZoneInfo("Europe/Berlin")
JUNE = {"date_from": "2025-06-01", "date_to": "2025-06-30"}
HEADER = ["reason", "channel", "cancellations", "orders", "units", "value", "refunded"]


def at(cancellation, when: datetime) -> None:
    """Move a cancellation's completion to ``when``."""
    OrderCancellation.objects.filter(pk=cancellation.pk).update(date_completed=when)


def placed_at(order, when: datetime) -> None:
    Order.objects.filter(pk=order.pk).update(date_placed=when)


def lines_of(order):
    return list(order.lines.order_by("pk"))


def csv_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def by_key(rows: list[list[str]]) -> dict[tuple[str, str], list[str]]:
    return {(row[0], row[1]): row[2:] for row in rows[1:]}


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def june_in_berlin(settings, customer, staff):
    """Cancellations around June 2025 in Europe/Berlin (UTC+2 then): whole and partial,
    several reasons and channels, two just inside the month, two just outside, one rejected."""
    settings.TIME_ZONE = "Europe/Berlin"
    made = {}
    # Whole, paid and refunded: 2 × £10 + 1 × £5.
    o1 = factories.place_order(customer, [("10.00", 2), ("5.00", 1)])
    factories.pay(o1, debited=o1.total_incl_tax)
    made["whole_refunded"] = cancel_order(o1, user=staff, reason="customer", channel="dashboard",
                                          force=True, refund=True)
    at(made["whole_refunded"], datetime(2025, 6, 10, 12, 0, tzinfo=BERLIN))
    # Two partial cancellations of one order: 1 of 3 × £10 (dashboard), then 2 × £4 (command line).
    o2 = factories.place_order(customer, [("10.00", 3), ("4.00", 2)])
    first, second = lines_of(o2)
    made["partial_1"] = cancel_order(o2, user=staff, lines={first: 1}, reason="inventory",
                                     channel="dashboard")
    at(made["partial_1"], datetime(2025, 6, 15, 9, 0, tzinfo=BERLIN))
    made["partial_2"] = cancel_order(o2, user=staff, lines={second: 2}, reason="inventory", channel="cli")
    at(made["partial_2"], datetime(2025, 6, 16, 9, 0, tzinfo=BERLIN))
    # 23:30 on the last day, local time: in.
    o3 = factories.place_order(customer, [("7.50", 2)])
    made["last_evening"] = cancel_order(o3, user=staff, lines={lines_of(o3)[0]: 1}, reason="fraud",
                                        channel="admin_api")
    at(made["last_evening"], datetime(2025, 6, 30, 23, 30, tzinfo=BERLIN))
    # 00:30 on the day after, local time (still 30 June in UTC): out.
    o4 = factories.place_order(customer, [("3.00", 1)])
    made["next_morning"] = cancel_order(o4, user=staff, reason="fraud", channel="admin_api")
    at(made["next_morning"], datetime(2025, 7, 1, 0, 30, tzinfo=BERLIN))
    # 23:30 the evening before the first day: out; 00:30 on the first day (31 May in UTC): in.
    o5 = factories.place_order(customer, [("2.00", 1)])
    made["eve"] = cancel_order(o5, user=staff, reason="customer", channel="dashboard")
    at(made["eve"], datetime(2025, 5, 31, 23, 30, tzinfo=BERLIN))
    o6 = factories.place_order(customer, [("6.00", 1)])
    made["first_morning"] = cancel_order(o6, user=staff, reason="customer", channel="dashboard")
    at(made["first_morning"], datetime(2025, 6, 1, 0, 30, tzinfo=BERLIN))
    # A request the ERP rejected, in the month: not a cancellation that happened.
    o7 = factories.place_order(customer, [("9.00", 1)])
    made["rejected"] = cancel_order(o7, user=staff, reason="customer", channel="dashboard")
    OrderCancellation.objects.filter(pk=made["rejected"].pk).update(
        state="rejected", date_completed=datetime(2025, 6, 20, 12, 0, tzinfo=BERLIN))
    return made


# -- the CSV and the totals add up ----------------------------------------------------------


def test_the_csv_adds_up_to_what_was_cancelled_in_whole_local_days(staff_client, june_in_berlin):
    assert june_in_berlin["whole_refunded"].refund_amount == Decimal("25.00")
    rows = csv_of(staff_client.get(URL, {**JUNE, "format": "csv"}))
    assert rows[0] == HEADER
    assert by_key(rows) == {
        # the refunded whole order (3 units, £25) and the whole order at 00:30 on 1 June (£6)
        ("customer", "dashboard"): ["2", "2", "4", "31.00", "25.00"],
        ("inventory", "dashboard"): ["1", "1", "1", "10.00", "0.00"],
        ("inventory", "cli"): ["1", "1", "2", "8.00", "0.00"],
        # 23:30 on 30 June, Berlin time; 00:30 on 1 July is not in June
        ("fraud", "admin_api"): ["1", "1", "1", "7.50", "0.00"],
    }
    assert len(rows) == 5  # one row per reason and channel, no duplicates


def test_the_page_totals_count_orders_once_and_whole_and_partial_apart(staff_client, june_in_berlin):
    response = staff_client.get(URL, JUNE)
    assert response.status_code == 200
    totals = response.context["totals"]
    assert (totals.cancellations, totals.orders, totals.orders_whole, totals.orders_partial) == (5, 4, 2, 2)
    assert (totals.units, totals.value, totals.refunded) == (8, Decimal("56.50"), Decimal("25.00"))
    html = response.content.decode()
    assert re.search(r'id="ordercancel-total-cancellations".*?>5<', html, re.S)
    assert "2 whole, 2 in part" in html


def test_the_shops_time_zone_decides_which_day_a_cancellation_falls_on(staff_client, june_in_berlin,
                                                                       settings):
    settings.TIME_ZONE = "UTC"  # 00:30 on 1 July in Berlin is 30 June in UTC, and so on
    keys = by_key(csv_of(staff_client.get(URL, {**JUNE, "format": "csv"})))
    assert keys[("fraud", "admin_api")] == ["2", "2", "2", "10.50", "0.00"]
    # 00:30 on 1 June in Berlin is 31 May in UTC: only the refunded whole order is left
    assert keys[("customer", "dashboard")] == ["1", "1", "3", "25.00", "25.00"]


def test_the_chart_and_tables_show_the_days_reasons_products_and_jobs(staff_client, june_in_berlin):
    response = staff_client.get(URL, JUNE)
    report = response.context["report"]
    assert report.bucket_kind == "day" and len(report.buckets) == 30
    per_day = {bucket.start: bucket.counts for bucket in report.buckets if bucket.counts}
    assert per_day == {date(2025, 6, 1): {"customer": 1}, date(2025, 6, 10): {"customer": 1},
                       date(2025, 6, 15): {"inventory": 1}, date(2025, 6, 16): {"inventory": 1},
                       date(2025, 6, 30): {"fraud": 1}}
    assert [code for code, __ in report.reasons] == ["customer", "inventory", "fraud"]
    assert report.products[0].units == 2 and len(report.products) == 6  # o1, o2: two each; o3, o6
    assert sum(product.units for product in report.products) == 8
    html = response.content.decode()
    assert html.count('role="img"') == 2
    assert '<title>Cancellations per day, by reason</title>' in html
    assert '<title>Cancellation rate per week</title>' in html
    assert 'id="ordercancel-report-periods"' in html and 'id="ordercancel-report-weeks"' in html
    assert "Customer request" in html and "Out of stock" in html and "Suspected fraud" in html
    assert "https://" not in re.sub(r'xmlns="[^"]+"', "", "".join(
        re.findall(r"<svg.*?</svg>", html, re.S)))  # no external request from the charts


def test_the_delivery_of_the_ranges_cancellations_is_counted_by_state(staff_client, settings, customer,
                                                                      staff):
    from oscar_ordercancel.models import CancelJob

    settings.OSCAR_ORDERCANCEL_PROCESSORS = [
        {"name": "erp", "class": "oscar_ordercancel.processors.LoggingProcessor", "options": {}}]
    cancellations = [cancel_order(factories.place_order(customer), user=staff, reason="customer")
                     for __ in range(3)]
    states = ["succeeded", "failed", "pending"]
    for cancellation, state in zip(cancellations, states, strict=True):
        CancelJob.objects.filter(cancellation=cancellation).update(state=state)
    old = cancel_order(factories.place_order(customer), user=staff, reason="customer")
    at(old, timezone.now() - timedelta(days=60))  # its job is not the range's
    CancelJob.objects.filter(cancellation=old).update(state="failed")
    jobs = staff_client.get(URL).context["report"].jobs
    assert (jobs.succeeded, jobs.failed, jobs.pending) == (1, 1, 1)


# -- the rate -----------------------------------------------------------------------------------


def test_the_rate_is_orders_cancelled_over_orders_placed(staff_client, customer, staff):
    orders = [factories.place_order(customer) for __ in range(5)]
    cancel_order(orders[0], user=staff, reason="customer")
    order = factories.place_order(customer, [("10.00", 2)])
    orders.append(order)
    cancel_order(order, user=staff, lines={lines_of(order)[0]: 1}, reason="inventory")
    placed_at(factories.place_order(customer), timezone.now() - timedelta(days=90))  # before the range
    today = figures.today()
    response = staff_client.get(URL, {"date_from": (today - timedelta(days=13)).isoformat(),
                                      "date_to": today.isoformat()})
    totals = response.context["totals"]
    assert (totals.orders, totals.orders_placed) == (2, 6)
    assert totals.rate == Decimal("33.3")
    weeks = response.context["report"].weeks
    assert sum(week.placed for week in weeks) == 6 and sum(week.cancelled for week in weeks) == 2
    assert weeks[-1].rate == Decimal("33.3")
    assert "33.3 %" in response.content.decode()


def test_no_orders_placed_gives_no_rate_rather_than_a_division_by_zero(staff_client):
    response = staff_client.get(URL, JUNE)
    assert response.context["totals"].rate is None
    assert "no orders placed" in response.content.decode()


# -- who may see it --------------------------------------------------------------------------


def test_a_visitor_is_sent_to_log_in(client, june_in_berlin):
    response = client.get(URL, JUNE)
    assert response.status_code == 302 and "login" in response["Location"]
    response = client.get(URL, {**JUNE, "format": "csv"})
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_customer_gets_no_figures(client, customer, june_in_berlin):
    client.force_login(customer)
    for params in (JUNE, {**JUNE, "format": "csv"}):
        response = client.get(URL, params)
        assert response.status_code in (302, 403)
        assert b"ordercancel-total" not in response.content and b"customer,dashboard" not in response.content


def test_staff_without_the_cancel_permission_get_no_figures(client, june_in_berlin):
    clerk = factories.create_user("viewer@example.com", is_staff=True, perms=["order.view_order"],
                                  order_pages=False)
    client.force_login(clerk)
    response = client.get(URL, {**JUNE, "format": "csv"})
    assert response.status_code in (302, 403)
    assert b"customer,dashboard" not in response.content


@pytest.fixture
def partner_orders(customer, staff):
    """A cancelled order of partner Acme (2 × £10) and one of partner Other (1 × £5)."""
    acme = factories.place_order(customer, [("10.00", 2)], partner="Acme")
    other = factories.place_order(customer, [("5.00", 1)], partner="Other")
    cancel_order(acme, user=staff, reason="customer", channel="dashboard")
    cancel_order(other, user=staff, reason="fraud", channel="dashboard")
    return acme, other


def test_a_partner_user_sees_only_their_orders_figures(client, staff, partner_orders):
    partner_user = factories.create_user("acme@example.com", perms=["partner.dashboard_access"],
                                         order_pages=False)
    Partner.objects.get(name="Acme").users.add(partner_user)
    client.force_login(partner_user)
    rows = csv_of(client.get(URL, {"format": "csv"}))
    assert by_key(rows) == {("customer", "dashboard"): ["1", "1", "2", "20.00", "0.00"]}
    response = client.get(URL)
    assert response.status_code == 200
    totals = response.context["totals"]
    assert (totals.cancellations, totals.units, totals.value, totals.orders_placed) == (
        1, 2, Decimal("20.00"), 1)
    assert 'id="ordercancel-report-partner"' in response.content.decode()
    assert [p.units for p in response.context["report"].products] == [2]

    client.force_login(staff)  # staff see both partners'
    assert set(by_key(csv_of(client.get(URL, {"format": "csv"})))) == {
        ("customer", "dashboard"), ("fraud", "dashboard")}


# -- speed ------------------------------------------------------------------------------------


#: Session, user, its two permission look-ups, the report's eight queries, Oscar's unread
#: notifications (the dashboard layout).
MAX_QUERIES = 13


@pytest.mark.parametrize("n", [3, 30])
def test_the_report_takes_the_same_number_of_queries_however_many_cancellations(
        staff_client, customer, staff, n, django_assert_max_num_queries):
    for index in range(n):
        order = factories.place_order(customer, [("10.00", 2), ("4.00", 1)])
        cancel_order(order, user=staff, reason=("customer", "inventory", "fraud")[index % 3],
                     lines=None if index % 2 else {lines_of(order)[0]: 1})
    with django_assert_max_num_queries(MAX_QUERIES):
        response = staff_client.get(URL)
    assert response.context["totals"].cancellations == n
    with django_assert_max_num_queries(MAX_QUERIES):
        rows = csv_of(staff_client.get(URL, {"format": "csv"}))
    assert sum(int(row[2]) for row in rows[1:]) == n


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query, message", [
    ("date_from=garbage", "Enter a valid date."),
    ("date_from=2025-06-30&date_to=2025-06-01", "The end date is before the start date."),
    ("date_from=0001-01-01&date_to=9999-12-31", "Give a date from 1900-01-01 to 9998-12-31."),
    ("date_from=1900-01-01&date_to=2025-06-01", "Choose at most 1098 days (about three years)."),
    ("date_from=2025-06-01&date_from=2025-06-02", "Give one date."),
    ("date_to=99999-01-01", "Enter a valid date."),
    ("date_from=%3Cscript%3Ealert(1)%3C/script%3E", "Enter a valid date."),
])
def test_bad_dates_are_explained_and_the_last_30_days_shown(staff_client, query, message):
    response = staff_client.get(f"{URL}?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="ordercancel-report-errors"' in html and message in html
    assert "<script>alert" not in html
    report = response.context["report"]
    assert (report.date_from, report.date_to) == figures.default_range()


def test_an_unknown_format_shows_the_page_with_a_message(staff_client):
    response = staff_client.get(URL, {"format": "xlsx"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "There is no download as “xlsx”" in response.content.decode()
    response = staff_client.get(f"{URL}?format=csv&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")


def test_a_csv_with_bad_dates_is_not_downloaded_but_explained(staff_client, customer, staff):
    cancel_order(factories.place_order(customer), user=staff, reason="customer", channel="dashboard")
    for dates in ({"date_from": "nonsense"}, {"date_from": "2025-06-30", "date_to": "2025-06-01"}):
        response = staff_client.get(URL, {"format": "csv", **dates})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert "Nothing was downloaded: the dates are not valid." in html
        assert 'id="ordercancel-report-errors"' in html
    rows = csv_of(staff_client.get(URL, {"format": "csv"}))  # no dates: the last 30 days
    assert by_key(rows) == {("customer", "dashboard"): ["1", "1", "1", "10.00", "0.00"]}


def test_a_missing_end_date_means_today(staff_client):
    start = figures.today() - timedelta(days=3)
    report = staff_client.get(URL, {"date_from": start.isoformat()}).context["report"]
    assert (report.date_from, report.date_to) == (start, figures.today())


def test_a_range_of_years_has_a_bar_per_week(staff_client):
    report = staff_client.get(URL, {"date_from": "2023-01-01", "date_to": "2025-06-30"}).context["report"]
    # Sunday 1 January 2023 is the first (one-day) week; Monday 30 June 2025 the last
    mondays = (date(2025, 6, 30) - date(2022, 12, 26)).days // 7 + 1
    assert report.bucket_kind == "week" and len(report.buckets) == len(report.weeks) == mondays == 132
    assert report.weeks[0].start == report.weeks[0].end == date(2023, 1, 1)


def test_csv_cells_cannot_run_as_spreadsheet_formulas(staff_client, customer, staff):
    cancellation = cancel_order(factories.place_order(customer), user=staff, reason="customer")
    OrderCancellation.objects.filter(pk=cancellation.pk).update(reason="=HYPERLINK(1)")
    rows = csv_of(staff_client.get(URL, {"format": "csv"}))
    assert rows[1][0] == "'=HYPERLINK(1)"


# -- the charts -------------------------------------------------------------------------------------


def test_a_chart_is_an_accessible_svg_with_stacked_bars():
    svg = charts.bar_chart([charts.Bar("1 Jun", "1 Jun: 3", [2, 1]), charts.Bar("2 Jun", "2 Jun: 0", [0, 0])],
                           title="Cancellations <per day>", description="Two days", chart_id="c")
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert 'aria-label="Cancellations &lt;per day&gt;"' in svg and 'aria-describedby="c-desc"' in svg
    assert "<title>Cancellations &lt;per day&gt;</title>" in svg
    assert '<desc id="c-desc">Two days</desc>' in svg
    assert svg.count("<rect") == 2  # two parts stacked on the first day, nothing on the second
    assert f'fill="{charts.colour(0)}"' in svg and f'fill="{charts.colour(1)}"' in svg
    assert charts.nice_ceiling(7) == (8, 2) and charts.nice_ceiling(0) == (1, 1)


# -- the dashboard home ------------------------------------------------------------------------------


def test_the_dashboard_home_shows_the_last_7_days_beside_the_revenue(staff_client, customer, staff):
    for __ in range(3):
        factories.place_order(customer)
    cancel_order(factories.place_order(customer, [("12.00", 1)]), user=staff, reason="customer")
    old = cancel_order(factories.place_order(customer), user=staff, reason="customer")
    at(old, timezone.now() - timedelta(days=8))  # before the 7 days
    response = staff_client.get(reverse("dashboard:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cancellations - Last 7 Days" in html
    assert re.search(r'id="ordercancel-home-count">1<', html)
    assert re.search(r'id="ordercancel-home-rate">20.0&nbsp;%<', html)  # 1 of the 5 orders placed
    assert re.search(r'id="ordercancel-home-value">£12.00<', html)
    assert re.search(r'id="ordercancel-home-revenue">£52.00<', html)
    start, end = figures.default_range(7)
    assert f'href="{URL}?date_from={start.isoformat()}&amp;date_to={end.isoformat()}"' in html
    assert "Orders - Last 24 Hours" in html  # Oscar's own panels are still there


def test_the_dashboard_home_has_no_panel_for_staff_who_may_not_see_the_report(client):
    viewer = factories.create_user("viewer@example.com", is_staff=True, perms=["order.view_order"],
                                   order_pages=False)
    client.force_login(viewer)
    response = client.get(reverse("dashboard:index"))
    assert response.status_code == 200
    assert b"ordercancel-home-cancellations" not in response.content
    assert b"Orders - Last 24 Hours" in response.content


def test_the_report_is_in_the_cancellations_menu(staff_client):
    html = staff_client.get(URL).content.decode()
    assert f'href="{URL}"' in html and "<title>Cancellation report |" in html
