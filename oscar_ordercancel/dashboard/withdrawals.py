"""The Withdrawals screen: every withdrawal declaration, its refund due date, and what staff do.

The list (django-tables2) filters by state, overdue and order number or reference, and
downloads as CSV (``?format=csv``, formula-safe, streamed). The detail page shows what
was declared and records "goods received", the refund (through the payment handler)
and the closing, each through ``services``. Load the views with
``get_dashboard_class("withdrawals", ...)`` so that a shop's fork wins.
"""

from __future__ import annotations

from collections.abc import Iterator

from django import forms
from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import generic
from django_tables2 import SingleTableView
from oscar.core.loading import get_model

from oscar_ordercancel import services
from oscar_ordercancel.batches.safecsv import csv_lines
from oscar_ordercancel.dashboard.loading import get_dashboard_class
from oscar_ordercancel.dashboard.pages import WITHDRAWALS, DashboardPageMixin
from oscar_ordercancel.dashboard.views import StaffActionView
from oscar_ordercancel.limits import LengthLimit, widget_attrs
from oscar_ordercancel.policy.rules import is_cancelling_staff

WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
TEMPLATES = "oscar_ordercancel/dashboard/"

#: The CSV download's columns, in order.
CSV_COLUMNS = ("reference", "order", "name", "email", "channel", "state", "declared_at",
               "refund_due_by", "overdue", "lines", "cancelled_at_once", "refunded",
               "goods_received_at", "closed_at")


