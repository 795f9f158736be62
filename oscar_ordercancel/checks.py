"""Django system checks for the misconfigurations a shop can make."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from oscar_ordercancel import compat
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.policy.pipeline import (
    NOT_IN_PIPELINE,
    cancel_target_status,
    order_pipeline,
    status_problems,
)

SHOP_CONFIG = "oscar.config.Shop"


@checks.register("oscar_ordercancel")
def check_statuses(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Cancellable statuses must exist and reach the cancelled (and requested) status."""
    errors = []
    pipeline = order_pipeline()
    cancelled = get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
    requested = get_setting("OSCAR_ORDERCANCEL_REQUESTED_STATUS")
    request_mode = get_setting("OSCAR_ORDERCANCEL_MODE") == "request"
    if get_setting("OSCAR_ORDERCANCEL_MODE") not in ("immediate", "request"):
        errors.append(checks.Error(
            'OSCAR_ORDERCANCEL_MODE must be "immediate" or "request".', id="ordercancel.E005"))
    if not pipeline:
        return errors + [checks.Warning(
            "OSCAR_ORDER_STATUS_PIPELINE is empty: Oscar cannot move any order to "
            f"'{cancelled}', so full cancellations will fail.",
            hint=f"Add a pipeline in which cancellable statuses lead to '{cancelled}'.",
            id="ordercancel.W001",
        )]
    target = cancel_target_status()
    problems = status_problems(get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES"), pipeline)
    for status, problem in problems.items():
        if problem == NOT_IN_PIPELINE:
            errors.append(checks.Error(
                f"Cancellable status '{status}' is not in OSCAR_ORDER_STATUS_PIPELINE.",
                id="ordercancel.E001",
            ))
        else:
            errors.append(checks.Error(
                f"'{target}' cannot be reached from cancellable status '{status}'.",
                hint=f"Add '{target}' to OSCAR_ORDER_STATUS_PIPELINE['{status}'].",
                id="ordercancel.E002",
            ))
    if cancelled not in pipeline:
        errors.append(checks.Error(
            f"The cancelled status '{cancelled}' is not in OSCAR_ORDER_STATUS_PIPELINE.",
            id="ordercancel.E003",
        ))
    if request_mode and cancelled not in pipeline.get(requested, ()):
        errors.append(checks.Error(
            f"'{cancelled}' cannot be reached from the requested status '{requested}'.",
            id="ordercancel.E004",
        ))
    if request_mode:
        for status in get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES"):
            if status in pipeline and status not in pipeline.get(requested, ()):
                errors.append(checks.Warning(
                    f"'{status}' cannot be reached from the requested status '{requested}': "
                    "declined requests and partial confirmations of such orders will fail.",
                    hint=f"Add '{status}' to OSCAR_ORDER_STATUS_PIPELINE['{requested}'].",
                    id="ordercancel.W005",
                ))
    line_pipeline = getattr(settings, "OSCAR_LINE_STATUS_PIPELINE", {}) or {}
    line_cancelled = get_setting("OSCAR_ORDERCANCEL_LINE_CANCELLED_STATUS")
    for status in get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES"):
        if line_pipeline and line_cancelled not in line_pipeline.get(status, ()):
            errors.append(checks.Warning(
                f"Line status '{line_cancelled}' cannot be reached from '{status}' "
                "in OSCAR_LINE_STATUS_PIPELINE.",
                id="ordercancel.W002",
            ))
    return errors


@checks.register("oscar_ordercancel")
def check_reasons(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Reasons must be ``(code, label)`` pairs with unique codes."""
    try:
        codes = [code for code, __ in get_setting("OSCAR_ORDERCANCEL_REASONS")]
    except (TypeError, ValueError):
        return [checks.Error("OSCAR_ORDERCANCEL_REASONS must be (code, label) pairs.",
                             id="ordercancel.E006")]
    if len(codes) != len(set(codes)):
        return [checks.Error("OSCAR_ORDERCANCEL_REASONS has duplicate codes.",
                             id="ordercancel.E006")]
    return []


@checks.register("oscar_ordercancel")
def check_processors(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Processors and the payment handler must import; no processor means no ERP is told."""
    messages = []
    processors = get_setting("OSCAR_ORDERCANCEL_PROCESSORS")
    if not processors:
        messages.append(checks.Warning(
            "OSCAR_ORDERCANCEL_PROCESSORS is empty: orders are cancelled on the shop side "
            "only and no ERP or fulfilment system hears of it.",
            hint="Configure a cancel processor (e.g. WebhookProcessor) for your ERP.",
            id="ordercancel.W003",
        ))
    messages.extend(processor_entry_messages(processors))
    try:
        import_string(get_setting("OSCAR_ORDERCANCEL_PAYMENT_HANDLER"))
    except ImportError as exc:
        messages.append(checks.Error(
            f"OSCAR_ORDERCANCEL_PAYMENT_HANDLER does not import: {exc}", id="ordercancel.E008"))
    return messages


def processor_entry_messages(processors) -> list[checks.CheckMessage]:
    """Each entry needs a unique ``name``, an importable ``class`` and valid ``options``."""
    from oscar_ordercancel.processors.base import CancelProcessor

    messages = []
    if not isinstance(processors, list | tuple):
        return [checks.Error("OSCAR_ORDERCANCEL_PROCESSORS must be a list of dicts.",
                             id="ordercancel.E009")]
    seen = set()
    lease = get_setting("OSCAR_ORDERCANCEL_LEASE_SECONDS")
    for index, entry in enumerate(processors):
        where = f"OSCAR_ORDERCANCEL_PROCESSORS[{index}]"
        if not isinstance(entry, dict):
            messages.append(checks.Error(f"{where} must be a dict with 'name', 'class' and "
                                         "'options'.", id="ordercancel.E009"))
            continue
        name = entry.get("name")
        if not name or not isinstance(name, str):
            messages.append(checks.Error(f"{where} has no 'name'.", id="ordercancel.E009"))
        elif len(name) > 64:
            messages.append(checks.Error(f"{where}: the name '{name}' is longer than 64 characters.",
                                         id="ordercancel.E009"))
        elif name in seen:
            messages.append(checks.Error(f"{where}: the processor name '{name}' is used twice.",
                                         id="ordercancel.E010"))
        seen.add(name)
        options = entry.get("options", {})
        if options is None:
            options = {}
        if not isinstance(options, dict):
            messages.append(checks.Error(f"{where}: 'options' must be a dict.", id="ordercancel.E009"))
            options = {}
        path = entry.get("class")
        if not path or not isinstance(path, str):
            messages.append(checks.Error(f"{where} has no 'class'.", id="ordercancel.E009"))
            continue
        try:
            cls = import_string(path)
        except ImportError as exc:
            messages.append(checks.Error(
                f"Cancel processor {entry!r} does not import: {exc}", id="ordercancel.E007"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, CancelProcessor)):
            messages.append(checks.Error(f"{where}: {path} is not a CancelProcessor subclass.",
                                         id="ordercancel.E009"))
            continue
        for problem in cls.check_options(options):
            messages.append(checks.Error(f"{where} ({name}): {problem}", id="ordercancel.E011"))
        timeout = options.get("timeout", cls.default_timeout)
        if isinstance(timeout, int | float) and timeout + 5 >= lease:
            messages.append(checks.Error(
                f"{where} ({name}): its timeout ({timeout}s) must be well under "
                f"OSCAR_ORDERCANCEL_LEASE_SECONDS ({lease}s), or jobs would run twice.",
                id="ordercancel.E012"))
    return messages


def app_order_messages(installed_apps) -> list[checks.CheckMessage]:
    """Warn when the core app comes after Oscar's apps in ``installed_apps``."""
    apps = list(installed_apps)
    ours = next((i for i, a in enumerate(apps) if a.startswith("oscar_ordercancel.apps")
                 or a == "oscar_ordercancel"), None)
    oscar_first = next((i for i, a in enumerate(apps) if a == SHOP_CONFIG
                        or a.startswith("oscar.")), None)
    if ours is not None and oscar_first is not None and oscar_first < ours:
        return [checks.Warning(
            "oscar_ordercancel.apps.OrderCancelConfig is listed after Oscar's apps: "
            "its template overrides (cancel buttons) will not be used.",
            hint="Move it before 'oscar.config.Shop' in INSTALLED_APPS.",
            id="ordercancel.W004",
        )]
    return []


@checks.register("oscar_ordercancel")
def check_app_order(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The core app must come before Oscar's apps so that its template overrides win."""
    return app_order_messages(settings.INSTALLED_APPS)


@checks.register("oscar_ordercancel")
def check_status_change_interception(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Without the order fork, Oscar's own "change status to Cancelled" bypasses the package."""
    from oscar.core.loading import get_class

    from oscar_ordercancel.order.mixins import CancellationEventHandlerMixin

    if issubclass(get_class("order.processing", "EventHandler"), CancellationEventHandlerMixin):
        return []
    cancelled = get_setting("OSCAR_ORDERCANCEL_CANCELLED_STATUS")
    return [checks.Warning(
        f"Oscar's order status change to '{cancelled}' is not intercepted: a status change "
        "(dashboard status form, EventHandler.handle_order_status_change) marks the order "
        "cancelled without releasing stock, voiding payment, recording or telling anyone.",
        hint="Use 'oscar_ordercancel.order.apps.OrderConfig' in place of Oscar's order app, or "
             "add oscar_ordercancel.order.mixins.CancellationEventHandlerMixin to your forked "
             "order.processing.EventHandler (a fork of the package's order fork needs a "
             "processing.py: 'from oscar_ordercancel.order.processing import *').",
        id="ordercancel.W006",
    )]


#: Oscar's own order app: without a fork, W006 already says what the shop misses.
OSCAR_ORDER_APP = "oscar.apps.order"


def order_model_messages(order_model, order_app_name: str) -> list[checks.CheckMessage]:
    """Warn when a shop's fork of the order app has an ``Order`` without ``CancellableOrderMixin``."""
    from oscar_ordercancel.order.mixins import CancellableOrderMixin

    if order_app_name == OSCAR_ORDER_APP or issubclass(order_model, CancellableOrderMixin):
        return []
    return [checks.Warning(
        f"The Order model of your order app '{order_app_name}' does not have "
        "CancellableOrderMixin: order.cancel(), order.can_be_cancelled_by(), "
        "order.cancellation_decision() and order.is_cancelled are missing, and code that "
        "calls them fails.",
        hint="Add oscar_ordercancel.order.mixins.CancellableOrderMixin first in the bases of "
             f"Order in {order_app_name}.models (no migration is needed), or use "
             "'oscar_ordercancel.order.apps.OrderConfig' in place of your order app.",
        id="ordercancel.W007",
    )]


@checks.register("oscar_ordercancel")
def check_order_model(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A shop's own order fork needs the Order mixin too, not only the EventHandler one (W006)."""
    from django.apps import apps
    from oscar.core.loading import get_model

    return order_model_messages(get_model("order", "Order"), apps.get_app_config("order").name)


def version_messages(oscar_version: tuple[int, int], django_version: tuple[int, int]) -> list:
    """W008 for an Oscar / Django pair outside the tested matrix (it may work; nobody checked)."""
    if compat.is_supported(oscar_version, django_version):
        return []
    tested = "; ".join(f"Oscar {o[0]}.{o[1]} with Django " + ", ".join(f"{d[0]}.{d[1]}" for d in djangos)
                       for o, djangos in compat.SUPPORTED.items())
    return [checks.Warning(
        f"oscar-ordercancel is not tested with django-oscar {oscar_version[0]}.{oscar_version[1]} "
        f"and Django {django_version[0]}.{django_version[1]}.",
        hint=f"Tested: {tested}.", id="ordercancel.W008")]


@checks.register("oscar_ordercancel")
def check_versions(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The installed Oscar and Django are a tested pair (W008)."""
    return version_messages(compat.OSCAR_VERSION, compat.DJANGO_VERSION)


def treebeard_messages(oscar_version: tuple[int, int], treebeard: tuple[int, int]) -> list:
    """E013 when Oscar 4.0 / 4.1 run beside django-treebeard 6 or newer (their category tree breaks)."""
    if compat.treebeard_fits(oscar_version, treebeard):
        return []
    return [checks.Error(
        f"django-oscar {oscar_version[0]}.{oscar_version[1]} does not work with "
        f"django-treebeard {treebeard[0]}.{treebeard[1]}: Category.get_root_nodes() fails "
        "(the category menu, the dashboard's categories and django-oscar-api's category list).",
        hint=f"pip install '{compat.OSCAR_LEGACY_TREEBEARD_PIN}' (Oscar 4.2 works with the newer "
             "ones).",
        id="ordercancel.E013")]


@checks.register("oscar_ordercancel")
def check_treebeard(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Oscar 4.0 and 4.1 need django-treebeard older than 6 (E013)."""
    return treebeard_messages(compat.OSCAR_VERSION, compat.treebeard_version())


#: Currencies of EU member states (the euro and the national ones still in use).
EU_CURRENCIES = frozenset({"EUR", "BGN", "CZK", "DKK", "HUF", "PLN", "RON", "SEK"})
#: Official EU languages other than English (which shops outside the EU use as much).
EU_LANGUAGES = frozenset({"bg", "cs", "da", "de", "el", "es", "et", "fi", "fr", "ga", "hr", "hu",
                          "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv"})


def withdrawal_messages(*, currency: str, languages: list[str], enabled: bool) -> list:
    """W009 when a shop that looks like it sells to EU consumers has the withdrawal function off."""
    if enabled:
        return []
    signs = [currency] if currency.upper() in EU_CURRENCIES else []
    signs += sorted({code for code in (lang.split("-")[0].lower() for lang in languages)
                     if code in EU_LANGUAGES})
    if not signs:
        return []
    return [checks.Warning(
        "The shop looks like it sells to consumers in the EU (" + ", ".join(signs) + "), but the "
        "withdrawal function is off: since 19 June 2026 an online shop must offer a "
        "\"withdraw from contract here\" function (Art. 11a of Directive 2011/83/EU; in Germany "
        "§ 356a BGB).",
        hint="Set OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True (or switch it on per site on the "
             "dashboard) and put {% withdrawal_link %} in your footer; see docs/withdrawal.rst.",
        id="ordercancel.W009")]


def _withdrawal_on_anywhere() -> bool:
    if get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED"):
        return True
    from django.db import DatabaseError
    from oscar.core.loading import get_model

    try:  # a site may switch it on; before migrate there is no table to ask
        return get_model("oscar_ordercancel", "CancellationSettings").objects.filter(
            withdrawal_enabled=True).exists()
    except (DatabaseError, RuntimeError):  # RuntimeError: a test run that blocks the database
        return False


@checks.register("oscar_ordercancel")
def check_withdrawal(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """An EU shop (its currency or a language it speaks) offers the withdrawal function (W009)."""
    languages = [settings.LANGUAGE_CODE]
    if settings.is_overridden("LANGUAGES"):  # Django's default lists every language
        languages += [code for code, __ in settings.LANGUAGES]
    return withdrawal_messages(currency=getattr(settings, "OSCAR_DEFAULT_CURRENCY", ""),
                               languages=languages, enabled=_withdrawal_on_anywhere())


def expiry_messages(*, statuses, cancellable, lifetimes: dict, payment_check,
                    reminder=None) -> list:
    """E014 (payment check not importable), E015 (a lifetime or ``reminder`` that is not a
    positive timedelta or None), W010 (an expiry status the policy will not cancel from)."""
    from datetime import timedelta

    from django.utils.module_loading import import_string

    messages = []
    if isinstance(payment_check, str):
        try:
            payment_check = import_string(payment_check)
        except ImportError as exc:
            messages.append(checks.Error(
                f"OSCAR_ORDERCANCEL_PAYMENT_CHECK cannot be imported: {exc}",
                hint="Give the dotted path of a function is_paid(order) -> bool; see docs/expiry.rst.",
                id="ordercancel.E014"))
            payment_check = None
    if payment_check is not None and not callable(payment_check):
        messages.append(checks.Error(
            "OSCAR_ORDERCANCEL_PAYMENT_CHECK is not a function is_paid(order) -> bool.",
            id="ordercancel.E014"))
    spans = {**lifetimes, "OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE": reminder}
    for name, value in spans.items():
        if value is not None and (not isinstance(value, timedelta) or value <= timedelta(0)):
            messages.append(checks.Error(
                f"{name} is {value!r}: it must be a positive timedelta, or None (never).",
                id="ordercancel.E015"))
    active = any(isinstance(value, timedelta) for value in lifetimes.values())
    stuck = [status for status in statuses or () if status not in (cancellable or ())]
    if active and stuck:
        messages.append(checks.Warning(
            "Unpaid orders in " + ", ".join(repr(s) for s in stuck) + " are due to expire "
            "(OSCAR_ORDERCANCEL_EXPIRY_STATUSES), but the policy does not cancel orders in that "
            "status (OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES): the sweep would report them failed.",
            hint="Add the status to OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES, or remove it from "
                 "OSCAR_ORDERCANCEL_EXPIRY_STATUSES.",
            id="ordercancel.W010"))
    return messages


@checks.register("oscar_ordercancel")
def check_expiry(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The expiry settings can work (E014, E015, W010); no query."""
    by_source = get_setting("OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE") or {}
    lifetimes = {"OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER": get_setting(
        "OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER")}
    if isinstance(by_source, dict):
        lifetimes.update({f"OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE[{code!r}]": value
                          for code, value in by_source.items()})
    return expiry_messages(
        statuses=get_setting("OSCAR_ORDERCANCEL_EXPIRY_STATUSES"),
        cancellable=get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES"),
        lifetimes=lifetimes, payment_check=get_setting("OSCAR_ORDERCANCEL_PAYMENT_CHECK"),
        reminder=get_setting("OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE"))
