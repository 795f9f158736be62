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
