"""The one place for the limits of what people type: text lengths and the largest whole number.

Every surface takes its limits from here (the customer and dashboard forms, the
REST API, CSV / XLSX batches, ``manage.py cancel_orders``) and ``services.cancel_order``
enforces them itself, so a value is refused everywhere with the same message.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

#: A customer's comment on a cancellation.
COMMENT = 1000
#: A staff note on a cancellation (also a batch's default note, and the note added on confirming).
NOTE = 2000
#: Why staff declined a requested cancellation (the customer is told).
REJECTION_REASON = 1000
#: Why staff stopped retrying a cancel job.
GIVE_UP_REASON = 500
#: An order number, as Oscar stores it.
ORDER_NUMBER = 128
#: A partner SKU, as Oscar stores it.
SKU = 128

#: The largest id or quantity accepted as input (a 32-bit signed integer, as Django's
#: ``AutoField`` and ``PositiveIntegerField``): anything larger is refused, never sent to the database.
MAX_INTEGER = 2**31 - 1

#: ``field: (limit, what the message calls it)``.
FIELDS = {
    "comment": (COMMENT, _("The comment")),
    "note": (NOTE, _("The note")),
    "rejection_reason": (REJECTION_REASON, _("The reason")),
    "give_up_reason": (GIVE_UP_REASON, _("The reason")),
    "order_number": (ORDER_NUMBER, _("The order number")),
    "sku": (SKU, _("The SKU")),
}

TOO_LONG = _("%(field)s can be at most %(limit)s characters long; this one has %(length)s.")


def limit(field: str) -> int:
    """The most characters ``field`` may hold."""
    return FIELDS[field][0]


def too_long_message(field: str, length: int) -> str:
    """The one message for a value of ``field`` that is ``length`` characters long, over its limit."""
    most, label = FIELDS[field]
    return str(TOO_LONG) % {"field": label, "limit": number_format(most, force_grouping=True),
                            "length": number_format(length, force_grouping=True)}


def too_long_code(field: str) -> str:
    """The refusal code of a too long ``field``: ``comment_too_long``, ``note_too_long`` …"""
    return f"{field}_too_long"


def check_length(field: str, value: str | None) -> None:
    """Raise ``CancellationError`` (code ``<field>_too_long``) when ``value`` is over the limit."""
    length = len(value or "")
    if length > limit(field):
        from oscar_ordercancel.exceptions import CancellationError

        raise CancellationError(too_long_code(field), too_long_message(field, length),
                                {"field": field, "limit": limit(field), "length": length})


@deconstructible
class LengthLimit:
    """A form field validator: the field's limit, with the message every surface gives."""

    code = "max_length"

    def __init__(self, field: str) -> None:
        self.field = field

    def __call__(self, value) -> None:
        """Refuse a value over the limit."""
        length = len(value or "")
        if length > limit(self.field):
            raise ValidationError(too_long_message(self.field, length), code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LengthLimit) and other.field == self.field


def widget_attrs(field: str, **attrs) -> dict:
    """Widget attributes with the browser-side ``maxlength`` of ``field``."""
    return {"maxlength": limit(field), **attrs}
