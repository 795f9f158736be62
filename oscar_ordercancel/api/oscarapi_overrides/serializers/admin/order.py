"""django-oscar-api's ``AdminOrderSerializer``: cancellation fields seen with staff rules."""

from oscarapi.serializers.admin.order import AdminOrderSerializer as CoreAdminOrderSerializer

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.api.serializers import (
    AdminCancellationSerializer,
    OrderCancellationFieldsMixin,
    order_fields_with_cancellation,
)

__all__ = ["AdminOrderSerializer"]

# oscarapi's AdminOrderSerializer already has the fields when it extends our OrderSerializer
# (the checkout override is active too); add the mixin only when it does not.
_BASES = ((CoreAdminOrderSerializer,) if issubclass(CoreAdminOrderSerializer, OrderCancellationFieldsMixin)
          else (OrderCancellationFieldsMixin, CoreAdminOrderSerializer))


class AdminOrderSerializer(*_BASES):
    """Any order for staff: ``can_cancel`` on the staff channel, the cancellation with its note."""

    ordercancel_channel = Channel.ADMIN_API
    cancellation_serializer_class = AdminCancellationSerializer

    class Meta(CoreAdminOrderSerializer.Meta):
        fields = order_fields_with_cancellation(CoreAdminOrderSerializer.Meta.fields)
