"""Serializers of the cancellation endpoints, and the order fields added to django-oscar-api.

Input serializers only check the *shape* of a request; whether a reason, a comment,
a line or a quantity is acceptable is decided by ``services.cancel_order`` (and the
policy behind it), so no rule is written twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import IntegerField, Manager, OuterRef, Prefetch, QuerySet, Subquery
from django.http import QueryDict
from django.urls import NoReverseMatch, reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model
from rest_framework import serializers

from oscar_ordercancel import limits, policy
from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.conf import reason_choices
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.limits import MAX_INTEGER
from oscar_ordercancel.statuses import status_display

OrderCancellation = get_model("oscar_ordercancel", "OrderCancellation")
OrderCancellationLine = get_model("oscar_ordercancel", "OrderCancellationLine")


def cancellation_queryset() -> QuerySet:
    """Cancellations with everything their serializer reads (order, lines and their titles)."""
    return OrderCancellation.objects.select_related("order").prefetch_related(
        Prefetch("lines", queryset=OrderCancellationLine.objects.select_related("line")))


def latest_cancellations(orders: Iterable) -> dict[int, object]:
    """The newest cancellation of each of ``orders``, keyed by order id, in two queries."""
    orders = list(orders)
    if not orders:
        return {}
    newest = (OrderCancellation.objects.filter(order_id=OuterRef("order_id"))
              .order_by("-date_created", "-pk").values("pk")[:1])
    found = {
        cancellation.order_id: cancellation
        for cancellation in cancellation_queryset().select_related(None)
        .filter(order_id__in=[order.pk for order in orders], pk=Subquery(newest))
    }
    for order in orders:  # the order is at hand: no query for its number and status
        if order.pk in found:
            found[order.pk].order = order
    return found


# --------------------------------------------------------------------------- input


#: Every integer the endpoints read (line ids, quantities, ``on_behalf_of``) is a JSON
#: integer: a string (``"1"``), a fraction or a float (``1.0``), ``true`` / ``false``,
#: ``null`` or a list is refused with ``400 invalid_input``. In a form-encoded or
#: multipart body, where every value is text, the integer is written in digits.
NOT_WHOLE = _("Must be a whole number, sent as a JSON integer (such as 2, not \"2\", 2.0 or true).")
WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def _form_body(field: serializers.Field) -> bool:
    """Whether the request body was a form (every value is text) rather than JSON."""
    return isinstance(getattr(field.root, "initial_data", None), QueryDict)


def whole_number(field: serializers.Field, data: object) -> int:
    """``data`` as an ``int``: a JSON integer, or digits in a form body; else ``field`` fails."""
    if isinstance(data, bool) or not isinstance(data, int | str):
        field.fail("not_whole")
    if isinstance(data, str):
        if not (_form_body(field) and WHOLE_NUMBER.fullmatch(data.strip())):
            field.fail("not_whole")
        try:
            return int(data)
        except ValueError:  # thousands of digits: no id or quantity of any shop
            field.fail("max_value", max_value=MAX_INTEGER)
    return data


class WholeNumberField(serializers.IntegerField):
    """An integer field that takes JSON integers only (digits in a form body)."""

    default_error_messages = {"not_whole": NOT_WHOLE}

    def to_internal_value(self, data: object) -> int:
        """The integer, or ``invalid_input``."""
        return super().to_internal_value(whole_number(self, data))


class UserIdField(serializers.PrimaryKeyRelatedField):
    """A user id: a JSON integer like every other integer (when the user model's key is one)."""

    default_error_messages = {"not_whole": NOT_WHOLE}
    #: The largest key a database integer column holds: a larger id is unknown, never a query.
    max_id = 2**63 - 1

    def to_internal_value(self, data: object) -> object:
        """The user, or ``invalid_input``."""
        if isinstance(self.get_queryset().model._meta.pk, IntegerField):
            data = whole_number(self, data)
            if not 1 <= data <= self.max_id:
                self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class CancelLineSerializer(serializers.Serializer):
    """One ``{"line": <line id>, "quantity": n}`` item of a partial cancellation."""

    line = WholeNumberField(label=_("Order line"), min_value=1, max_value=MAX_INTEGER,
                            help_text=_("The id of the order line."))
    # At least 1, checked item by item in CancelRequestSerializer.validate so that
    # the answer keeps the policy's code, invalid_quantity.
    quantity = WholeNumberField(label=_("Quantity"), max_value=MAX_INTEGER,
                                help_text=_("How many to cancel, at least 1."))


class CancelRequestSerializer(serializers.Serializer):
    """The body of a customer's cancellation: ``reason``, ``comment`` and optional ``lines``."""

    #: Reason recorded when the request names none (used only if it is a configured code).
    default_reason = "customer"

    reason = serializers.CharField(
        label=_("Reason"), required=False, allow_blank=True,
        help_text=_("One of the configured cancellation reason codes."),
    )
    # Lengths are checked by services.cancel_order (``oscar_ordercancel.limits``): the
    # same limit and message on every surface, code comment_too_long / note_too_long.
    comment = serializers.CharField(
        label=_("Comment"), required=False, allow_blank=True, default="",
        help_text=format_lazy(_("A comment for the shop, at most {limit} characters."),
                              limit=limits.COMMENT),
    )
    # A ListField (not ``many=True``): its items may not be null, and a form field
    # ``lines=1`` is a list of one invalid item, never "lines left out".
    lines = serializers.ListField(
        child=CancelLineSerializer(), label=_("Lines"), required=False, allow_empty=False,
        help_text=_("A JSON list of {line, quantity} to cancel; leave it out to cancel "
                    "the whole order."),
    )

    def validate(self, attrs: dict) -> dict:
        """Refuse a body that names ``lines`` in a form that could not be read as a list."""
        data = self.initial_data
        named = any(str(key).startswith("lines") for key in data)
        if named and "lines" not in attrs:
            raise serializers.ValidationError({"lines": [_(
                "Lines must be a list of {line, quantity} items (send JSON); leave lines "
                "out to cancel the whole order.")]})
        for index, item in enumerate(attrs.get("lines") or ()):
            if item["quantity"] < 1:  # before repeated lines are added up
                raise CancellationError("invalid_quantity", params={"item": index})
        return attrs

    def get_reason(self) -> str:
        """The reason sent, else the default reason when the shop offers it, else none."""
        if "reason" in self.validated_data:
            return self.validated_data["reason"]
        codes = dict(reason_choices())
        return self.default_reason if self.default_reason in codes else ""

    def get_lines(self) -> dict[int, int] | None:
        """``{line id: quantity}`` for ``cancel_order``, quantities of a repeated line added up."""
        items = self.validated_data.get("lines")
        if items is None:
            return None
        lines: dict[int, int] = {}
        for item in items:
            lines[item["line"]] = lines.get(item["line"], 0) + item["quantity"]
        return lines

    def cancel_kwargs(self) -> dict:
        """The keyword arguments of ``services.cancel_order`` this request asks for."""
        return {
            "reason": self.get_reason(),
            "comment": self.validated_data.get("comment", ""),
            "lines": self.get_lines(),
        }


class AdminCancelRequestSerializer(CancelRequestSerializer):
    """The body of a staff cancellation: the customer's fields plus force, refund, note, on behalf of."""

    default_reason = "staff"

    note = serializers.CharField(
        label=_("Staff note"), required=False, allow_blank=True, default="",
        help_text=format_lazy(_("Stored on the cancellation and added to the order note; at most "
                                "{limit} characters."), limit=limits.NOTE),
    )
    force = serializers.BooleanField(
        label=_("Force"), required=False, default=False,
        help_text=_("Cancel although the order has been paid."),
    )
    refund = serializers.BooleanField(
        label=_("Refund"), required=False, default=False,
        help_text=_("Refund the money taken for what is cancelled (needs force for a paid order)."),
    )
    on_behalf_of = UserIdField(
        label=_("On behalf of"), queryset=get_user_model().objects.all(), required=False,
        allow_null=True, default=None, help_text=_("The id of the user the cancellation is made for."),
    )
    notify_customer = serializers.BooleanField(
        label=_("Notify the customer"), required=False, allow_null=True, default=None,
        help_text=_("Send the cancellation e-mail; leave out to follow the shop's setting."),
    )

    def cancel_kwargs(self) -> dict:
        """The customer's arguments plus the staff-only ones."""
        data = self.validated_data
        return {
            **super().cancel_kwargs(),
            "note": data.get("note", ""),
            "force": data.get("force", False),
            "refund": data.get("refund", False),
            "on_behalf_of": data.get("on_behalf_of"),
            "notify_customer": data.get("notify_customer"),
        }


# -------------------------------------------------------------------------- output


class CancellationLineSerializer(serializers.ModelSerializer):
    """A cancelled quantity of one order line."""

    title = serializers.CharField(source="line.title", read_only=True, label=_("Title"))

    class Meta:
        model = OrderCancellationLine
        fields = ("line", "title", "quantity", "stock_released")
        read_only_fields = fields


class CancellationSerializer(serializers.ModelSerializer):
    """A cancellation as its customer may see it (no staff note, no staff identities, no
    staff-only reason)."""

    #: URL name of the order resource linked as ``order_url`` (django-oscar-api's).
    order_url_name = "order-detail"

    order_number = serializers.CharField(source="order.number", read_only=True, label=_("Order number"))
    order_url = serializers.SerializerMethodField(label=_("Order URL"))
    order_status = serializers.CharField(source="order.status", read_only=True,
                                         label=_("Order status"))
    order_status_display = serializers.SerializerMethodField(
        label=_("Order status display name"),
        help_text=_("What people read for the order status: its mapping's display name, "
                    "else the status."))
    state_label = serializers.CharField(source="get_state_display", read_only=True,
                                        label=_("State label"))
    # Customers read a reason only when it is one they may choose themselves
    # (OSCAR_ORDERCANCEL_CUSTOMER_REASONS): a staff-only reason (fraud …) is "".
    reason = serializers.SerializerMethodField(
        label=_("Reason"), help_text=_("The reason code, if it is one customers may choose; "
                                       "else empty."))
    reason_label = serializers.CharField(source="customer_reason_label", read_only=True,
                                         label=_("Reason label"))
    channel_label = serializers.CharField(source="get_channel_display", read_only=True,
                                          label=_("Channel label"))
    lines = CancellationLineSerializer(many=True, read_only=True, label=_("Lines"))

    class Meta:
        model = OrderCancellation
        fields = (
            "id", "order", "order_number", "order_url", "order_status", "order_status_display",
            "state", "state_label",
            "is_full", "reason", "reason_label", "comment", "channel", "channel_label", "forced",
            "refund_amount", "void_amount", "rejection_reason", "date_created", "date_completed",
            "lines",
        )
        read_only_fields = fields

    def get_reason(self, obj: object) -> str:
        """The reason code when customers may read it, else ""."""
        return obj.reason if obj.customer_reason_label else ""

    def get_order_status_display(self, obj: object) -> str:
        """The order status's display name (mappings read once per request)."""
        return status_display(obj.order.status)

    def get_order_url(self, obj: object) -> str | None:
        """The order's django-oscar-api URL, or None when that API is not mounted."""
        try:
            url = reverse(self.order_url_name, kwargs={"pk": obj.order_id})
        except NoReverseMatch:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class AdminCancellationSerializer(CancellationSerializer):
    """A cancellation as staff see it: every reason, the note, who cancelled and for whom."""

    order_url_name = "admin-order-detail"

    reason = serializers.CharField(read_only=True, label=_("Reason"))
    reason_label = serializers.CharField(read_only=True, label=_("Reason label"))

    class Meta(CancellationSerializer.Meta):
        fields = CancellationSerializer.Meta.fields + (
            "note", "user", "on_behalf_of", "refund_requested", "previous_status",
            "previous_status_display",
        )
        read_only_fields = fields

    previous_status_display = serializers.SerializerMethodField(
        label=_("Previous status display name"),
        help_text=_("The display name of the status the order had before the cancellation."))

    def get_previous_status_display(self, obj: object) -> str:
        """The previous status's display name, else the status."""
        return status_display(obj.previous_status)


# ------------------------------------------------------ django-oscar-api order fields


class OrderCancellationFieldsMixin(serializers.Serializer):
    """Adds ``status_display``, ``can_cancel`` and ``cancellation`` to an order serializer.

    Mix it in front of django-oscar-api's ``OrderSerializer`` (or a shop's own) and add
    the names to ``Meta.fields`` (``order_fields_with_cancellation`` does). In a list, the
    decisions and latest cancellations of all orders are loaded at once (a constant number
    of queries per page).
    """

    #: Channel whose rules ``can_cancel`` answers for.
    ordercancel_channel: str = Channel.API
    #: Serializer of the nested ``cancellation``.
    cancellation_serializer_class: type[serializers.Serializer] = CancellationSerializer

    status_display = serializers.SerializerMethodField(
        method_name="get_ordercancel_status_display", label=_("Status display name"),
        help_text=_("What people read for the status: its mapping's display name, else the "
                    "status (which stays in status)."))
    can_cancel = serializers.SerializerMethodField(
        label=_("Can cancel"), help_text=_("Whether the requesting user may cancel the order now."))
    cancellation = serializers.SerializerMethodField(
        label=_("Cancellation"), help_text=_("The order's latest cancellation, or null."))

    def _ordercancel_user(self) -> object | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return user if getattr(user, "is_authenticated", False) else None

    def _ordercancel_batch(self) -> dict | None:
        """Decisions and latest cancellations of every order of the enclosing list, loaded once."""
        parent = self.parent
        if not isinstance(parent, serializers.ListSerializer) or parent.instance is None:
            return None
        batch = getattr(parent, "_ordercancel_batch", None)
        if batch is None:
            instance = parent.instance
            orders = list(instance.all() if isinstance(instance, Manager) else instance)
            user = self._ordercancel_user()
            batch = {
                "ids": {order.pk for order in orders},
                "decisions": (policy.decisions_for(orders, user, channel=self.ordercancel_channel)
                              if user is not None and orders else {}),
                "latest": latest_cancellations(orders),
            }
            parent._ordercancel_batch = batch
        return batch

    def get_ordercancel_status_display(self, obj: object) -> str:
        """The status's display name (the mappings are read once per request)."""
        return status_display(obj.status)

    def get_can_cancel(self, obj: object) -> bool:
        """Whether the requesting user may cancel the whole order now, on this channel."""
        user = self._ordercancel_user()
        if user is None:
            return False
        batch = self._ordercancel_batch()
        if batch is not None and obj.pk in batch["ids"]:
            return bool(batch["decisions"].get(obj.pk))
        return bool(policy.can_cancel(obj, user, channel=self.ordercancel_channel))

    def get_cancellation(self, obj: object) -> dict | None:
        """The order's latest cancellation, serialized, or None."""
        batch = self._ordercancel_batch()
        if batch is not None and obj.pk in batch["ids"]:
            latest = batch["latest"].get(obj.pk)
        else:
            latest = latest_cancellations([obj]).get(obj.pk)
        if latest is None:
            return None
        return self.cancellation_serializer_class(latest, context=self.context).data


def order_fields_with_cancellation(fields: Iterable[str]) -> tuple[str, ...]:
    """``fields`` plus ``status_display`` (next to ``status``), ``can_cancel`` and
    ``cancellation`` (once each)."""
    fields = list(fields)
    if "status_display" not in fields:
        at = fields.index("status") + 1 if "status" in fields else len(fields)
        fields.insert(at, "status_display")
    return tuple(fields) + tuple(name for name in ("can_cancel", "cancellation")
                                 if name not in fields)


class WithdrawRequestSerializer(CancelRequestSerializer):
    """The body of a withdrawal: optional ``lines`` and ``name`` (default: the account's name)."""

    reason = None
    comment = None
    name = serializers.CharField(
        label=_("Name"), required=False, allow_blank=True, max_length=255,
        help_text=_("Who withdraws; defaults to the name on the account."),
    )
    lines = serializers.ListField(
        child=CancelLineSerializer(), label=_("Lines"), required=False, allow_empty=False,
        help_text=_("A JSON list of {line, quantity} to withdraw from; leave it out to withdraw "
                    "from everything that may still be withdrawn."),
    )

    def withdraw_kwargs(self, user) -> dict:
        """The keyword arguments of ``services.declare_withdrawal`` this request asks for."""
        name = self.validated_data.get("name") or user.get_full_name()
        return {"name": name, "email": user.email, "lines": self.get_lines(), "user": user}


class WithdrawalLineSerializer(serializers.Serializer):
    """One withdrawn line: what was declared and what became of it."""

    line = serializers.IntegerField(source="line_id")
    title = serializers.CharField(source="line.title")
    quantity = serializers.IntegerField()
    outcome = serializers.CharField()


class WithdrawalSerializer(serializers.Serializer):
    """A withdrawal declaration as its declarant reads it."""

    reference = serializers.CharField()
    order = serializers.CharField(source="order.number")
    name = serializers.CharField()
    email = serializers.CharField()
    channel = serializers.CharField()
    state = serializers.CharField()
    date_declared = serializers.DateTimeField()
    refund_due_by = serializers.DateTimeField(allow_null=True)
    content_digest = serializers.CharField()
    refunded = serializers.SerializerMethodField()
    lines = WithdrawalLineSerializer(many=True, source="lines.all")

    def get_refunded(self, declaration) -> str:
        """What was refunded at once (the lines cancelled at once), as a decimal string."""
        cancellation = declaration.cancellation
        return f"{cancellation.refund_amount:.2f}" if cancellation else "0.00"
