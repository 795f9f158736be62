"""The customer's cancellation form: a configured reason and an optional comment."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from oscar_ordercancel.conf import customer_reason_choices
from oscar_ordercancel.limits import LengthLimit, widget_attrs


class CustomerCancelForm(forms.Form):
    """Reason (from ``OSCAR_ORDERCANCEL_REASONS``) and a comment (``limits.COMMENT`` characters)."""

    reason = forms.ChoiceField(label=_("Why do you want to cancel?"), choices=())
    comment = forms.CharField(
        label=_("Comment (optional)"), required=False, validators=[LengthLimit("comment")],
        widget=forms.Textarea(attrs=widget_attrs("comment", rows=3)),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = customer_reason_choices()
        self.fields["reason"].choices = choices
        codes = [code for code, __ in choices]
        if "customer" in codes:
            self.fields["reason"].initial = "customer"


class WithdrawalForm(forms.Form):
    """The withdrawal function's first step: who withdraws, from which order, and where the
    acknowledgement goes (Art. 11a(2)); ``website`` is a honeypot that people leave empty."""

    name = forms.CharField(label=_("Your name"), max_length=255,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(label=_("Your e-mail address"), max_length=254,
                             help_text=_("The one you ordered with; the acknowledgement is sent "
                                         "there."),
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    order_number = forms.CharField(label=_("Order number"), max_length=128)
    website = forms.CharField(label=_("Leave this field empty"), required=False, max_length=200,
                              widget=forms.TextInput(attrs={"autocomplete": "off",
                                                            "tabindex": "-1"}))

    def clean_name(self) -> str:
        """One line, inner spaces collapsed."""
        return " ".join(self.cleaned_data["name"].split())

    def clean_order_number(self) -> str:
        """The number as typed, without surrounding spaces or a leading ``#``."""
        return self.cleaned_data["order_number"].strip().lstrip("#").strip()

    @property
    def is_bot(self) -> bool:
        """Whether the honeypot was filled in (only a program does that)."""
        return bool(self.data.get("website"))
