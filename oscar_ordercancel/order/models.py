"""Oscar's order models, with ``CancellableOrderMixin`` on Order."""

from oscar.apps.order.abstract_models import AbstractOrder
from oscar.core.loading import is_model_registered

from oscar_ordercancel.order.mixins import CancellableOrderMixin

if not is_model_registered("order", "Order"):

    class Order(CancellableOrderMixin, AbstractOrder):
        pass


from oscar.apps.order.models import *  # noqa: E402,F401,F403
