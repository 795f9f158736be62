"""The withdrawal function for people (Art. 11a of Directive 2011/83/EU): two steps and a receipt.

* ``withdraw/`` (:class:`WithdrawView`): guests and customers give their name, e-mail
  address and order number; a signed-in customer finds them filled in.
* ``accounts/orders/<number>/withdraw/`` (:class:`OrderWithdrawView`): from the order
  page, with the lines and quantities to withdraw from.
* The second step of both shows exactly what would be declared, records nothing, and
  posts a signed, time-limited, single-use ``token`` to ``withdraw/confirm/``
  (:class:`WithdrawConfirmView`), which records the declaration through
  ``services.declare_withdrawal`` and redirects to ``withdraw/done/<token>/``
  (:class:`WithdrawDoneView`): the acknowledgement, also as a PDF receipt.

An unknown order number and an e-mail address that does not match get the same
answer, and failed look-ups are limited per client address and per order number
(:mod:`oscar_ordercancel.customer.throttle`). With the function disabled for the
site, every page answers 404.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.sites.shortcuts import get_current_site
from django.core import signing
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext as _
from django.views.generic import TemplateView, View
from oscar.core.loading import get_model

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.customer import throttle
from oscar_ordercancel.customer.forms import WithdrawalForm
from oscar_ordercancel.customer.receipt import render_receipt
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.messages import message_for
from oscar_ordercancel.policy import decide_withdrawal, load_withdrawal_facts, withdrawal_enabled
from oscar_ordercancel.services import (
    can_withdraw,
    declaration_content,
    declare_withdrawal,
    preview_withdrawal,
    withdrawal_context,
)

CONFIRM_SALT = "oscar_ordercancel.withdrawal.confirm"
DONE_SALT = "oscar_ordercancel.withdrawal.done"


def confirmation_token(*, order, name: str, email: str, lines: dict[int, int] | None, user,
                       channel: str) -> str:
    """The signed second-step token: what will be declared, and a single-use key."""
    return signing.dumps({
        "o": order.pk, "n": name, "e": email, "c": channel,
        "l": {str(pk): qty for pk, qty in lines.items()} if lines is not None else None,
        "u": user.pk if getattr(user, "is_authenticated", False) else None,
        "k": secrets.token_urlsafe(24),
    }, salt=CONFIRM_SALT, compress=True)


def read_confirmation(token: str) -> dict | None:
    """The content of a valid, unexpired token, or None."""
    try:
        data = signing.loads(str(token or ""), salt=CONFIRM_SALT,
                             max_age=get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_TOKEN_MAX_AGE"))
    except signing.BadSignature:  # SignatureExpired is one
        return None
    return data if isinstance(data, dict) else None


def done_token(declaration) -> str:
    """The signed address part of a declaration's done page and receipt."""
    return signing.dumps({"d": declaration.pk, "r": declaration.reference}, salt=DONE_SALT)


def declaration_for(token: str):
    """The declaration a done token names, or a 404."""
    try:
        data = signing.loads(str(token), salt=DONE_SALT)
    except signing.BadSignature:
        raise Http404(_("Withdrawal not found")) from None
    Declaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
    return get_object_or_404(
        Declaration.objects.select_related("order", "cancellation").prefetch_related("lines__line"),
        pk=data.get("d"), reference=data.get("r"))


class WithdrawalEnabledMixin:
    """404 unless the withdrawal function is enabled for the current site."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not withdrawal_enabled(get_current_site(request).pk):
            raise Http404(_("Withdrawal is not offered here."))
        return super().dispatch(request, *args, **kwargs)


class BaseWithdrawView(WithdrawalEnabledMixin, TemplateView):
    """The two steps' shared parts: the second step and the refusals."""

    confirm_template = "oscar_ordercancel/customer/withdraw_confirm.html"

    @classmethod
    def as_view(cls, **initkwargs):
        """Outside ``ATOMIC_REQUESTS``: the engine runs its own transaction."""
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def second_step(self, order, decision, *, name: str, email: str, lines, channel: str) -> HttpResponse:
        """Step two: exactly what will be declared, and the confirm button. Records nothing."""
        user = self.request.user
        token = confirmation_token(order=order, name=name, email=email, lines=lines, user=user,
                                   channel=channel)
        return self.response_class(
            request=self.request, template=[self.confirm_template], status=200,
            context={"order": order, "name": name, "email": email, "token": token,
                     "rows": preview_withdrawal(order, decision, user=user),
                     "back_url": self.request.path, "page_title": _("Confirm withdrawal")},
            using=self.template_engine)


