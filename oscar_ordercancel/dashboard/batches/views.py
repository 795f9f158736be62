"""Batch pages: thin surfaces over ``oscar_ordercancel.batches`` (no rule is written here)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView
from django_tables2 import RequestConfig, SingleTableView
from oscar.core.loading import get_model

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.batches.exports import error_csv_lines, template_csv
from oscar_ordercancel.batches.preview import create_batch
from oscar_ordercancel.batches.reader import FileRefused
from oscar_ordercancel.batches.runner import start_batch
from oscar_ordercancel.dashboard.batches.forms import BatchUploadForm, SingleOrderForm
from oscar_ordercancel.dashboard.batches.tables import BatchRowTable, BatchTable
from oscar_ordercancel.dashboard.pages import CANCEL_ORDERS, CSV_BATCHES, DashboardPageMixin
from oscar_ordercancel.policy import actor_role
from oscar_ordercancel.policy.rules import may_cancel_as_staff

CancellationBatch = get_model("oscar_ordercancel", "CancellationBatch")
KINDS = ("orders", "lines")
ROWS_PER_PAGE = 50


#: Staff who may cancel orders, or partner users (the policy limits them to their orders).
may_run_batches = may_cancel_as_staff


def batches_for(user):
    """The batches ``user`` may see: all for staff, their own for partner users."""
    batches = CancellationBatch.objects.select_related("user")
    if actor_role(user, Channel.BATCH) == "staff":
        return batches
    return batches.filter(user=user)


class BatchAccessMixin:
    """Log in first; then 403 unless the user may run batches."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Refuse users who may not cancel orders."""
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not may_run_batches(request.user):
            raise PermissionDenied(_("You do not have permission to cancel orders."))
        return super().dispatch(request, *args, **kwargs)

    def get_batch(self):
        """The batch of the URL, if the user may see it (else 404)."""
        return get_object_or_404(batches_for(self.request.user), pk=self.kwargs["pk"])


class BatchUploadView(BatchAccessMixin, DashboardPageMixin, FormView):
    """The "Cancel orders" page. Its tabs: a single order, orders from a file, line items from a file."""

    page_title = CANCEL_ORDERS[0]
    template_name = "oscar_ordercancel/dashboard/batches/upload.html"
    form_class = BatchUploadForm

    def kind(self) -> str:
        """The tab: ``single``, ``orders`` or ``lines``."""
        kind = self.request.GET.get("kind") or self.request.POST.get("kind") or "orders"
        return kind if kind in (*KINDS, "single") else "orders"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Show the tabs; the single-order tab sends the number on to that order's cancel page."""
        if self.kind() == "single" and "order_number" in request.GET:
            single = SingleOrderForm(request.GET)
            if single.is_valid():
                url = self.single_order_url(single.cleaned_data["order_number"])
                if url:
                    return HttpResponseRedirect(url)
                single.add_error("order_number", _("There is no order with this number."))
            return self.render_to_response(self.get_context_data(single_form=single))
        return super().get(request, *args, **kwargs)

    def single_order_url(self, number: str) -> str | None:
        """The order's cancel page (the orders dashboard fork) or its dashboard page."""
        from oscar.apps.dashboard.orders.views import queryset_orders_for_user

        order = queryset_orders_for_user(self.request.user).filter(number=number).first()
        if order is None:
            return None
        for name in ("dashboard:order-cancel", "dashboard:order-detail"):
            try:
                return reverse(name, kwargs={"number": order.number})
            except NoReverseMatch:
                continue
        return None

    def get_context_data(self, **kwargs) -> dict:
        """The current tab, the single-order form and the recent batches."""
        context = super().get_context_data(**kwargs)
        context["kind"] = self.kind()
        context.setdefault("single_form", SingleOrderForm())
        context["tabs"] = [("single", _("Single order")), ("orders", _("Orders (CSV)")),
                           ("lines", _("Line items (CSV)"))]
        return context

    def form_valid(self, form: BatchUploadForm) -> HttpResponse:
        """Preview the file into a new batch; a refused file is a form error and changes nothing."""
        upload = form.cleaned_data["file"]
        kind = self.kind() if self.kind() in KINDS else "orders"
        try:
            batch = create_batch(
                upload, upload.name or "upload.csv", kind, self.request.user,
                reason=form.cleaned_data["reason"], note=form.cleaned_data["note"],
                force=form.cleaned_data["force"], refund=form.cleaned_data["refund"])
        except FileRefused as refused:
            form.add_error("file", refused.message)
            return self.form_invalid(form)
        return HttpResponseRedirect(reverse("ordercancel_dashboard:ordercancel-batch-preview",
                                            kwargs={"pk": batch.pk}))


