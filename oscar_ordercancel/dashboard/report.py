"""The Cancellation report: totals, the rate, two charts and tables for a range of days, and a CSV.

GET ``date_from`` and ``date_to`` (ISO dates, whole days in the shop's time zone; by
default the last 30 days); ``format=csv`` downloads one row per reason and channel. Bad
input is reported on the page and the default range is shown instead. The figures come
from ``oscar_ordercancel.reports`` (a fixed number of queries). Load the view with
``get_dashboard_class("report", "CancellationReportView")`` so that a shop's fork wins.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from oscar_ordercancel.batches.safecsv import csv_lines
from oscar_ordercancel.dashboard.pages import REPORT, DashboardPageMixin
from oscar_ordercancel.reports import charts, figures

#: The earliest and latest dates the form takes (a wider one cannot be a shop's order date,
#: and year 1 or 9999 would overflow when turned into the shop's time zone).
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(9998, 12, 31)
#: The ranges offered as links: (days, label).
QUICK_RANGES = ((7, gettext_lazy("Last 7 days")), (30, gettext_lazy("Last 30 days")),
                (90, gettext_lazy("Last 90 days")), (365, gettext_lazy("Last 365 days")))
FORMATS = ("", "html", "csv")


class ReportRangeForm(forms.Form):
    """The range of days (GET); on any error the report shows the default range."""

    date_from = forms.DateField(label=gettext_lazy("From"), required=False, input_formats=["%Y-%m-%d"],
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, input_formats=["%Y-%m-%d"],
                              widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def _one_date(self, name: str) -> date | None:
        getlist = getattr(self.data, "getlist", None)
        if getlist is not None and len(getlist(name)) > 1:
            raise forms.ValidationError(_("Give one date."), code="many")
        value = self.cleaned_data.get(name)
        if value is not None and not MIN_DATE <= value <= MAX_DATE:
            raise forms.ValidationError(
                _("Give a date from %(first)s to %(last)s.") % {
                    "first": MIN_DATE.isoformat(), "last": MAX_DATE.isoformat()}, code="out_of_range")
        return value

    def clean_date_from(self) -> date | None:
        """One date, in the years a shop can have orders."""
        return self._one_date("date_from")

    def clean_date_to(self) -> date | None:
        """One date, in the years a shop can have orders."""
        return self._one_date("date_to")

    def clean(self) -> dict:
        """Fill in a missing end, then check the order of the dates and the length of the range."""
        data = super().clean()
        if self.errors:
            return data
        date_from, date_to = self.effective_range(data.get("date_from"), data.get("date_to"))
        if date_to < date_from:
            raise forms.ValidationError(_("The end date is before the start date."), code="order")
        if (date_to - date_from).days + 1 > figures.MAX_DAYS:
            raise forms.ValidationError(
                _("Choose at most %(days)s days (about three years).") % {"days": figures.MAX_DAYS},
                code="too_long")
        data["range"] = (date_from, date_to)
        return data

    @staticmethod
    def effective_range(date_from: date | None, date_to: date | None) -> tuple[date, date]:
        """The range meant: a missing end is today (or 30 days on), a missing start 30 days before."""
        if date_from is None and date_to is None:
            return figures.default_range()
        if date_to is None:
            today = figures.today()
            date_to = today if date_from <= today else date_from + timedelta(days=figures.DEFAULT_DAYS - 1)
        if date_from is None:
            date_from = date_to - timedelta(days=figures.DEFAULT_DAYS - 1)
        return date_from, date_to

    def get_range(self) -> tuple[date, date]:
        """The valid range asked for, else the default one."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["range"]
        return figures.default_range()


