"""Forms of the orders dashboard fork. Fields are named as ``cancel_order``'s arguments."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from oscar.apps.dashboard.orders.forms import *  # noqa: F401,F403

from oscar_ordercancel.conf import reason_choices
from oscar_ordercancel.limits import LengthLimit, widget_attrs


class StaffCancelForm(forms.Form):
    """Reason, staff note, notify, force, refund and ``quantity_<line id>`` per cancellable line.

    Only the shape of the input is checked here; whether the quantities, force
    and refund are acceptable is the policy's decision (``cancel_order``).
    """

    reason = forms.ChoiceField(label=_("Reason"), choices=())
    note = forms.CharField(
        label=_("Staff note"), required=False, validators=[LengthLimit("note")],
        help_text=_("Kept with the cancellation and the order notes; never shown to the customer."),
        widget=forms.Textarea(attrs=widget_attrs("note", rows=2)),
    )
    notify_customer = forms.BooleanField(
        label=_("Notify the customer"), required=False, initial=True,
        help_text=_("Send the customer the cancellation e-mail."),
    )
    force = forms.BooleanField(
        label=_("Force"), required=False,
        help_text=_("Payment has been taken: cancel anyway. Without a refund the money stays "
                    "taken and you settle it with the customer yourself."),
    )
    refund = forms.BooleanField(
        label=_("Refund to the original payment method"), required=False,
        help_text=_("Give back what was taken for the cancelled items (needs Force)."),
    )

    def __init__(self, *args, lines=(), paid: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = reason_choices()
        if "staff" in dict(reason_choices()):
            self.fields["reason"].initial = "staff"
        self.line_fields = []
        for line in lines:
            name = f"quantity_{line.pk}"
            self.fields[name] = forms.IntegerField(
                label=line.title, required=False, min_value=0, max_value=max(line.quantity, 0),
                initial=0, widget=forms.NumberInput(attrs={"class": "form-control", "style": "width:6em"}),
            )
            self.line_fields.append((line, name))
        if not paid:
            del self.fields["force"], self.fields["refund"]

    def quantities(self) -> dict[int, int]:
        """``{line id: quantity}`` of the lines given a quantity above zero."""
        return {line.pk: self.cleaned_data[name] for line, name in self.line_fields
                if self.cleaned_data.get(name)}

    def clean(self) -> dict:
        """At least one quantity; the policy checks the rest."""
        data = super().clean()
        if self.line_fields and not any(data.get(name) for __, name in self.line_fields):
            raise forms.ValidationError(_("Enter a quantity to cancel for at least one line."))
        return data

    def cancel_kwargs(self) -> dict:
        """The keyword arguments of ``services.cancel_order`` this form asks for."""
        data = self.cleaned_data
        return {
            "lines": self.quantities(), "reason": data["reason"], "note": data.get("note", ""),
            "notify_customer": bool(data.get("notify_customer")),
            "force": bool(data.get("force")), "refund": bool(data.get("refund")),
        }


class BulkCancelForm(forms.Form):
    """The choices of a bulk cancellation: the same for every selected order."""

    reason = StaffCancelForm.base_fields["reason"]
    note = StaffCancelForm.base_fields["note"]
    notify_customer = StaffCancelForm.base_fields["notify_customer"]
    force = StaffCancelForm.base_fields["force"]
    refund = StaffCancelForm.base_fields["refund"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = reason_choices()
        if "staff" in dict(reason_choices()):
            self.fields["reason"].initial = "staff"
