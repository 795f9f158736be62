"""Forms of the batch pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from oscar_ordercancel.conf import reason_choices
from oscar_ordercancel.limits import LengthLimit, widget_attrs


class BatchUploadForm(forms.Form):
    """A CSV or XLSX file and the defaults for rows that leave an option empty."""

    file = forms.FileField(label=_("File"), help_text=_("A .csv file (UTF-8, comma, semicolon or "
                                                        "tab separated) or an .xlsx workbook."))
    reason = forms.ChoiceField(label=_("Reason"), required=False,
                               help_text=_("For rows without a reason."))
    note = forms.CharField(label=_("Staff note"), required=False, validators=[LengthLimit("note")],
                           widget=forms.Textarea(attrs=widget_attrs("note", rows=2)),
                           help_text=_("For rows without a note."))
    force = forms.BooleanField(label=_("Force paid orders"), required=False,
                               help_text=_("For rows that leave force empty: cancel orders "
                                           "whose payment has been taken."))
    refund = forms.BooleanField(label=_("Refund"), required=False,
                                help_text=_("For rows that leave refund empty: give back what "
                                            "was taken."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", _("— none —")), *reason_choices()]


class SingleOrderForm(forms.Form):
    """An order number, to open that order's cancel page."""

    order_number = forms.CharField(label=_("Order number"), validators=[LengthLimit("order_number")],
                                   widget=forms.TextInput(attrs=widget_attrs("order_number")))