class WithdrawView(BaseWithdrawView):
    """``oscar_ordercancel:withdraw``: the site-wide function, for guests and customers."""

    template_name = "oscar_ordercancel/customer/withdraw.html"

    def get_form(self, data=None) -> WithdrawalForm:
        """The form; a signed-in customer's name and e-mail address are filled in."""
        user = self.request.user
        initial = {"order_number": self.request.GET.get("order", "")[:128]}
        if user.is_authenticated:
            initial.update(name=user.get_full_name(), email=user.email)
        return WithdrawalForm(data, initial=initial)

    def get_context_data(self, **kwargs) -> dict:
        """The form and the page title."""
        kwargs.setdefault("form", self.get_form())
        kwargs.setdefault("page_title", _("Withdraw from contract here"))
        return super().get_context_data(**kwargs)

    def refuse(self, form, message: str, status: int = 400) -> HttpResponse:
        """The form again with ``message``; nothing was recorded."""
        return self.render_to_response(self.get_context_data(form=form, refusal=message),
                                       status=status)

    def find_order(self, number: str, email: str):
        """The order with ``number`` on this site whose e-mail address is ``email``, or None."""
        Order = get_model("order", "Order")
        site = get_current_site(self.request)
        order = (Order.objects.select_related("user").filter(number=number)
                 .filter(site_id__in=[site.pk, None]).first()) if number else None
        if order is None:
            return None
        user = self.request.user
        if order.user_id:
            if user.is_authenticated and order.user_id == user.pk:
                return order
            return order if order.user.email.strip().lower() == email.lower() else None
        return order if (order.guest_email or "").strip().lower() == email.lower() else None

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Step one: find the order, ask the policy, show step two (or say why not)."""
        address = throttle.client_address(request)
        number = str(request.POST.get("order_number", ""))[:128].strip().lstrip("#").strip()
        form = self.get_form(request.POST)
        if throttle.is_limited(address, number):
            return self.refuse(form, _("Too many attempts. Please wait a few minutes and try "
                                       "again."), status=429)
        if form.is_bot:  # a program filled the honeypot: the answer a wrong e-mail gets
            throttle.record_failure(address, number)
            return self.refuse(form, message_for("order_not_found"))
        if not form.is_valid():
            return self.refuse(form, _("Please correct the errors below."))
        data = form.cleaned_data
        order = self.find_order(data["order_number"], data["email"])
        if order is None:
            throttle.record_failure(address, data["order_number"])
            return self.refuse(form, message_for("order_not_found"))
        owner = request.user if request.user.is_authenticated and order.user_id == request.user.pk \
            else None
        decision = can_withdraw(order, user=owner)
        if not decision:
            return self.refuse(form, decision.message)
        channel = "account" if owner else "guest"
        return self.second_step(order, decision, name=data["name"], email=data["email"],
                                lines=None, channel=channel)


class OrderWithdrawView(LoginRequiredMixin, BaseWithdrawView):
    """``oscar_ordercancel:order-withdraw``: from the customer's order page, choosing lines."""

    template_name = "oscar_ordercancel/customer/withdraw_order.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            Order = get_model("order", "Order")
            self.order = get_object_or_404(Order, number=kwargs["order_number"], user=request.user)
        return super().dispatch(request, *args, **kwargs)

    def declarant(self) -> tuple[str, str]:
        """The customer's name (as on their account, else the shipping address) and e-mail."""
        user = self.request.user
        name = user.get_full_name()
        address = getattr(self.order, "shipping_address", None)
        if not name and address is not None:
            name = address.name
        return " ".join(str(name or "").split()), user.email

    def get_context_data(self, **kwargs) -> dict:
        """The order's lines with what may be withdrawn from each."""
        facts = load_withdrawal_facts(self.order)
        name, email = self.declarant()
        kwargs.update(order=self.order, facts=facts, name=name, email=email,
                      decision=decide_withdrawal(facts, self.request.user),
                      page_title=_("Withdraw from contract here"), active_tab="orders",
                      order_url=reverse("customer:order", kwargs={"order_number": self.order.number}))
        return super().get_context_data(**kwargs)

    def refuse(self, message: str, status: int = 400) -> HttpResponse:
        """The page again with ``message``; nothing was recorded."""
        return self.render_to_response(self.get_context_data(refusal=message), status=status)

    def chosen_lines(self) -> dict[int, int] | None:
        """``quantity_<line id>`` fields as ``{line id: quantity}`` (none given: None); zeros dropped.

        Raises ``ValueError`` for a field that is not a whole number of at least 0.
        """
        fields = {key: values for key, values in self.request.POST.lists() if key.startswith("quantity_")}
        if not fields:
            return None
        lines = {}
        for key, values in fields.items():
            line_id, value = key.removeprefix("quantity_"), values[-1].strip()
            if not line_id.isdigit() or len(values) != 1 or not value.isdigit() or len(value) > 9:
                raise ValueError(key)
            if int(value):
                lines[int(line_id)] = int(value)
        return lines

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Step one from the order page: the chosen quantities, then step two."""
        try:
            lines = self.chosen_lines()
        except ValueError:
            return self.refuse(message_for("invalid_quantity"))
        if lines == {}:
            return self.refuse(_("Choose at least one item to withdraw from."))
        name, email = self.declarant()
        if not name:
            name = " ".join(str(request.POST.get("name", ""))[:255].split())
            if not name:
                return self.refuse(message_for("withdrawal_name_required"))
        decision = can_withdraw(self.order, user=request.user, lines=lines)
        if not decision:
            return self.refuse(decision.message)
        return self.second_step(self.order, decision, name=name, email=email,
                                lines=decision.quantities if lines is not None else None,
                                channel="account")


class WithdrawConfirmView(BaseWithdrawView):
    """``oscar_ordercancel:withdraw-confirm``: POST ``token`` records the declaration."""

    template_name = "oscar_ordercancel/customer/withdraw_error.html"
    http_method_names = ["post"]

    def refuse(self, message: str, status: int) -> HttpResponse:
        """The error page: what went wrong, and the way back to the start."""
        return self.render_to_response(self.get_context_data(
            refusal=message, page_title=_("Withdrawal not recorded")), status=status)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Record the declaration once, send the acknowledgement, go to the done page."""
        data = read_confirmation(request.POST.get("token"))
        if data is None:
            return self.refuse(_("This confirmation has expired or is not valid. Nothing was "
                                 "recorded; please start again."), status=400)
        user = request.user if request.user.is_authenticated else None
        if data.get("u") is not None and (user is None or user.pk != data["u"]):
            return self.refuse(_("Please sign in again with the account you started with. "
                                 "Nothing was recorded."), status=403)
        Order = get_model("order", "Order")
        order = Order.objects.filter(pk=data.get("o")).first()
        if order is None:
            return self.refuse(message_for("order_not_found"), status=400)
        lines = data.get("l")
        try:
            declaration = declare_withdrawal(
                order, name=data.get("n"), email=data.get("e"), user=user if data.get("u") else None,
                lines={int(pk): qty for pk, qty in lines.items()} if lines is not None else None,
                channel=data.get("c"), client_address=throttle.client_address(request),
                request_key=data.get("k"))
        except CancellationError as exc:
            return self.refuse(exc.message, status=409)
        return redirect("oscar_ordercancel:withdraw-done", token=done_token(declaration))