#: The colour of a batch's state badge on its page.
STATE_BADGES = {"queued": "badge-secondary", "running": "badge-info", "completed": "badge-success",
                "failed": "badge-danger"}


def progress_bar(batch) -> dict[str, str]:
    """The widths (percent, as CSS numbers) of the progress bar's parts: cancelled and errors."""
    total = batch.total_rows or 0

    def share(count: int) -> str:
        return f"{count * 100 / total:.2f}" if total else "0"

    return {"cancelled": share(batch.succeeded_rows), "errors": share(batch.failed_rows)}


class BatchDetailView(BatchAccessMixin, DashboardPageMixin, TemplateView):
    """A batch: its preview (with Start) or its progress and results."""

    parent_pages = (CSV_BATCHES,)
    template_name = "oscar_ordercancel/dashboard/batches/detail.html"

    def get_page_title(self) -> str:
        """"Batch #<number>"."""
        return _("Batch #%(pk)s") % {"pk": self.kwargs["pk"]}

    def get_context_data(self, **kwargs) -> dict:
        """The batch, its counts and a paginated table of its rows."""
        context = super().get_context_data(**kwargs)
        batch = self.get_batch()
        rows = batch.rows.select_related("batch").order_by("row_number")
        if self.request.GET.get("show") == "errors":
            rows = rows.filter(preview_status="error") if batch.state == batch.State.PREVIEWED \
                else rows.filter(status="error")
        table = BatchRowTable(rows, kind=batch.kind)
        RequestConfig(self.request, paginate={"per_page": ROWS_PER_PAGE}).configure(table)
        context.update(batch=batch, table=table,
                       failed=batch.failed_rows if batch.state != batch.State.PREVIEWED
                       else batch.invalid_rows,
                       bar=progress_bar(batch), state_badges=STATE_BADGES,
                       state_badge=STATE_BADGES.get(batch.state, "badge-secondary"))
        return context


class BatchStartView(BatchAccessMixin, View):
    """Start a previewed batch in the background (POST)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Queue the batch; rows the preview refused end as ERROR."""
        batch = self.get_batch()
        if batch.state == batch.State.PREVIEWED and not batch.valid_rows:
            messages.warning(request, _("No row of this file can be cancelled."))
        start_batch(batch)
        return HttpResponseRedirect(reverse("ordercancel_dashboard:ordercancel-batch-detail",
                                            kwargs={"pk": batch.pk}))


class BatchProgressView(BatchAccessMixin, View):
    """The batch's progress as JSON, for the progress bar to poll."""

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        """Processed, succeeded, failed, percent and time left."""
        batch = self.get_batch()
        return JsonResponse({
            "state": batch.state, "state_display": batch.get_state_display(),
            "finished": batch.is_finished, "total": batch.total_rows,
            "processed": batch.processed_rows, "succeeded": batch.succeeded_rows,
            "failed": batch.failed_rows, "percent": batch.percent,
            "seconds_left": batch.seconds_left(), "error": batch.error,
        })


class BatchListView(BatchAccessMixin, DashboardPageMixin, SingleTableView):
    """The "CSV batches" page: who uploaded which file when, counts and duration."""

    page_title = CSV_BATCHES[0]
    template_name = "oscar_ordercancel/dashboard/batches/list.html"
    table_class = BatchTable
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        """The batches the user may see."""
        return batches_for(self.request.user)


class BatchTemplateView(BatchAccessMixin, View):
    """Download the sample CSV of a kind."""

    def get(self, request: HttpRequest, kind: str) -> HttpResponse:
        """The header row of the kind's columns."""
        if kind not in KINDS:
            raise Http404(_("No such template."))
        response = HttpResponse(template_csv(kind), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="cancel-{kind}-template.csv"'
        return response


class BatchErrorsView(BatchAccessMixin, View):
    """Download the failed rows of a batch with an ``error`` column, ready to fix and upload."""

    def get(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        """Stream the error CSV."""
        batch = self.get_batch()
        response = StreamingHttpResponse(error_csv_lines(batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-errors.csv"'
        return response
