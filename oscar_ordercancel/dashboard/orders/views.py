"""Views of the orders dashboard fork: Oscar's views, subclassed, plus the cancel pages.

Every screen asks the policy (``can_cancel`` / ``decisions_for``) and acts through
``services.cancel_order``; no rule is written here.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView
from oscar.apps.dashboard.orders import views as oscar_views
from oscar.apps.dashboard.orders.views import *  # noqa: F401,F403 - Oscar's other views
from oscar.apps.order.exceptions import InvalidOrderStatus
from oscar.apps.payment.exceptions import PaymentError as OscarPaymentError

from oscar_ordercancel import services
from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.conf import get_setting, reason_choices
from oscar_ordercancel.dashboard.bulk import TEMPLATE as BULK_ACTION_TEMPLATE
from oscar_ordercancel.dashboard.bulk import (
    IntermediateBulkAction,
    IntermediateBulkActionView,
    IntermediateBulkEditMixin,
)
from oscar_ordercancel.dashboard.orders.forms import BulkCancelForm, StaffCancelForm
from oscar_ordercancel.dashboard.orders.preview import line_facts
from oscar_ordercancel.exceptions import CancellationError, StatusChangeRefused
from oscar_ordercancel.policy import decisions_for, evaluate, is_cancelling_staff, load_context, message_for
from oscar_ordercancel.policy.rules import may_cancel_as_staff
from oscar_ordercancel.services import cancel_order

queryset_orders_for_user = oscar_views.queryset_orders_for_user
get_order_for_user_or_404 = oscar_views.get_order_for_user_or_404


#: Whether a user may use the cancel controls at all (one rule for every staff screen).
may_cancel = may_cancel_as_staff


def staff_decision(facts, user):
    """Whether staff could cancel what is left of the order (Force allowed, shipped lines aside)."""
    left = {line.pk: facts.cancellable_quantity(line) for line in facts.lines}
    left = {pk: qty for pk, qty in left.items() if qty} or None
    return evaluate(facts, user, lines=left, force=True, channel=Channel.DASHBOARD)


def preview_signature(order, decision, options: dict) -> str:
    """A digest of what a preview showed (the decision's quantities and the choices), so that
    only that can be confirmed."""
    text = repr((order.pk, sorted(decision.quantities.items()), options["reason"], options["note"],
                 options["notify_customer"], options["force"], options["refund"]))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class DashboardCancellationMixin:
    """Handlers made by these views record the dashboard as the channel of a cancellation."""

    def get_handler(self, user=None, **kwargs):
        """Oscar's handler, told that status changes come from the dashboard."""
        handler = super().get_handler(user=user, **kwargs)
        handler.ordercancel_channel = Channel.DASHBOARD
        return handler


def refused_status_change(order, exc: StatusChangeRefused) -> str:
    """"Order N was not cancelled: <the policy's reason>", with a link to the order's cancel form."""
    cause = exc.__cause__
    reason = cause.message if isinstance(cause, CancellationError) else exc.message
    url = reverse("dashboard:order-cancel", kwargs={"number": order.number})
    return format_html('{} <a href="{}">{}</a>',
                       _("Order %(number)s was not cancelled: %(reason)s")
                       % {"number": order.number, "reason": reason},
                       url, _("Open the cancel form"))


class OrderListView(DashboardCancellationMixin, IntermediateBulkEditMixin, oscar_views.OrderListView):
    """Oscar's order list, plus "Cancel selected orders" and engine-backed status changes.

    The bulk cancel is an intermediate bulk action (Oscar 4.2's, or ``dashboard.bulk``'s
    on 4.0 and 4.1): the selection
    (at most ``OSCAR_MAX_BULK_INTERMEDIATE_IDS`` orders) waits in the session for
    the confirmation page, ``dashboard:order-bulk-cancel``.
    """

    template_name = "oscar_ordercancel/dashboard/orders/order_list.html"
    intermediate_actions = {"cancel_selected_orders": None}

    def get_selected_ids(self, request: HttpRequest) -> list:
        """Oscar's selection, ignoring ids that are not whole numbers (Oscar's own fails on them)."""
        if request.POST.get(self.select_across_param, "").lower() != "1":
            name = f"selected_{self.get_checkbox_object_name()}"
            posted = [pk for pk in request.POST.getlist(name) if pk.isdigit() and len(pk) < 11]
            request.POST = request.POST.copy()
            request.POST.setlist(name, posted)
        return super().get_selected_ids(request)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """A cancel selection over Oscar's bulk limit goes through a CSV-style batch instead."""
        if request.POST.get(self.action_param, "").lower() == "cancel_selected_orders":
            if not may_cancel(request.user):
                raise PermissionDenied
            ids = self.get_selected_ids(request)
            if len(ids) > self.max_bulk_intermediate_ids:
                return self.cancel_as_batch(request, ids)
        return super().post(request, *args, **kwargs)

    def cancel_as_batch(self, request: HttpRequest, ids: list) -> HttpResponse:
        """Preview the selection as a batch (one policy decision per order) and open it."""
        from oscar_ordercancel.batches.preview import create_batch_for_orders

        reason = "staff" if "staff" in dict(reason_choices()) else ""
        batch = create_batch_for_orders(self.base_queryset.filter(pk__in=ids), request.user,
                                        reason=reason, notify_customer=True,
                                        label=_("Order list selection of %(count)d orders")
                                        % {"count": len(ids)})
        messages.info(request, _("%(count)d orders are more than one page can confirm, so they "
                                 "were previewed as a batch: check the preview, then start it.")
                      % {"count": len(ids)})
        return redirect(reverse("ordercancel_dashboard:ordercancel-batch-preview",
                                kwargs={"pk": batch.pk}))

    def get_intermediate_url(self, request: HttpRequest, action: str) -> str:
        """The confirmation page of the bulk cancel."""
        return reverse("dashboard:order-bulk-cancel")

    def change_order_statuses(self, request: HttpRequest, orders) -> HttpResponse:
        """Oscar's bulk status change; a missing status is said once, not once per order."""
        if not request.POST.get("new_status", "").strip():
            messages.error(request, _("Choose the new status of the selected orders."))
            return redirect("dashboard:order-list")
        return super().change_order_statuses(request, orders)

    def change_order_status(self, request: HttpRequest, order) -> None:
        """Oscar's status change of one selected order, told with its number.

        A change to the cancelled status is a cancellation (the order fork's
        EventHandler sends it through the engine); a refusal says the policy's
        reason and links to the order's cancel form. Oscar's own message would call
        it a payment error and not say which order it was.
        """
        new_status = request.POST.get("new_status", "").strip()
        old_status = order.status
        if new_status not in order.available_statuses():
            messages.error(request, _("Order %(number)s: the new status '%(new)s' is not valid for an "
                                      "order in status '%(old)s'.")
                           % {"number": order.number, "new": new_status, "old": old_status})
            return
        # Oscar's note text, so that its translations apply; the handler writes the note
        # (a cancellation keeps it as its staff note)
        note = _("Order status changed from '%(old_status)s' to '%(new_status)s'") % {
            "old_status": old_status, "new_status": new_status}
        handler = self.get_handler(user=request.user)
        # with the order fork (or the mixin in the shop's EventHandler) it is a cancellation
        cancelling = (new_status == get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
                      and hasattr(handler, "handle_order_cancellation"))
        try:
            handler.handle_order_status_change(order, new_status, note_msg=note)
        except StatusChangeRefused as exc:
            messages.error(request, refused_status_change(order, exc))
        except InvalidOrderStatus:
            messages.error(request, _("Order %(number)s: the new status '%(new)s' is not valid for an "
                                      "order in status '%(old)s'.")
                           % {"number": order.number, "new": new_status, "old": order.status})
        except OscarPaymentError as exc:
            messages.error(request, _("Order %(number)s: the status was not changed because of a "
                                      "payment error: %(error)s")
                           % {"number": order.number, "error": exc})
        else:
            if cancelling:
                messages.info(request, _("Order %(number)s has been cancelled.")
                              % {"number": order.number})
            else:
                messages.info(request, _("Order %(number)s: status changed from '%(old)s' to "
                                         "'%(new)s'.")
                              % {"number": order.number, "old": old_status, "new": new_status})

    def get_context_data(self, **kwargs) -> dict:
        """Oscar's context, plus whether the user may cancel."""
        ctx = super().get_context_data(**kwargs)
        ctx["may_cancel_orders"] = may_cancel(self.request.user)
        return ctx


class OrderDetailView(DashboardCancellationMixin, oscar_views.OrderDetailView):
    """Oscar's order page, plus cancel order / cancel lines and the cancellation history."""

    template_name = "oscar_ordercancel/dashboard/orders/order_detail.html"
    line_actions = oscar_views.OrderDetailView.line_actions + ("cancel_lines",)

    def get_object(self, queryset=None):
        """Oscar's order, with its notes' authors loaded (cancellations add notes)."""
        order = super().get_object(queryset)
        prefetch_related_objects([order], Prefetch("notes", queryset=order.notes.select_related("user")))
        return order

    def get_order_lines(self):
        """Oscar's lines, with the product and partner its template shows (no query per line)."""
        return super().get_order_lines().select_related("product", "partner")

    def handle_line_action(self, request: HttpRequest, order, action: str) -> HttpResponse:
        """Oscar's line actions, refusing malformed line ids and quantities instead of failing."""
        ids = request.POST.getlist("selected_line")
        if any(not str(pk).isdigit() or len(str(pk)) > 10 for pk in ids):
            return self.reload_page(error=_("Invalid lines requested"))
        for pk in ids:
            qty = request.POST.get(f"selected_line_qty_{pk}", "")
            if not qty.strip().isdigit():
                return self.reload_page(
                    error=_("The entered quantity for line #%s is not valid") % pk)
        return super().handle_line_action(request, order, action)

    def cancel_lines(self, request: HttpRequest, order, lines, quantities) -> HttpResponse:
        """Line action: open the cancel page with the selected quantities filled in."""
        if not may_cancel(request.user):
            raise PermissionDenied
        query = urlencode({f"quantity_{line.pk}": qty for line, qty in zip(lines, quantities, strict=False)})
        return redirect(f"{reverse('dashboard:order-cancel', kwargs={'number': order.number})}?{query}")

    def change_line_statuses(self, request: HttpRequest, order, lines, quantities) -> HttpResponse:
        """Oscar's line status change; to the cancelled line status it goes through the cancel
        form's preview instead, so that stock, payment and the record are handled."""
        new_status = request.POST.get("new_status", "").strip()
        if not new_status or new_status != get_setting("OSCAR_ORDERCANCEL_LINE_CANCELLED_STATUS"):
            return super().change_line_statuses(request, order, lines, quantities)
        if not may_cancel(request.user):
            return self.reload_page(error=message_for("not_permitted"))
        messages.info(request, _("Lines are cancelled through the cancel form, so that their stock, "
                                 "the payment and the cancellation record are handled: check the "
                                 "preview and confirm."))
        return self.cancel_lines(request, order, lines, quantities)

    def change_order_status(self, request: HttpRequest, order) -> HttpResponse:
        """Oscar's status change; a refused cancellation links to the cancel form."""
        form = self.get_order_status_form()
        cancelled = get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
        if form.is_valid() and form.cleaned_data["new_status"] == cancelled:
            try:
                self.get_handler(user=request.user).handle_order_status_change(
                    order, cancelled, note_msg=_("Order status changed from '%(old)s' to "
                                                 "'%(new)s'") % {"old": order.status, "new": cancelled})
            except StatusChangeRefused as exc:
                messages.error(request, refused_status_change(order, exc))
            else:
                messages.info(request, _("Order %(number)s has been cancelled.")
                              % {"number": order.number})
            return self.reload_page()
        return super().change_order_status(request, order)

    def get_context_data(self, **kwargs) -> dict:
        """Oscar's context, plus the cancellation panel's facts (a constant number of queries)."""
        ctx = super().get_context_data(**kwargs)
        order, user = self.object, self.request.user
        facts = load_context(order)
        cancellations = list(order.cancellations.select_related("user", "on_behalf_of")
                             .prefetch_related("lines__line"))
        decision, rows = staff_decision(facts, user), line_facts(facts)
        ctx.update(
            may_cancel_orders=may_cancel(user),
            may_resubmit=is_cancelling_staff(user),
            may_settle=is_cancelling_staff(user),
            cancel_decision=decision,
            cancel_lines=rows,
            # the lines' limits are shown when some line cannot cancel all it ordered
            cancel_lines_limited=any(row["cancellable"] < row["ordered"] for row in rows),
            # the cancel line action, while something can be cancelled
            cancel_actions=bool(decision) and may_cancel(user),
            cancellable_quantities={row["line"].pk: row["cancellable"] for row in rows},
            cancellations=cancellations,
            # each cancellation's delivery state per processor, one query for all
            deliveries=services.delivery_summaries(cancellations),
        )
        return ctx


class OrderCancelView(TemplateView):
    """``dashboard:order-cancel``: the cancel form, a preview of its effect, then the cancellation.

    ``GET`` shows the form with everything that can be cancelled filled in, or, with
    ``?quantity_<line id>=n`` (the order page's line action), the preview of those
    quantities; a ``POST`` shows the preview (no ``quantity_`` field at all: the whole
    order); a ``POST`` with ``confirm`` and the preview's signature cancels, on behalf
    of the order's customer.
    """

    template_name = "oscar_ordercancel/dashboard/orders/order_cancel.html"
    form_class = StaffCancelForm

    @classmethod
    def as_view(cls, **initkwargs):
        """Outside ``ATOMIC_REQUESTS``: the engine runs its own transaction (see the customer view)."""
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Only orders this user may see (Oscar's rule), and only users who may cancel."""
        self.order = get_order_for_user_or_404(request.user, kwargs["number"])
        if not may_cancel(request.user):
            raise PermissionDenied
        self.facts = load_context(self.order)
        return super().dispatch(request, *args, **kwargs)

    def order_url(self) -> str:
        """The order's dashboard page."""
        return reverse("dashboard:order-detail", kwargs={"number": self.order.number})

    def get_form(self, data=None) -> StaffCancelForm:
        """The form, with a quantity field per line of the order (its box offers the cancellable)."""
        facts = self.facts
        cancellable = {line.pk: facts.cancellable_quantity(line) for line in facts.lines}
        initial = {}
        if data is None:
            asked = self.asked_quantities()
            for line in facts.lines:
                name = f"quantity_{line.pk}"
                initial[name] = asked.get(name, 0 if asked else cancellable[line.pk])
        return self.form_class(data=data, initial=initial, lines=facts.lines,
                               paid=facts.amount_debited > 0, cancellable=cancellable,
                               order_number=self.order.number)

    def asked_quantities(self) -> dict:
        """The ``quantity_<line id>`` the URL asks for (the order page's line action)."""
        return {key: value for key, value in self.request.GET.items() if key.startswith("quantity_")}

    def get_context_data(self, **kwargs) -> dict:
        """The order, its lines' facts and the form."""
        ctx = super().get_context_data(**kwargs)
        form = kwargs.get("form") or self.get_form()
        rows = {row["line"].pk: row for row in line_facts(self.facts)}
        ctx.update(
            order=self.order, form=form, order_url=self.order_url(),
            line_rows=[(rows[line.pk], form[name]) for line, name in form.line_fields],
            paid=self.facts.amount_debited > 0, amount_debited=self.facts.amount_debited,
            # whether anything of the order could be cancelled at all (Force allowed)
            cancel_decision=staff_decision(self.facts, self.request.user),
        )
        return ctx

    def already_cancelled(self, request: HttpRequest, message: str) -> HttpResponse:
        """Someone else cancelled the order meanwhile: say so on the order page."""
        messages.info(request, message)
        return HttpResponseRedirect(self.order_url())

    def crossed(self, request: HttpRequest) -> HttpResponse | None:
        """A refused confirmation, read again: did someone else cancel the order meanwhile?

        The request read the order and its facts with separate queries; another clerk's
        cancellation committed between them leaves an order that looks open with nothing
        left to cancel. Read both again, and if the order is now cancelled, say so.
        """
        self.order.refresh_from_db()
        self.facts = load_context(self.order)
        again = staff_decision(self.facts, request.user)
        if again.code == "already_cancelled":
            return self.already_cancelled(request, again.message)
        return None

    def refuse(self, form: StaffCancelForm, code: str, message: str, params: dict, status: int):
        """Show a refusal on the form: at its line's box when it is about one line's quantity."""
        name = f"quantity_{params.get('line')}"
        if code == "quantity_not_cancellable" and not form.whole_order and name in form.fields:
            form.add_error(name, message)
        else:
            form.add_error(None, message)
        return self.render_to_response(self.get_context_data(form=form), status=status)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """The form; with ``?quantity_<line id>=n`` (the line action), the preview of those quantities."""
        asked = self.asked_quantities()
        reason = self.get_form().fields["reason"].initial
        if not asked or not reason:
            return super().get(request, *args, **kwargs)
        data = QueryDict(mutable=True)
        data.update({"reason": reason, "notify_customer": "on"})
        for line in self.facts.lines:
            data[f"quantity_{line.pk}"] = asked.get(f"quantity_{line.pk}", "0")
        return self.preview_or_cancel(request, self.get_form(data=data), confirm=False, status=200)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Preview, or (with ``confirm``) cancel; a refusal is shown on the form, nothing changes."""
        return self.preview_or_cancel(request, self.get_form(data=request.POST),
                                      confirm="confirm" in request.POST, status=400)

    def preview_or_cancel(self, request: HttpRequest, form: StaffCancelForm, *, confirm: bool,
                          status: int) -> HttpResponse:
        """The preview of what ``form`` asks for; with ``confirm``, the cancellation it previewed.

        ``status`` is the answer's status when the form or the policy refuses.
        """
        if not form.is_valid():
            return (confirm and self.crossed(request)) or self.render_to_response(
                self.get_context_data(form=form), status=status)
        options = form.cancel_kwargs()
        decision = evaluate(self.facts, request.user, lines=options["lines"], force=options["force"],
                            channel=Channel.DASHBOARD)
        if not decision:
            if decision.code == "already_cancelled":  # by someone else, since the page was shown
                return self.already_cancelled(request, decision.message)
            crossed = confirm and self.crossed(request)
            if crossed:
                return crossed
            return self.refuse(form, decision.code, decision.message, decision.params, status)
        if form.whole_order:  # the boxes show what the whole order is
            form.show_quantities(decision.quantities)
        signature = preview_signature(self.order, decision, options)
        if not confirm or request.POST.get("previewed") != signature:
            # Never confirm what was not previewed: a form changed after its preview
            # is previewed again.
            if confirm and request.POST.get("previewed"):
                messages.warning(request, _("You changed the form after the preview: "
                                            "check the new preview, then confirm."))
            preview = services.preview_cancellation(self.facts, decision, refund=options["refund"])
            return self.render_to_response(self.get_context_data(
                form=form, preview=preview, decision=decision, previewed=signature))
        try:
            cancellation = cancel_order(self.order, user=request.user, channel=Channel.DASHBOARD,
                                        on_behalf_of=self.order.user, **options)
        except CancellationError as exc:
            if exc.code == "already_cancelled":  # the two requests crossed in the engine
                return self.already_cancelled(request, exc.message)
            return self.refuse(form, exc.code, exc.message, exc.params, 409)
        if cancellation.is_full:
            text = _("Order %(number)s has been cancelled.")
        else:
            text = _("The selected items of order %(number)s have been cancelled.")
        messages.success(request, text % {"number": self.order.number})
        return HttpResponseRedirect(self.order_url() + "#ordercancel-history")


class CancelSelectedOrders(IntermediateBulkAction):
    """The bulk action ``cancel_selected_orders``: one engine call per order, same choices for all."""

    label = gettext_lazy("Cancel selected orders")
    form_class = BulkCancelForm
    template = "oscar_ordercancel/dashboard/orders/bulk_cancel.html"
    require_irreversible_confirmation = True

    def execute(self, request: HttpRequest, orders, form) -> dict:
        """Cancel each order the policy allows; return what was cancelled and what was refused."""
        data = form.cleaned_data
        done, refused = [], []
        for order in orders:
            try:
                cancel_order(order, user=request.user, channel=Channel.DASHBOARD,
                             on_behalf_of=order.user, reason=data["reason"], note=data["note"],
                             notify_customer=data["notify_customer"], force=data["force"],
                             refund=data["refund"])
            except CancellationError as exc:
                refused.append((order, exc.message))
            else:
                done.append(order)
        return {"done": done, "refused": refused}


class BulkCancelView(IntermediateBulkActionView):
    """``dashboard:order-bulk-cancel``: which orders will and will not be cancelled, then a summary."""

    intermediate_actions = {"cancel_selected_orders": CancelSelectedOrders()}

    @classmethod
    def as_view(cls, **initkwargs):
        """Outside ``ATOMIC_REQUESTS``: one engine transaction per order, never one for all."""
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Only users who may cancel."""
        if not may_cancel(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_cancel_url(self) -> str:
        """Back to the order list."""
        return reverse("dashboard:order-list")

    def get_success_url(self) -> str:
        """The order list."""
        return reverse("dashboard:order-list")

    def get_objects(self, form=None):
        """The selected orders this user may see, oldest first."""
        return (queryset_orders_for_user(self.request.user)
                .filter(pk__in=self._selected_ids).order_by("date_placed", "pk"))

    def get_context_data(self, form=None, **kwargs) -> dict:
        """Oscar's confirmation context, plus each order's decision with Force as chosen."""
        ctx = super().get_context_data(form=form, **kwargs)
        orders = list(self.get_objects())
        force = bool(form is not None and form.is_bound and form.is_valid()
                     and form.cleaned_data.get("force"))
        decisions = decisions_for(orders, self.request.user, channel=Channel.DASHBOARD, force=force)
        ctx["will_cancel"] = [o for o in orders if decisions[o.pk]]
        ctx["will_not_cancel"] = [(o, decisions[o.pk].message) for o in orders if not decisions[o.pk]]
        ctx["unforced"] = {o.pk for o in orders if not decisions[o.pk]
                           and decisions[o.pk].code == "paid_needs_force"}
        ctx.update(self._page(ctx["action_label"]), bulk_action_template=BULK_ACTION_TEMPLATE)
        return ctx

    def _page(self, label) -> dict:
        """The page's name and breadcrumbs ("Dashboard / Orders / <action>"), as the own
        dashboard app's pages have them (``partials/breadcrumbs.html``)."""
        return {"page_title": label, "breadcrumb_parents": [(_("Orders"), self.get_success_url())]}

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Cancel, then show the summary of what was cancelled and what was refused, and why."""
        form = self.get_form(data=request.POST)
        if not form.is_valid():
            return TemplateResponse(request, self.get_template_name(), self.get_context_data(form=form))
        result = self.execute_action(request, form)
        self._clear_session(request)
        return TemplateResponse(request, "oscar_ordercancel/dashboard/orders/bulk_cancel_done.html",
                                {**result, "list_url": self.get_success_url(),
                                 **self._page(self.intermediate_actions[self._action].label)})
