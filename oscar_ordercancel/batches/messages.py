"""The messages of batch rows, written when they are shown, in the reader's language.

A row stores a code and its parameters (``preview_code`` / ``preview_params``,
``code`` / ``params``); :func:`preview_message` and :func:`result_message`
turn them into words each time a page, an error CSV or the command shows them.
The message stored with the row is only used for rows written before the
parameters were kept, and for messages made elsewhere that only exist as text
(a veto receiver's own words, for example).

Row messages talk about the file: a value is named by its column (``force``,
``quantity``), never by a dashboard control.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.formats import number_format
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oscar_ordercancel.limits import FIELDS, too_long_message
from oscar_ordercancel.policy import MESSAGES, message_for

#: The row codes of the batch itself (the policy's and the engine's codes come on top).
ROW_MESSAGES = {
    "missing_order_number": _("The order number is missing."),
    "missing_sku": _("The SKU is missing."),
    "missing_quantity": _("The quantity is missing."),
    "unknown_order": _("There is no order with this number."),
    "order_gone": _("The order no longer exists."),
    "sku_not_in_order": _("SKU “%(sku)s” is not on order %(number)s."),
    "invalid_quantity": _("The quantity must be a whole number of at least 1, not “%(value)s”."),
    "quantity_too_large": _("The quantity %(value)s is too large: at most %(max)s can be cancelled "
                            "from a line."),
    "invalid_reason": _("“%(value)s” is not a cancellation reason; use one of: %(codes)s."),
    "invalid_flag": _("%(column)s must be yes or no, not “%(value)s”."),
    "paid_needs_force": _("Payment has been taken: to cancel anyway, set the force column of this "
                          "row to yes."),
    "order_partly_done": _("Some items of this order have already shipped or are being processed; "
                           "cancel the items that are left with a line-items file."),
}
#: The longest value quoted back in a message (the whole value stays in the error CSV).
QUOTED = 60


def short(value: object) -> str:
    """``value`` as text, cut to :data:`QUOTED` characters with an ellipsis."""
    return Truncator(str(value)).chars(QUOTED)


def _number(value: int) -> str:
    return number_format(value, force_grouping=True)


def _will_cancel(params: Mapping) -> str:
    if params.get("full"):
        return str(_("Cancels the whole order."))
    items = ", ".join(f"{qty} × {title}" for qty, title in params.get("items", ()))
    return str(_("Cancels %(items)s.")) % {"items": items}


def _cancelled(params: Mapping) -> str:
    if params.get("full"):
        return str(_("Cancelled the whole order."))
    return str(_("Cancelled the requested quantity."))


def _why(params: Mapping) -> str:
    """What keeps the rest of a SKU from being cancelled: shipped, cancelled, being processed."""
    reasons = []
    if params.get("shipped"):
        reasons.append(ngettext("%(count)d has shipped", "%(count)d have shipped", params["shipped"])
                       % {"count": params["shipped"]})
    if params.get("cancelled"):
        reasons.append(ngettext("%(count)d is already cancelled", "%(count)d are already cancelled",
                                params["cancelled"]) % {"count": params["cancelled"]})
    for status in params.get("processing") or ():
        reasons.append(_("the line is being processed (%(status)s)") % {"status": status})
    return ", ".join(str(reason) for reason in reasons)


def _too_many(params: Mapping) -> str:
    """A line-item row asking for more of a SKU than the order has, or than is left of it."""
    if "sku" not in params:  # a whole-order row: some lines went ahead
        return str(ROW_MESSAGES["order_partly_done"])
    available, ordered, why = params.get("available") or 0, params.get("ordered"), _why(params)
    values = {"asked": _number(params["asked"]), "sku": short(params["sku"]),
              "available": _number(available), "why": why,
              "ordered": _number(ordered) if ordered is not None else ""}
    if ordered is not None and available >= ordered:
        text = _("The row asks for %(asked)s of SKU “%(sku)s”, but the order has only %(ordered)s.")
    elif not available and why:
        text = _("The row asks for %(asked)s of SKU “%(sku)s”, but none of it can be cancelled "
                 "any more: %(why)s.")
    elif not available:
        text = _("The row asks for %(asked)s of SKU “%(sku)s”, but none of it can be cancelled "
                 "any more.")
    elif ordered is not None and why:
        text = _("The row asks for %(asked)s of SKU “%(sku)s”, but only %(available)s of the "
                 "%(ordered)s ordered can still be cancelled: %(why)s.")
    else:
        text = _("The row asks for %(asked)s of SKU “%(sku)s”, but only %(available)s can still "
                 "be cancelled.")
    return str(text) % values


def _own(code: str, params: Mapping) -> str:
    values = dict(params)
    for key in ("value", "sku", "column"):
        if key in values:
            values[key] = short(values[key])
    if "codes" in values:
        values["codes"] = ", ".join(values["codes"])
    if "max" in values:
        values["max"] = _number(values["max"])
    return str(ROW_MESSAGES[code]) % values


def _duplicate(params: Mapping) -> str:
    if params.get("sku"):
        return str(_("Same order and SKU as row %(row)d: the row is ignored.")) % {"row": params["row"]}
    return str(_("Same order as row %(row)d: the row is ignored.")) % {"row": params["row"]}


def render(code: str, params: Mapping | None, stored: str = "") -> str:
    """The message of ``code`` with ``params`` in the active language; ``stored`` when unknown."""
    if params is None:  # a row of an older version: only its text was kept
        return stored
    try:
        if code == "will_cancel":
            return _will_cancel(params)
        if code == "ok":
            return _cancelled(params)
        if code == "duplicate_row":
            return _duplicate(params)
        if code == "too_long" and params.get("field") in FIELDS:
            return too_long_message(params["field"], params["length"])
        if code == "quantity_not_cancellable":
            return _too_many(params)
        if code == "unknown_order" and params.get("gone"):
            return str(ROW_MESSAGES["order_gone"])
        if code in ROW_MESSAGES:
            return _own(code, params)
        if params.get("message") in MESSAGES:
            return message_for(params["message"])
    except (KeyError, TypeError, ValueError):  # parameters of another version: keep the text
        return stored
    return stored


def policy_params(code: str, message: str, details: Mapping | None = None) -> dict:
    """The parameters that let :func:`render` write a policy or engine refusal again.

    A message that is one of the policy's messages is kept by its key; any other
    message (a veto receiver's words) is kept only as text.
    """
    params = dict(details or {})
    if code in MESSAGES and str(MESSAGES[code]) == message:
        params["message"] = code
    else:
        for key, text in MESSAGES.items():
            if str(text) == message:
                params["message"] = key
                break
    return params


def preview_message(row) -> str:
    """What the preview says about ``row``."""
    code = row.preview_code or ("will_cancel" if row.preview_status == "will_cancel" else "")
    return render(code, row.preview_params, row.preview_message)


def result_message(row) -> str:
    """What the run says about ``row`` (the preview's words while it waits)."""
    if not row.status:
        return preview_message(row)
    return render(row.code, row.params, row.message)
