"""django-oscar-api's ``OrderSerializer`` with ``can_cancel`` and ``cancellation``."""

from oscarapi.serializers.checkout import OrderSerializer as CoreOrderSerializer

from oscar_ordercancel.api.serializers import (
    OrderCancellationFieldsMixin,
    order_fields_with_cancellation,
)

__all__ = ["OrderSerializer"]


class OrderSerializer(OrderCancellationFieldsMixin, CoreOrderSerializer):
    """The customer's order, with whether they may cancel it and its latest cancellation."""

    class Meta(CoreOrderSerializer.Meta):
        fields = order_fields_with_cancellation(CoreOrderSerializer.Meta.fields)