class WithdrawalSearchForm(forms.Form):
    """The list's filters (GET); a filter with bad input is reported and not applied."""

    state = forms.ChoiceField(label=gettext_lazy("State"), required=False)
    overdue = forms.BooleanField(label=gettext_lazy("Overdue only"), required=False)
    q = forms.CharField(label=gettext_lazy("Order number or reference"), required=False,
                        validators=[LengthLimit("order_number")],
                        widget=forms.TextInput(attrs=widget_attrs("order_number")))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("Any state")), *WithdrawalDeclaration.State.choices]

    def filter(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` narrowed by every valid filter."""
        data = {name: value for name, value in getattr(self, "cleaned_data", {}).items()
                if name not in self.errors}
        if data.get("state"):
            queryset = queryset.filter(state=data["state"])
        if data.get("overdue"):
            queryset = overdue(queryset)
        text = (data.get("q") or "").strip()
        if text:
            queryset = queryset.filter(Q(order__number__icontains=text) | Q(reference__iexact=text))
        return queryset


def overdue(queryset: QuerySet) -> QuerySet:
    """The open declarations past their refund due date."""
    State = WithdrawalDeclaration.State
    return queryset.filter(state__in=[State.RECEIVED, State.AWAITING_RETURN],
                           refund_due_by__lt=timezone.now())


class RefundForm(forms.Form):
    """The amount to refund (default: what is due)."""

    amount = forms.DecimalField(label=gettext_lazy("Amount to refund"), min_value=0,
                                max_digits=12, decimal_places=2)


class WithdrawalListView(DashboardPageMixin, SingleTableView):
    """Every declaration, newest first; overdue ones flagged; CSV with ``?format=csv``."""

    page_title = WITHDRAWALS[0]
    template_name = TEMPLATES + "withdrawal_list.html"
    context_table_name = "withdrawals"
    paginate_by = 25

    def get_table_class(self) -> type:
        """The table (a shop's fork may replace it)."""
        return get_dashboard_class("tables", "WithdrawalTable")

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Read the filters; list them, or stream them as CSV."""
        self.form = WithdrawalSearchForm(data=request.GET or None)
        self.form.is_valid()  # errors are shown; only the valid filters apply
        if request.GET.get("format") == "csv":
            response = StreamingHttpResponse(self.csv(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="withdrawals.csv"'
            return response
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet:
        """The filtered declarations with their orders and cancellations (one query per page)."""
        return self.form.filter(WithdrawalDeclaration.objects.select_related(
            "order", "cancellation")).order_by("-date_declared", "-pk")

    def csv(self) -> Iterator[str]:
        """The filtered declarations as CSV lines, read in chunks."""
        def rows():
            for d in self.get_queryset().prefetch_related("lines__line").iterator(chunk_size=500):
                yield (d.reference, d.order.number, d.name, d.email, d.channel, d.state,
                       d.date_declared.isoformat(),
                       d.refund_due_by.isoformat() if d.refund_due_by else "",
                       "yes" if d.is_overdue else "no",
                       "; ".join(f"{wl.quantity} x {wl.line.title} ({wl.outcome})" for wl in d.lines.all()),
                       f"{d.cancellation.refund_amount:.2f}" if d.cancellation else "0.00",
                       f"{d.refund_amount:.2f}",
                       d.date_goods_received.isoformat() if d.date_goods_received else "",
                       d.date_closed.isoformat() if d.date_closed else "")
        return csv_lines(CSV_COLUMNS, rows())

    def get_context_data(self, **kwargs) -> dict:
        """Add the form and the number of overdue declarations."""
        return super().get_context_data(
            form=self.form, overdue_count=overdue(WithdrawalDeclaration.objects.all()).count(),
            csv_query=self.request.GET.urlencode(), **kwargs)


class WithdrawalDetailView(DashboardPageMixin, generic.DetailView):
    """One declaration: what was declared, what became of each line, the staff actions."""

    parent_pages = (WITHDRAWALS,)
    template_name = TEMPLATES + "withdrawal_detail.html"
    context_object_name = "declaration"

    def get_queryset(self) -> QuerySet:
        """Declarations with their order, cancellation and lines."""
        return WithdrawalDeclaration.objects.select_related("order", "cancellation", "user") \
            .prefetch_related("lines__line", "jobs")

    def get_page_title(self) -> str:
        """The page's name, with the reference."""
        return _("Withdrawal %(reference)s") % {"reference": self.object.reference}

    def get_context_data(self, **kwargs) -> dict:
        """Add what was declared, the refund due and which actions this user may take."""
        declaration = self.object
        may_act = is_cancelling_staff(self.request.user)
        State = WithdrawalDeclaration.State
        awaiting = declaration.state == State.AWAITING_RETURN
        due = services.refund_due(declaration) if awaiting else None
        return super().get_context_data(
            **services.withdrawal_context(declaration), may_act=may_act,
            may_receive=may_act and awaiting and declaration.date_goods_received is None,
            may_refund=may_act and awaiting, may_close=may_act and declaration.state in (
                State.CANCELLED, State.REFUNDED),
            refund_form=RefundForm(initial={"amount": due}), refund_due=due, **kwargs)


class WithdrawalActionView(StaffActionView):
    """Goods received, Refund or Close one declaration, then back to its page."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Call the service; it refuses, with a message and no change, what the state forbids."""
        declaration = get_object_or_404(WithdrawalDeclaration, pk=pk)
        self.act(declaration)
        return redirect("ordercancel_dashboard:ordercancel-withdrawal-detail", pk=declaration.pk)

    def act(self, declaration) -> None:
        """The action itself (each subclass)."""
        raise NotImplementedError


class WithdrawalReceivedView(WithdrawalActionView):
    """Record that the goods are back (or that proof of sending was given)."""

    def act(self, declaration) -> None:
        """Call ``services.record_goods_received``."""
        self.perform(lambda: services.record_goods_received(declaration, user=self.request.user),
                     _("Withdrawal %(reference)s: goods received.") % {"reference": declaration.reference})


class WithdrawalRefundView(WithdrawalActionView):
    """Refund the returned goods to the original payment."""

    def act(self, declaration) -> None:
        """Check the amount, then call ``services.refund_withdrawal``."""
        form = RefundForm(data=self.request.POST)
        if len(self.request.POST.getlist("amount")) > 1:  # one amount, not a list of them
            messages.error(self.request, _("Give one amount to refund."))
            return
        if not form.is_valid():
            messages.error(self.request, " ".join(e for errors in form.errors.values() for e in errors))
            return
        amount = form.cleaned_data["amount"]
        self.perform(lambda: services.refund_withdrawal(declaration, user=self.request.user,
                                                        amount=amount),
                     _("Withdrawal %(reference)s: %(amount)s refunded.") % {
                         "reference": declaration.reference, "amount": f"{amount:.2f}"})


class WithdrawalCloseView(WithdrawalActionView):
    """Close a declaration that needs nothing more."""

    def act(self, declaration) -> None:
        """Call ``services.close_withdrawal``."""
        note = str(self.request.POST.get("note", ""))[:2000]
        self.perform(lambda: services.close_withdrawal(declaration, user=self.request.user, note=note),
                     _("Withdrawal %(reference)s closed.") % {"reference": declaration.reference})
