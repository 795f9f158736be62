"""Forms of the dashboard screens: a status mapping and a site's cancellation settings."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from oscar_ordercancel.models import CancellationSettings, OrderStatusMapping
from oscar_ordercancel.policy.pipeline import order_pipeline
from oscar_ordercancel.policy.rules import WINDOW_UNITS, split_window

#: The longest customer window the form takes (a bound on hostile input).
MAX_WINDOW = timedelta(days=3650)


def pipeline_choices(extra: str | None = None) -> list[tuple[str, str]]:
    """The pipeline's statuses as choices, plus ``extra`` (a stored value no longer in it)."""
    choices = [(status, status) for status in order_pipeline()]
    if extra and extra not in dict(choices):
        choices.append((extra, _("%(status)s (not in the pipeline)") % {"status": extra}))
    return choices


class StatusMappingForm(forms.ModelForm):
    """One order status: its display name, ERP code and whether it may be cancelled."""

    status = forms.ChoiceField(label=_("Order status"))

    class Meta:
        model = OrderStatusMapping
        fields = ["status", "display_name", "erp_status_code", "allow_cancellation"]
        help_texts = {
            "display_name": _("What staff and customers read instead of the status."),
            "erp_status_code": _("The status's code in the ERP, sent to the cancel processors."),
            "allow_cancellation": _("Orders in this status may be cancelled (if the status is "
                                    "also one of the cancellable statuses)."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.status if self.instance.pk else None
        taken = set(OrderStatusMapping.objects.exclude(pk=self.instance.pk)
                    .values_list("status", flat=True))
        self.fields["status"].choices = [
            choice for choice in pipeline_choices(current) if choice[0] not in taken
        ]


class WindowWidget(forms.MultiWidget):
    """A number and a unit (minutes, hours, days)."""

    template_name = "oscar_ordercancel/dashboard/partials/window_widget.html"

    def __init__(self, attrs=None) -> None:
        widgets = [
            forms.NumberInput(attrs={"class": "form-control", "min": 0, "step": 1}),
            forms.Select(attrs={"class": "form-control"}, choices=WINDOW_UNITS),
        ]
        super().__init__(widgets, attrs)

    def decompress(self, value) -> list:
        """Split a timedelta into its number of the largest whole unit."""
        if value is None:
            return [None, "days"]
        return list(split_window(value))


class WindowField(forms.MultiValueField):
    """A customer window; empty means "inherit"."""

    widget = WindowWidget

    def __init__(self, **kwargs) -> None:
        fields = [
            forms.IntegerField(min_value=0, max_value=10**7, required=False, error_messages={
                "min_value": _("The window cannot be negative."),
            }),
            forms.ChoiceField(choices=WINDOW_UNITS, required=False),
        ]
        kwargs.setdefault("require_all_fields", False)
        super().__init__(fields, required=False, **kwargs)

    def compress(self, data_list) -> timedelta | None:
        """Return the window as a ``timedelta`` (``None`` when no number was given)."""
        if not data_list or data_list[0] in (None, ""):
            return None
        amount, unit = data_list
        window = timedelta(**{unit or "days": amount})
        if window > MAX_WINDOW:
            raise ValidationError(_("The window cannot be longer than %(days)d days."),
                                  code="too_long", params={"days": MAX_WINDOW.days})
        return window


class CancellationSettingsForm(forms.ModelForm):
    """A site's settings; every field left empty inherits the Django setting."""

    INHERIT, YES, NO = "", "yes", "no"

    allow_customer_cancellation = forms.TypedChoiceField(
        label=_("Allow customer cancellation"), required=False, empty_value=None,
        choices=[(INHERIT, _("Inherit")), (YES, _("Yes")), (NO, _("No"))],
        coerce=lambda value: {"yes": True, "no": False}.get(value),
    )
    cancellable_statuses = forms.MultipleChoiceField(
        label=_("Cancellable statuses"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Orders in these statuses may be cancelled. None ticked: inherit."),
    )
    customer_window = WindowField(
        label=_("Customer cancellation window"),
        help_text=_("How long after placing an order customers may cancel it. Empty: inherit; "
                    "0 minutes: customers cannot cancel at all."),
    )

    class Meta:
        model = CancellationSettings
        fields = ["allow_customer_cancellation", "cancellable_statuses", "customer_window"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cancellable_statuses"].choices = pipeline_choices()
        allowed = self.instance.allow_customer_cancellation
        self.initial["allow_customer_cancellation"] = (
            self.INHERIT if allowed is None else (self.YES if allowed else self.NO))
        self.initial["cancellable_statuses"] = list(self.instance.cancellable_statuses or [])

    def clean_cancellable_statuses(self) -> list[str] | None:
        """Keep the pipeline's order; an empty selection inherits (stored as ``None``)."""
        chosen = set(self.cleaned_data.get("cancellable_statuses") or [])
        return [status for status in order_pipeline() if status in chosen] or None