class CancellationReportView(DashboardPageMixin, TemplateView):
    """The report page, or its CSV with ``format=csv``. Staff see every order, partner users theirs."""

    page_title = REPORT[0]
    template_name = "oscar_ordercancel/dashboard/report.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Log in first; then 403 for anyone who is neither cancelling staff nor a partner user."""
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        self.scope = figures.scope_for(request.user)
        if self.scope is None:
            raise PermissionDenied(_("You do not have permission to see the cancellation report."))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Read the range; show the page, or stream the CSV."""
        self.form = ReportRangeForm(data=request.GET if ("date_from" in request.GET
                                                         or "date_to" in request.GET) else None)
        self.date_from, self.date_to = self.form.get_range()
        formats = request.GET.getlist("format")
        if formats == ["csv"]:
            if not (self.form.is_bound and self.form.errors):
                return self.csv()
            # a file of other dates than those asked for would mislead: say why there is none
            messages.error(request, _("Nothing was downloaded: the dates are not valid. Correct them, "
                                      "then download the CSV again."))
        if len(formats) > 1 or (formats and formats[0] not in FORMATS):
            messages.warning(request, _("There is no download as “%(format)s”; the report is shown as a "
                                        "page. Choose CSV to download it.") % {"format": formats[-1][:20]})
        return super().get(request, *args, **kwargs)

    def csv(self) -> StreamingHttpResponse:
        """One formula-safe row per reason and channel (``figures.CSV_COLUMNS``), streamed."""
        rows = figures.reason_channel_rows(self.date_from, self.date_to, self.scope)
        response = StreamingHttpResponse(csv_lines(figures.CSV_COLUMNS, figures.csv_rows(rows)),
                                         content_type="text/csv; charset=utf-8")
        name = f"cancellations-{self.date_from.isoformat()}-{self.date_to.isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def query(self, **params) -> str:
        """A query string of the current range with ``params``."""
        return urlencode({"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(),
                          **params})

    def get_context_data(self, **kwargs) -> dict:
        """The report's figures, its charts and the links to other ranges."""
        report = figures.build_report(self.date_from, self.date_to, self.scope)
        legend = [(label, charts.colour(index)) for index, (__, label) in enumerate(report.reasons)]
        today = figures.today()
        quick = [(label, urlencode({"date_from": (today - timedelta(days=days - 1)).isoformat(),
                                    "date_to": today.isoformat()}),
                  (self.date_from, self.date_to) == (today - timedelta(days=days - 1), today))
                 for days, label in QUICK_RANGES]
        return super().get_context_data(
            form=self.form, report=report, totals=report.totals, legend=legend, quick_ranges=quick,
            csv_query=self.query(format="csv"), is_partner=self.scope.is_partner,
            cancellations_chart=self.cancellations_chart(report),
            rate_chart=self.rate_chart(report), bucket_rows=self.bucket_rows(report),
            range_text=self.range_text(), **kwargs)

    def range_text(self) -> str:
        """The range in words, e.g. "1 May 2026 – 30 May 2026"."""
        return _("%(first)s – %(last)s") % {"first": date_format(self.date_from),
                                           "last": date_format(self.date_to)}

    @staticmethod
    def _day(bucket_start: date) -> str:
        return date_format(bucket_start, "SHORT_DATE_FORMAT")

    def bucket_rows(self, report: figures.Report) -> list[tuple[str, list[int], int]]:
        """The cancellations chart's table: per bar, its period, counts per reason and total."""
        rows = []
        for bucket in report.buckets:
            period = self._day(bucket.start) if bucket.start == bucket.end else _(
                "%(first)s – %(last)s") % {"first": self._day(bucket.start), "last": self._day(bucket.end)}
            rows.append((period, [bucket.counts.get(code, 0) for code, __ in report.reasons], bucket.total))
        return rows

    def cancellations_chart(self, report: figures.Report) -> str:
        """Cancellations per day (or week), stacked by reason, as SVG."""
        bars = []
        for bucket, (period, counts, total) in zip(report.buckets, self.bucket_rows(report), strict=True):
            parts = ", ".join(f"{label}: {count}" for (__, label), count in zip(report.reasons, counts,
                                                                               strict=True) if count)
            bars.append(charts.Bar(label=date_format(bucket.start, "j M"),
                                   tooltip=f"{period}: {total}" + (f" ({parts})" if parts else ""),
                                   values=counts))
        title = _("Cancellations per day, by reason") if report.bucket_kind == "day" \
            else _("Cancellations per week, by reason")
        description = _("%(count)s cancellations from %(range)s, stacked by reason. The table "
                        "“Cancellations by period” below lists the same figures.") % {
            "count": report.totals.cancellations, "range": self.range_text()}
        return charts.bar_chart(bars, title=title, description=description, whole=True,
                                chart_id="ordercancel-chart-cancellations")

    def rate_chart(self, report: figures.Report) -> str:
        """The cancellation rate per week, as SVG."""
        bars = []
        for week in report.weeks:
            rate = week.rate
            text = _("%(rate)s %% (%(cancelled)s of %(placed)s orders)") % {
                "rate": rate, "cancelled": week.cancelled, "placed": week.placed} if rate is not None \
                else _("no orders placed")
            bars.append(charts.Bar(label=date_format(week.start, "j M"),
                                   tooltip=f"{self._day(week.start)} – {self._day(week.end)}: {text}",
                                   values=[float(rate or 0)]))
        description = _("The share of orders placed in each week that were cancelled, from %(range)s. "
                        "The table “Rate per week” below lists the same figures.") % {
            "range": self.range_text()}
        return charts.bar_chart(bars, title=_("Cancellation rate per week"), description=description,
                                chart_id="ordercancel-chart-rate", colours=("#0072B2",), unit="%",
                                width=420, height=240)