class WithdrawDoneView(WithdrawalEnabledMixin, TemplateView):
    """``oscar_ordercancel:withdraw-done``: the declaration's content, reference, date and time."""

    template_name = "oscar_ordercancel/customer/withdraw_done.html"

    def get_context_data(self, **kwargs) -> dict:
        """The declaration and what it contains."""
        declaration = declaration_for(self.kwargs["token"])
        kwargs.update(withdrawal_context(declaration), token=self.kwargs["token"],
                      page_title=_("Withdrawal received"))
        kwargs["content"] = declaration_content(declaration)
        return super().get_context_data(**kwargs)


class WithdrawReceiptView(WithdrawalEnabledMixin, View):
    """``oscar_ordercancel:withdraw-receipt``: the done page's declaration as a PDF to download."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """The PDF receipt (``customer.receipt``) of the declaration the token names, or a 404."""
        declaration = declaration_for(self.kwargs["token"])
        response = HttpResponse(
            render_receipt(declaration, site=get_current_site(request)),
            content_type="application/pdf",
            headers={"Content-Disposition":
                     f'attachment; filename="withdrawal-{declaration.reference}.pdf"'})
        add_never_cache_headers(response)  # personal data: kept by the person, not by caches
        patch_cache_control(response, private=True)
        return response
