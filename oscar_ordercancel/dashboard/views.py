"""Dashboard views: status mappings, cancellation settings per site, resubmitting an order,
cancel-processor jobs, and settling a requested cancellation by hand.

They only validate input and call the package's helpers (``conf``, ``policy``,
``services``); no rule is decided here. Load them with
``get_dashboard_class("views", ...)`` so that a shop's fork wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib import messages
from django.contrib.sites.models import Site
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import generic
from django_tables2 import SingleTableView
from oscar.core.loading import get_model

from oscar_ordercancel import services
from oscar_ordercancel.conf import effective_settings, get_setting
from oscar_ordercancel.dashboard.consistency import settings_warnings
from oscar_ordercancel.dashboard.loading import get_dashboard_class
from oscar_ordercancel.dashboard.pages import CANCEL_JOBS, MAPPINGS, SETTINGS, DashboardPageMixin
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.policy import withdrawal_enabled
from oscar_ordercancel.policy.expiry import expiry_rules
from oscar_ordercancel.policy.pipeline import order_pipeline
from oscar_ordercancel.policy.rules import describe_window, is_cancelling_staff
from oscar_ordercancel.services import (
    confirm_cancellation,
    give_up_job,
    reject_cancellation,
    resend_job,
    resubmit_order,
    retry_job,
)

CancelJob = get_model("oscar_ordercancel", "CancelJob")
CancellationSettings = get_model("oscar_ordercancel", "CancellationSettings")
OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")

TEMPLATES = "oscar_ordercancel/dashboard/"


def _forms() -> tuple[type, type]:
    return (get_dashboard_class("forms", "StatusMappingForm"),
            get_dashboard_class("forms", "CancellationSettingsForm"))


# -- status mappings ------------------------------------------------------------


class StatusMappingListView(DashboardPageMixin, SingleTableView):
    """Every status mapping, in a sortable table, with the pipeline statuses still unmapped."""

    page_title = MAPPINGS[0]
    model = OrderStatusMapping
    template_name = TEMPLATES + "mapping_list.html"
    context_table_name = "mappings"

    def get_table_class(self) -> type:
        """The table (a shop's fork may replace it)."""
        return get_dashboard_class("tables", "StatusMappingTable")

    def get_context_data(self, **kwargs) -> dict:
        """Add the unmapped pipeline statuses and the current site's warnings."""
        ctx = super().get_context_data(**kwargs)
        mapped = set(OrderStatusMapping.objects.values_list("status", flat=True))
        ctx["unmapped_statuses"] = [s for s in order_pipeline() if s not in mapped]
        ctx["warnings"] = settings_warnings(effective_settings())
        return ctx


class StatusMappingFormMixin(DashboardPageMixin):
    """What creating and editing a mapping share: the model, form, template and redirect."""

    parent_pages = (MAPPINGS,)
    model = OrderStatusMapping
    template_name = TEMPLATES + "mapping_form.html"
    context_object_name = "mapping"

    def get_form_class(self) -> type:
        """The mapping form (a shop's fork may replace it)."""
        return _forms()[0]

    def get_success_url(self) -> str:
        """Back to the list, with a message."""
        messages.success(self.request, self.success_message % {"status": self.object.status})
        return reverse("ordercancel_dashboard:ordercancel-mapping-list")


class StatusMappingCreateView(StatusMappingFormMixin, generic.CreateView):
    """Map a pipeline status."""

    success_message = gettext_lazy("The mapping of “%(status)s” was created.")
    page_title = gettext_lazy("Create a status mapping")


class StatusMappingUpdateView(StatusMappingFormMixin, generic.UpdateView):
    """Edit a status mapping."""

    success_message = gettext_lazy("The mapping of “%(status)s” was saved.")

    def get_page_title(self) -> str:
        """The page's name, with the status."""
        return _("Edit the mapping of “%(status)s”") % {"status": self.object.status}


class StatusMappingDeleteView(DashboardPageMixin, generic.DeleteView):
    """Delete a status mapping after a confirmation."""

    page_title = gettext_lazy("Delete a status mapping")
    parent_pages = (MAPPINGS,)
    model = OrderStatusMapping
    template_name = TEMPLATES + "mapping_delete.html"
    context_object_name = "mapping"

    def get_success_url(self) -> str:
        """Back to the list, with a message."""
        messages.success(self.request, _("The mapping of “%(status)s” was deleted.")
                         % {"status": self.object.status})
        return reverse("ordercancel_dashboard:ordercancel-mapping-list")


# -- cancellation settings per site ----------------------------------------------


class SettingsIndexView(DashboardPageMixin, generic.ListView):
    """The sites with their settings; with one site, straight to its page."""

    page_title = SETTINGS[0]
    template_name = TEMPLATES + "settings_index.html"
    context_object_name = "sites"

    def get_queryset(self) -> QuerySet:
        """Every site, with its settings row."""
        return Site.objects.select_related("cancellation_settings").order_by("domain")

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Redirect to the only site's page when there is one site."""
        sites = list(self.get_queryset()[:2])
        if len(sites) == 1:
            return redirect("ordercancel_dashboard:ordercancel-settings-site", site_id=sites[0].pk)
        return super().get(request, *args, **kwargs)


def inherited_settings() -> dict[str, str]:
    """The Django settings a site inherits, in words."""
    window = get_setting("OSCAR_ORDERCANCEL_CUSTOMER_WINDOW")
    statuses = list(get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES"))
    return {
        "allow_customer_cancellation": (
            _("Yes") if get_setting("OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION") else _("No")),
        "cancellable_statuses": ", ".join(statuses) if statuses else _("none"),
        "customer_window": _("no limit") if window is None else describe_window(window),
        "withdrawal_enabled": (
            _("On") if get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED") else _("Off")),
        "expire_unpaid_after": _describe_or(
            get_setting("OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER"), _("never")),
        "expiry_reminder_before": _describe_or(
            get_setting("OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE"), _("no reminder")),
    }


def _describe_or(span, otherwise: str) -> str:
    return otherwise if span is None else describe_window(span)


class SiteSettingsView(DashboardPageMixin, generic.UpdateView):
    """One site's settings: each field overrides the Django setting, or inherits it when empty.

    With one site this is the "Cancellation settings" page of the menu; with several, each
    site's page sits below the list of sites and is named after its site.
    """

    template_name = TEMPLATES + "settings_form.html"
    context_object_name = "site_settings"
    change_permission = "oscar_ordercancel.change_cancellationsettings"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Find the site (404 when unknown); saving needs the change permission."""
        self.site = get_object_or_404(Site, pk=kwargs["site_id"])
        if request.method not in ("GET", "HEAD") and not request.user.has_perm(self.change_permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_object(self, queryset=None) -> CancellationSettings:
        """The site's row, or a new one that inherits everything."""
        return CancellationSettings.for_site(self.site) or CancellationSettings(site=self.site)

    def get_form_class(self) -> type:
        """The settings form (a shop's fork may replace it)."""
        return _forms()[1]

    def multiple_sites(self) -> bool:
        """Whether the shop has more than one site (then the menu opens the list of sites)."""
        if not hasattr(self, "_multiple_sites"):
            self._multiple_sites = Site.objects.count() > 1
        return self._multiple_sites

    def get_page_title(self) -> str:
        """"Cancellation settings", with the site's name when there are several sites."""
        if not self.multiple_sites():
            return str(SETTINGS[0])
        return _("Cancellation settings of %(site)s") % {"site": self.site.name or self.site.domain}

    def get_breadcrumb_parents(self) -> list[tuple[str, str]]:
        """The list of sites, when there are several."""
        return super().get_breadcrumb_parents() if not self.multiple_sites() else [
            (SETTINGS[0], reverse(SETTINGS[1]))]

    def get_context_data(self, **kwargs) -> dict:
        """Add the site, the inherited values, the effective ones and the warnings."""
        effective = effective_settings(self.site)
        return super().get_context_data(
            site=self.site, inherited=inherited_settings(), effective=effective,
            effective_window=(_("no limit") if effective.customer_window is None
                              else describe_window(effective.customer_window)),
            warnings=settings_warnings(effective),
            withdrawal_in_force=withdrawal_enabled(self.site.pk),
            expiry_in_force=self.expiry_in_force(),
            can_change=self.request.user.has_perm(self.change_permission),
            multiple_sites=self.multiple_sites(),
            **kwargs,
        )

    def expiry_in_force(self) -> dict[str, str]:
        """The lifetime and reminder of this site's unpaid orders, in words."""
        rules = expiry_rules()
        return {"lifetime": _describe_or(rules.by_site.get(self.site.pk, rules.default), _("never")),
                "reminder": _describe_or(rules.reminder(self.site.pk), _("no reminder"))}

    def get_success_url(self) -> str:
        """Back to this page (its warnings reflect what was saved)."""
        messages.success(self.request, _("The cancellation settings of %(site)s were saved.")
                         % {"site": self.site.name or self.site.domain})
        return reverse("ordercancel_dashboard:ordercancel-settings-site",
                       kwargs={"site_id": self.site.pk})


# -- resubmit a cancelled order ---------------------------------------------------


class ResubmitOrderView(DashboardPageMixin, generic.TemplateView):
    """Confirm (GET) and place (POST) a new order with a cancelled order's lines.

    It assumes nothing about its own URL name, so it can be mounted in the
    package's dashboard app and in a forked orders dashboard alike.
    """

    template_name = TEMPLATES + "resubmit_confirm.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Only staff who may cancel orders may resubmit them."""
        if not is_cancelling_staff(request.user):
            raise PermissionDenied
        self.order = get_object_or_404(get_model("order", "Order"), number=kwargs["number"])
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self) -> str:
        """The page's name, with the order number."""
        return _("Resubmit order %(number)s as a new order") % {"number": self.order.number}

    def get_breadcrumb_parents(self) -> list[tuple[str, str]]:
        """The order list and the order (the page is reached from the order)."""
        return [(_("Orders"), reverse("dashboard:order-list")),
                (self.order.number, reverse("dashboard:order-detail",
                                            kwargs={"number": self.order.number}))]

    def get_context_data(self, **kwargs) -> dict:
        """The lines the new order gets, or why it cannot be placed."""
        ctx = super().get_context_data(**kwargs)
        ctx["order"] = self.order
        ctx["order_url"] = reverse("dashboard:order-detail", kwargs={"number": self.order.number})
        try:
            ctx["lines"] = services.resubmit_lines(self.order)
        except CancellationError as exc:
            ctx["lines"], ctx["refusal"] = [], exc.message
            ctx["resubmitted_as"] = exc.params.get("new_order")
        return ctx

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Place the new order and open it, or show why not (nothing changes then)."""
        try:
            new = resubmit_order(self.order, user=request.user)
        except CancellationError as exc:
            ctx = self.get_context_data()
            ctx["refusal"] = exc.message
            return self.render_to_response(ctx)
        messages.success(request, _("Cancelled order %(original)s was resubmitted as new order "
                                    "%(number)s. No payment has been recorded: take payment as "
                                    "your shop does.")
                         % {"original": self.order.number, "number": new.number})
        return redirect("dashboard:order-detail", number=new.number)


# -- cancel-processor jobs ------------------------------------------------------------

#: How many waiting requests the "Attention" view lists (the oldest first).
WAITING_REQUESTS_SHOWN = 50


class CancelJobListView(DashboardPageMixin, SingleTableView):
    """Every cancel job, filterable by state, processor and order number, with counts per state.

    ``?view=attention`` lists what needs a person instead: jobs a processor rejected
    although the cancellation is done in the shop, and requests nobody has answered.
    """

    page_title = CANCEL_JOBS[0]
    template_name = TEMPLATES + "job_list.html"
    context_table_name = "jobs"
    paginate_by = 25

    def get_table_class(self) -> type:
        """The table (a shop's fork may replace it)."""
        return get_dashboard_class("tables", "CancelJobTable")

    def get_form(self):
        """The filter form, bound to the query string."""
        form = get_dashboard_class("forms", "CancelJobSearchForm")(data=self.request.GET or None)
        form.is_valid()  # errors are shown; only the valid filters apply
        return form

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Read the filters, then list."""
        self.form = self.get_form()
        return super().get(request, *args, **kwargs)

    def base_queryset(self) -> QuerySet:
        """The jobs before the state filter: all, or the attention list."""
        queryset = services.attention_list() if self.form.attention else CancelJob.objects.all()
        return self.form.filter(queryset)

    def get_queryset(self) -> QuerySet:
        """The filtered jobs, with their orders (one query per page, whatever its size)."""
        return self.form.filter_state(self.base_queryset()).select_related(
            "cancellation__order", "withdrawal__order")

    def get_context_data(self, **kwargs) -> dict:
        """Add the form, the counts per state, the attention list's size and the failure alerts."""
        ctx = super().get_context_data(**kwargs)
        counts = services.job_counts(self.form.filter(CancelJob.objects.all()))
        query = self.request.GET.copy()
        for name in ("page", "view", "sort"):  # a count opens the full list in that state
            query.pop(name, None)
        state_links = []
        for value, label in CancelJob.State.choices:
            query["state"] = value
            state_links.append({"state": value, "label": label, "count": counts[value],
                                "query": query.urlencode()})
        query.pop("state")
        waiting = services.waiting_requests()
        ctx.update(
            form=self.form, attention=self.form.attention, state_links=state_links,
            total=sum(counts.values()), chosen_state=self.form.cleaned().get("state", ""),
            all_query=query.urlencode(),
            attention_count=services.attention_list().count() + waiting.count(),
            failing=services.failing_processors(),
        )
        if self.form.attention:
            shown = list(waiting[:WAITING_REQUESTS_SHOWN])
            ctx["waiting_requests"] = shown
            ctx["waiting_deliveries"] = services.delivery_summaries(shown)
        return ctx


class CancelJobDetailView(DashboardPageMixin, generic.DetailView):
    """One job: its payload, every attempt, what happens next, and the staff actions."""

    parent_pages = (CANCEL_JOBS,)

    template_name = TEMPLATES + "job_detail.html"
    context_object_name = "job"

    def get_queryset(self) -> QuerySet:
        """Jobs with their cancellation and order."""
        return CancelJob.objects.select_related("cancellation__order", "withdrawal__order")

    def get_page_title(self) -> str:
        """The page's name, with the job's number."""
        return _("Cancel job #%(id)s") % {"id": self.object.pk}

    def get_context_data(self, **kwargs) -> dict:
        """Add the attempts, the pretty payload, and which actions this user may take now."""
        job = self.object
        may_act = is_cancelling_staff(self.request.user)
        attempts = list(job.attempt_log.all())
        note, needs_attention = services.job_note(job)
        for attempt in attempts:  # "HTTP 500" says no more than the status column already does
            attempt.error_detail = "" if attempt.error == f"HTTP {attempt.http_status}" else attempt.error
        return super().get_context_data(
            attempts=attempts,
            payload_json=json.dumps(job.payload, indent=2, ensure_ascii=False, sort_keys=True),
            order=job.order,
            may_act=may_act,
            may_retry=may_act and services.may_retry(job),
            may_resend=may_act and services.may_resend(job),
            may_give_up=may_act and services.may_give_up(job),
            give_up_form=get_dashboard_class("forms", "GiveUpForm")(),
            settlement_note=note, needs_attention=needs_attention,
            **kwargs,
        )


class StaffActionView(generic.View):
    """A POST-only staff action: only staff who may cancel, a 404 for an unknown object.

    Outside ``ATOMIC_REQUESTS``: the service runs its own transaction, and a job's
    wake-up is sent when that transaction commits, not when the request ends.
    """

    http_method_names = ["post"]

    @classmethod
    def as_view(cls, **initkwargs) -> Callable:
        """The view, outside ``ATOMIC_REQUESTS``."""
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Refuse users who may not cancel orders."""
        if not is_cancelling_staff(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def perform(self, call: Callable[[], object], success: str) -> None:
        """Run the service ``call``; report its refusal, or ``success``, as a message."""
        try:
            call()
        except CancellationError as exc:
            messages.error(self.request, exc.message)
        else:
            messages.success(self.request, success)


class CancelJobActionView(StaffActionView):
    """Retry now, Resend or Give up one job, then back to its page."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Call the service; it refuses, with a message and no change, what the job's state forbids."""
        job = get_object_or_404(CancelJob.objects.select_related(
            "cancellation__order", "withdrawal__order"), pk=pk)
        self.act(job)
        return redirect("ordercancel_dashboard:ordercancel-job-detail", pk=job.pk)

    def act(self, job: CancelJob) -> None:
        """The action itself (each subclass)."""
        raise NotImplementedError


class CancelJobRetryView(CancelJobActionView):
    """Deliver a pending or failed job now (a failed one gets a fresh retry budget)."""

    def act(self, job: CancelJob) -> None:
        """Call ``services.retry_job``."""
        self.perform(lambda: retry_job(job, user=self.request.user),
                     _("Job #%(id)s (%(processor)s) will be delivered now.")
                     % {"id": job.pk, "processor": job.processor})


class CancelJobResendView(CancelJobActionView):
    """Deliver a finished job again, under the same idempotency key."""

    def act(self, job: CancelJob) -> None:
        """Call ``services.resend_job``."""
        self.perform(lambda: resend_job(job, user=self.request.user),
                     _("Job #%(id)s (%(processor)s) will be sent again under the same "
                       "idempotency key.") % {"id": job.pk, "processor": job.processor})


class CancelJobGiveUpView(CancelJobActionView):
    """Stop retrying a pending job: it fails for good, with the reason staff gave."""

    def act(self, job: CancelJob) -> None:
        """Check the reason, then call ``services.give_up_job``."""
        form = get_dashboard_class("forms", "GiveUpForm")(data=self.request.POST)
        if not form.is_valid():
            messages.error(self.request, " ".join(form.errors["reason"]))
            return
        self.perform(lambda: give_up_job(job, user=self.request.user,
                                         reason=form.cleaned_data["reason"]),
                     _("Job #%(id)s (%(processor)s) was given up: it will not be delivered.")
                     % {"id": job.pk, "processor": job.processor})


# -- settling a requested cancellation by hand (request mode) ----------------------------


class CancellationSettleView(StaffActionView):
    """Confirm or reject a requested cancellation, then back to the order page."""

    form_name = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Call the service; a cancellation no longer requested is refused with a message."""
        cancellation = get_object_or_404(OrderCancellation.objects.select_related("order"), pk=pk)
        form = get_dashboard_class("forms", self.form_name)(data=request.POST)
        if form.is_valid():
            self.settle(cancellation, form.cleaned_data)
        else:
            messages.error(request, " ".join(error for errors in form.errors.values()
                                             for error in errors))
        return HttpResponseRedirect(reverse("dashboard:order-detail", kwargs={
            "number": cancellation.order.number}) + "#ordercancel-history")

    def settle(self, cancellation: OrderCancellation, data: dict) -> None:
        """The settlement itself (each subclass)."""
        raise NotImplementedError


class CancellationConfirmView(CancellationSettleView):
    """Apply a requested cancellation that the processors have not answered."""

    form_name = "ConfirmCancellationForm"

    def settle(self, cancellation: OrderCancellation, data: dict) -> None:
        """Call ``services.confirm_cancellation``."""
        self.perform(lambda: confirm_cancellation(cancellation, user=self.request.user,
                                                  note=data["note"]),
                     _("The cancellation of order %(number)s was confirmed.")
                     % {"number": cancellation.order.number})


class CancellationRejectView(CancellationSettleView):
    """Decline a requested cancellation: the order returns to the status it had."""

    form_name = "RejectCancellationForm"

    def settle(self, cancellation: OrderCancellation, data: dict) -> None:
        """Call ``services.reject_cancellation``."""
        self.perform(lambda: reject_cancellation(cancellation, user=self.request.user,
                                                 reason=data["reason"]),
                     _("The cancellation of order %(number)s was declined; the customer is told "
                       "why.") % {"number": cancellation.order.number})
