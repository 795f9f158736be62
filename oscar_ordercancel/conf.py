"""Read the package's settings when used (never cached at import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from oscar_ordercancel import defaults


def get_setting(name: str) -> Any:
    """Return the project's value of ``name``, else the package default."""
    if hasattr(settings, name):
        return getattr(settings, name)
    default = getattr(defaults, name)
    return default(settings) if callable(default) else default


def staff_addresses(setting: str) -> list[str]:
    """The addresses the setting ``setting`` names, else (``None``) every active staff user's."""
    configured = get_setting(setting)
    if configured is not None:
        return list(configured)
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.filter(is_staff=True, is_active=True).exclude(
        email="").values_list("email", flat=True).order_by("pk"))


def reason_choices() -> list[tuple[str, str]]:
    """Return the configured ``(code, label)`` reason choices."""
    return [(str(code), label) for code, label in get_setting("OSCAR_ORDERCANCEL_REASONS")]


def customer_reason_choices() -> list[tuple[str, str]]:
    """The reasons offered to customers (``OSCAR_ORDERCANCEL_CUSTOMER_REASONS``)."""
    allowed = get_setting("OSCAR_ORDERCANCEL_CUSTOMER_REASONS")
    choices = reason_choices()
    if allowed is None:
        return choices
    return [(code, label) for code, label in choices if code in allowed] or choices


#: Reason codes the package itself gives (a withdrawal's cancellation, an expiry), with their label
#: where a shop's ``OSCAR_ORDERCANCEL_REASONS`` leaves them out.
BUILTIN_REASONS = {"withdrawal": _("Withdrawal from the contract"),
                   "unpaid": _("Not paid in time")}


def reason_label(code: str) -> str:
    """Return the human label of a reason code (the code itself if unknown)."""
    return str(dict(reason_choices()).get(code) or BUILTIN_REASONS.get(code, code))


def customer_reason_label(code: str) -> str:
    """The words customers read for a reason code: its customer wording
    (``OSCAR_ORDERCANCEL_CUSTOMER_REASON_LABELS``), else its label when customers may choose
    it themselves (``OSCAR_ORDERCANCEL_CUSTOMER_REASONS``), else "" (fraud, a staff decision
    … are not shown to them)."""
    if not code:
        return ""
    wording = (get_setting("OSCAR_ORDERCANCEL_CUSTOMER_REASON_LABELS") or {}).get(code)
    if wording:
        return str(wording)
    return str(dict(customer_reason_choices()).get(code, ""))


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings in force for one site: its dashboard values over Django's."""

    cancellable_statuses: tuple[str, ...]
    allow_customer_cancellation: bool
    customer_window: timedelta | None


def effective_settings(site=None) -> EffectiveSettings:
    """Merge the site's (a Site or id) ``CancellationSettings`` field by field over Django's."""
    from oscar.core.loading import get_model

    return merged_settings(get_model("oscar_ordercancel", "CancellationSettings").for_site(site))


def merged_settings(row) -> EffectiveSettings:
    """Merge a ``CancellationSettings`` row (or ``None``) field by field over Django's settings."""
    statuses = get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES")
    allow = get_setting("OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION")
    window = get_setting("OSCAR_ORDERCANCEL_CUSTOMER_WINDOW")
    if row is not None:
        if row.cancellable_statuses:
            statuses = row.cancellable_statuses
        if row.allow_customer_cancellation is not None:
            allow = row.allow_customer_cancellation
        if row.customer_window is not None:
            window = row.customer_window
    return EffectiveSettings(tuple(statuses), bool(allow), window)
