"""Forms of the dashboard screens: status mappings, cancellation settings, cancel jobs."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model

from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.limits import LengthLimit, widget_attrs
from oscar_ordercancel.policy.pipeline import order_pipeline
from oscar_ordercancel.policy.rules import WINDOW_UNITS, describe_window, split_window

CancelJob = get_model("oscar_ordercancel", "CancelJob")
CancellationSettings = get_model("oscar_ordercancel", "CancellationSettings")
OrderStatusMapping = get_model("oscar_ordercancel", "OrderStatusMapping")

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
    withdrawal_enabled = forms.TypedChoiceField(
        label=_("Withdrawal function"), required=False, empty_value=None,
        choices=[(INHERIT, _("Inherit")), (YES, _("On")), (NO, _("Off"))],
        coerce=lambda value: {"yes": True, "no": False}.get(value),
        help_text=_("The EU \"withdraw from contract here\" function for this site's customers."),
    )

    expire_unpaid_after = WindowField(
        label=_("Unpaid orders expire after"),
        help_text=_("How long an unpaid order in an expiry status holds its stock before the "
                    "sweep cancels it. Empty: inherit."),
    )
    expiry_reminder_before = WindowField(
        label=_("Remind the customer before expiry"),
        help_text=_("How long before an unpaid order expires its customer is e-mailed, once. "
                    "Empty: inherit."),
    )

    class Meta:
        model = CancellationSettings
        fields = ["allow_customer_cancellation", "cancellable_statuses", "customer_window",
                  "withdrawal_enabled", "expire_unpaid_after", "expiry_reminder_before"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cancellable_statuses"].choices = pipeline_choices()
        allowed = self.instance.allow_customer_cancellation
        self.initial["allow_customer_cancellation"] = (
            self.INHERIT if allowed is None else (self.YES if allowed else self.NO))
        self.initial["cancellable_statuses"] = list(self.instance.cancellable_statuses or [])
        withdrawal = self.instance.withdrawal_enabled
        self.initial["withdrawal_enabled"] = (
            self.INHERIT if withdrawal is None else (self.YES if withdrawal else self.NO))

    def clean_expire_unpaid_after(self) -> timedelta | None:
        """At least a minute: a lifetime of 0 would cancel every unpaid order at once."""
        return self._at_least_a_minute("expire_unpaid_after")

    def clean_expiry_reminder_before(self) -> timedelta | None:
        """At least a minute, and shorter than the lifetime in force."""
        return self._at_least_a_minute("expiry_reminder_before")

    def _at_least_a_minute(self, name: str) -> timedelta | None:
        value = self.cleaned_data.get(name)
        if value is not None and value < timedelta(minutes=1):
            raise ValidationError(_("Enter at least 1 minute, or leave it empty to inherit."),
                                  code="too_short")
        return value

    def clean(self) -> dict:
        """A reminder must come before the order expires."""
        cleaned = super().clean()
        lifetime = cleaned.get("expire_unpaid_after")
        if lifetime is None and "expire_unpaid_after" not in self.errors:
            lifetime = get_setting("OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER")
        reminder = cleaned.get("expiry_reminder_before")
        if lifetime is not None and reminder is not None and reminder >= lifetime:
            self.add_error("expiry_reminder_before", ValidationError(
                _("The reminder must come before the order expires: make it shorter than "
                  "%(lifetime)s.") % {"lifetime": describe_window(lifetime)}, code="after_expiry"))
        return cleaned

    def clean_cancellable_statuses(self) -> list[str] | None:
        """Keep the pipeline's order; an empty selection inherits (stored as ``None``)."""
        chosen = set(self.cleaned_data.get("cancellable_statuses") or [])
        return [status for status in order_pipeline() if status in chosen] or None


# -- cancel-processor jobs -----------------------------------------------------------


def processor_choices() -> list[tuple[str, str]]:
    """Every processor that has jobs or is configured, by name."""
    names = set(CancelJob.objects.order_by().values_list("processor", flat=True).distinct())
    names.update(entry.get("name", "") for entry in get_setting("OSCAR_ORDERCANCEL_PROCESSORS") or ()
                 if isinstance(entry, dict))
    return [(name, name) for name in sorted(filter(None, names))]


class CancelJobSearchForm(forms.Form):
    """The job list's filters (GET); a filter with bad input is reported and not applied."""

    ALL, ATTENTION = "", "attention"

    view = forms.ChoiceField(required=False, widget=forms.HiddenInput,
                             choices=[(ALL, _("All jobs")), (ATTENTION, _("Attention"))])
    state = forms.ChoiceField(label=_("State"), required=False)
    processor = forms.ChoiceField(label=_("Processor"), required=False)
    order_number = forms.CharField(label=_("Order number"), required=False,
                                   validators=[LengthLimit("order_number")],
                                   widget=forms.TextInput(attrs=widget_attrs("order_number")))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("Any state")), *CancelJob.State.choices]
        self.fields["processor"].choices = [("", _("Any processor")), *processor_choices()]

    def cleaned(self) -> dict:
        """The valid filters only (``is_valid()`` must have run)."""
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items()
                if name not in self.errors}

    def filter(self, queryset):
        """``queryset`` narrowed by every valid filter but the state."""
        data = self.cleaned()
        if data.get("processor"):
            queryset = queryset.filter(processor=data["processor"])
        if data.get("order_number", "").strip():
            number = data["order_number"].strip()
            queryset = queryset.filter(Q(cancellation__order__number__icontains=number)
                                       | Q(withdrawal__order__number__icontains=number))
        return queryset

    def filter_state(self, queryset):
        """``queryset`` narrowed to the chosen state, if any."""
        state = self.cleaned().get("state")
        return queryset.filter(state=state) if state else queryset

    @property
    def attention(self) -> bool:
        """Whether the "Attention" view was asked for."""
        return self.cleaned().get("view") == self.ATTENTION


class GiveUpForm(forms.Form):
    """Why staff stop retrying a job (kept as its last error)."""

    reason = forms.CharField(label=_("Reason"), required=False,
                             validators=[LengthLimit("give_up_reason")],
                             widget=forms.TextInput(attrs=widget_attrs(
                                 "give_up_reason", placeholder=_("Given up by staff."))))


class ConfirmCancellationForm(forms.Form):
    """Staff confirm a requested cancellation by hand; an optional note is added to it."""

    note = forms.CharField(label=_("Note"), required=False, validators=[LengthLimit("note")],
                           widget=forms.TextInput(attrs=widget_attrs("note")))


class RejectCancellationForm(forms.Form):
    """Staff decline a requested cancellation by hand; the customer is told the reason."""

    reason = forms.CharField(label=_("Reason"), validators=[LengthLimit("rejection_reason")],
                             widget=forms.TextInput(attrs=widget_attrs("rejection_reason")),
                             error_messages={
        "required": _("Give a reason: the customer is told why the cancellation was declined."),
    })
