"""Customer views: a confirmation page (GET) and the cancellation itself (POST).

They only validate input and call ``services.cancel_order``; the policy decides.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.generic import TemplateView, View
from oscar.core.loading import get_class, get_model

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.customer.forms import CustomerCancelForm
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.policy import evaluate, load_context
from oscar_ordercancel.services import cancel_order


def cancellation_summary(facts, decision) -> list[dict]:
    """Per line: ordered, already cancelled, and what this cancellation would cancel now."""
    return [
        {"line": line, "ordered": line.quantity, "cancelled": facts.cancelled.get(line.pk, 0),
         "now": decision.quantities.get(line.pk, 0)}
        for line in facts.lines
    ]


class BaseCancelView(TemplateView):
    """Shared flow; subclasses say how the order is found and where to go back to."""

    template_name = "oscar_ordercancel/customer/cancel_confirm.html"
    channel = Channel.CUSTOMER
    form_class = CustomerCancelForm

    @classmethod
    def as_view(cls, **initkwargs):
        """The view, outside ``ATOMIC_REQUESTS``: the engine runs its own transaction.

        So a lock it cannot get in time is a "busy, try again" message, not a
        server error (applied here, not on ``dispatch``, so mixins cannot lose it).
        """
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def get_order(self):
        """The order this customer may see (404 otherwise)."""
        raise NotImplementedError

    def get_actor(self):
        """The user recorded as cancelling (None for guests)."""
        return self.request.user

    def order_url(self) -> str:
        """The order page to return to."""
        raise NotImplementedError

    def success_url(self) -> str:
        """A safe ``next`` parameter, else the order page."""
        target = self.request.POST.get("next") or self.request.GET.get("next")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            return target
        return self.order_url()

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.order = self.get_order()
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs) -> dict:
        """The order summary, the policy's decision and the form."""
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("form", self.form_class())
        facts = load_context(self.order)
        decision = evaluate(facts, self.get_actor(), channel=self.channel)
        ctx.update(
            order=self.order,
            decision=decision,
            summary=cancellation_summary(facts, decision),
            order_url=self.order_url(),
            next=self.request.POST.get("next") or self.request.GET.get("next", ""),
            page_title=_("Cancel order %(number)s") % {"number": self.order.number},
            active_tab="orders",
        )
        return ctx

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Cancel the order, or explain why not; nothing changes on bad input."""
        form = self.form_class(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        try:
            cancellation = cancel_order(
                self.order, user=self.get_actor(), reason=form.cleaned_data["reason"],
                comment=form.cleaned_data["comment"], channel=self.channel,
            )
        except CancellationError as exc:
            if exc.code in ("already_cancelled", "cancellation_pending"):
                messages.info(request, exc.message)  # a double click or a second tab
            else:
                messages.error(request, exc.message)
            return redirect(self.order_url())
        if cancellation.state == cancellation.State.REQUESTED:
            messages.success(request, _("Your cancellation request for order %(number)s has been "
                                        "sent. We will confirm it by e-mail.")
                             % {"number": self.order.number})
        else:
            messages.success(request, _("Order %(number)s has been cancelled.")
                             % {"number": self.order.number})
        return redirect(self.success_url())


class OrderCancelView(LoginRequiredMixin, BaseCancelView):
    """``oscar_ordercancel:order-cancel``: a signed-in customer cancels their own order."""

    def get_order(self):
        """Only the customer's own orders: anyone else's is a 404."""
        Order = get_model("order", "Order")
        return get_object_or_404(Order, number=self.kwargs["order_number"], user=self.request.user)

    def order_url(self) -> str:
        """The account order page."""
        return reverse("customer:order", kwargs={"order_number": self.order.number})


class GuestOrderCancelView(BaseCancelView):
    """``oscar_ordercancel:anon-order-cancel``: a guest, verified as on Oscar's order-status page."""

    channel = Channel.GUEST
    template_name = "oscar_ordercancel/customer/guest_cancel_confirm.html"

    def get_order(self):
        """The order Oscar's own order-status view finds for this request, or a 404.

        Its ``get_object`` checks what the installed release checks: the signed hash, and
        from Oscar 4.1 the e-mail address the guest confirmed (it returns None there; on
        4.0 it raises Http404).
        """
        finder = get_class("customer.views", "AnonymousOrderDetailView")()
        finder.request, finder.kwargs = self.request, self.kwargs
        order = finder.get_object()
        if order is None:
            raise Http404(_("Order not found"))
        return order

    def get_actor(self):
        """Guests act without a user account."""
        return None

    def order_url(self) -> str:
        """Oscar's guest order-status page."""
        return reverse("customer:anon-order", kwargs={
            "order_number": self.order.number, "hash": self.kwargs["hash"]})


class MovedGuestOrderCancelView(View):
    """The guest cancel page's former address, ``order-status/<number>/<hash>/cancel/``.

    It now sits under Oscar's guest page (``accounts/order-status/…/cancel/``). A GET
    is moved permanently (301); a POST gets 308, so that a form opened before the move
    is posted again, unchanged, to the new address. Nothing is looked up or changed here.
    """

    http_method_names = ["get", "head", "post"]

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Redirect to ``oscar_ordercancel:anon-order-cancel`` with the same query string."""
        if request.method.lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        url = reverse("oscar_ordercancel:anon-order-cancel", kwargs={
            "order_number": kwargs["order_number"], "hash": kwargs["hash"]})
        if request.META.get("QUERY_STRING"):
            url = f"{url}?{request.META['QUERY_STRING']}"
        response = HttpResponsePermanentRedirect(url)
        if request.method == "POST":
            response.status_code = 308  # repeat the POST there (Django < 5.2 has no preserve_request)
        return response
