"""Dashboard views: status mappings, cancellation settings per site, resubmitting an order.

They only validate input and call the package's helpers (``conf``, ``policy``,
``services``); no rule is decided here. Load them with
``get_dashboard_class("views", ...)`` so that a shop's fork wins.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.sites.models import Site
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import generic
from django_tables2 import SingleTableView
from oscar.core.loading import get_model

from oscar_ordercancel.conf import effective_settings, get_setting
from oscar_ordercancel.dashboard.consistency import settings_warnings
from oscar_ordercancel.dashboard.loading import get_dashboard_class
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.models import CancellationSettings, OrderStatusMapping
from oscar_ordercancel.policy.pipeline import order_pipeline
from oscar_ordercancel.policy.rules import describe_window, is_cancelling_staff
from oscar_ordercancel.services import resubmit_order

TEMPLATES = "oscar_ordercancel/dashboard/"


def _forms() -> tuple[type, type]:
    return (get_dashboard_class("forms", "StatusMappingForm"),
            get_dashboard_class("forms", "CancellationSettingsForm"))


# -- status mappings ------------------------------------------------------------


class StatusMappingListView(SingleTableView):
    """Every status mapping, in a sortable table, with the pipeline statuses still unmapped."""

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


class StatusMappingFormMixin:
    """What creating and editing a mapping share: the model, form, template and redirect."""

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

    success_message = _("The mapping of “%(status)s” was created.")

    def get_context_data(self, **kwargs) -> dict:
        """Title the page."""
        return super().get_context_data(title=_("Create a status mapping"), **kwargs)


class StatusMappingUpdateView(StatusMappingFormMixin, generic.UpdateView):
    """Edit a status mapping."""

    success_message = _("The mapping of “%(status)s” was saved.")

    def get_context_data(self, **kwargs) -> dict:
        """Title the page."""
        return super().get_context_data(
            title=_("Edit the mapping of “%(status)s”") % {"status": self.object.status}, **kwargs)


class StatusMappingDeleteView(generic.DeleteView):
    """Delete a status mapping after a confirmation."""

    model = OrderStatusMapping
    template_name = TEMPLATES + "mapping_delete.html"
    context_object_name = "mapping"

    def get_success_url(self) -> str:
        """Back to the list, with a message."""
        messages.success(self.request, _("The mapping of “%(status)s” was deleted.")
                         % {"status": self.object.status})
        return reverse("ordercancel_dashboard:ordercancel-mapping-list")


# -- cancellation settings per site ----------------------------------------------


class SettingsIndexView(generic.ListView):
    """The sites with their settings; with one site, straight to its page."""

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
    }


class SiteSettingsView(generic.UpdateView):
    """One site's settings: each field overrides the Django setting, or inherits it when empty."""

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

    def get_context_data(self, **kwargs) -> dict:
        """Add the site, the inherited values, the effective ones and the warnings."""
        effective = effective_settings(self.site)
        return super().get_context_data(
            site=self.site, inherited=inherited_settings(), effective=effective,
            effective_window=(_("no limit") if effective.customer_window is None
                              else describe_window(effective.customer_window)),
            warnings=settings_warnings(effective),
            can_change=self.request.user.has_perm(self.change_permission),
            multiple_sites=Site.objects.count() > 1,
            **kwargs,
        )

    def get_success_url(self) -> str:
        """Back to this page (its warnings reflect what was saved)."""
        messages.success(self.request, _("The cancellation settings of %(site)s were saved.")
                         % {"site": self.site.name or self.site.domain})
        return reverse("ordercancel_dashboard:ordercancel-settings-site",
                       kwargs={"site_id": self.site.pk})


# -- resubmit a cancelled order ---------------------------------------------------


class ResubmitOrderView(generic.TemplateView):
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

    def get_context_data(self, **kwargs) -> dict:
        """The lines the new order gets, or why it cannot be placed."""
        from oscar_ordercancel.engine.resubmit import resubmit_lines

        ctx = super().get_context_data(**kwargs)
        ctx["order"] = self.order
        ctx["order_url"] = reverse("dashboard:order-detail", kwargs={"number": self.order.number})
        try:
            ctx["lines"] = resubmit_lines(self.order)
        except CancellationError as exc:
            ctx["lines"], ctx["refusal"] = [], exc.message
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
