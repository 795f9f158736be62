"""Forms of the orders dashboard fork. Fields are named as ``cancel_order``'s arguments."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from oscar.apps.dashboard.orders.forms import *  # noqa: F401,F403

from oscar_ordercancel.conf import reason_choices
from oscar_ordercancel.limits import LengthLimit, widget_attrs


class StaffCancelForm(forms.Form):
    """Reason, staff note, notify, force, refund and ``quantity_<line id>`` per line of the order.

    Only the shape of the input is checked here; whether the quantities, force
    and refund are acceptable is the policy's decision (``cancel_order``). A form
    posted without any ``quantity_`` field asks for the whole order, as
    ``cancel_order`` does without ``lines``.
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

    def __init__(self, *args, lines=(), paid: bool = False, cancellable=None, order_number: str = "",
                 **kwargs) -> None:
        """``cancellable``: ``{line id: quantity}`` each line's box offers as its ``max`` (a line not
        in it offers its ordered quantity); ``order_number`` names the order in messages."""
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = reason_choices()
        if "staff" in dict(reason_choices()):
            self.fields["reason"].initial = "staff"
        self.order_number = order_number
        cancellable = cancellable or {}
        self.line_fields = []
        for line in lines:
            name = f"quantity_{line.pk}"
            offered = max(cancellable.get(line.pk, line.quantity), 0)
            # The box offers what can be cancelled (``max``); a larger number up to the
            # ordered quantity reaches the policy, which says why it cannot be cancelled.
            field = forms.IntegerField(
                label=line.title, required=False, min_value=0, max_value=max(line.quantity, 0),
                initial=0, widget=forms.NumberInput(attrs={"class": "form-control", "style": "width:6em"}),
            )
            field.widget.attrs["max"] = offered  # after the field set its own max_value
            self.fields[name] = field
            self.line_fields.append((line, name))
        #: Posted without any ``quantity_`` field: the whole order.
        self.whole_order = self.is_bound and not any(key.startswith("quantity_") for key in self.data)
        if not paid:
            del self.fields["force"], self.fields["refund"]

    def quantities(self) -> dict[int, int] | None:
        """``{line id: quantity}`` of the lines given a quantity above zero; ``None``: the whole order."""
        if self.whole_order:
            return None
        return {line.pk: self.cleaned_data[name] for line, name in self.line_fields
                if self.cleaned_data.get(name)}

    def clean(self) -> dict:
        """Quantity fields of this order's lines only, and at least one above zero if any is given."""
        data = super().clean()
        if self.whole_order:
            return data
        known = {name for __, name in self.line_fields}
        unknown = sorted(key for key in self.data if key.startswith("quantity_") and key not in known)
        if unknown:
            raise forms.ValidationError(
                _("#%(line)s is not a line of order %(number)s.")
                % {"line": unknown[0][len("quantity_"):], "number": self.order_number})
        if any(name in self.errors for name in known):
            return data  # a quantity's own error says what is wrong with it
        if self.line_fields and not any(data.get(name) for __, name in self.line_fields):
            raise forms.ValidationError(_("Enter a quantity to cancel for at least one line."))
        return data

    def show_quantities(self, quantities: dict) -> None:
        """Fill the boxes with ``quantities`` (``{line id: n}``), e.g. what a whole-order preview cancels."""
        data = self.data.copy()
        for line, name in self.line_fields:
            data[name] = quantities.get(line.pk, 0)
        self.data = data

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
