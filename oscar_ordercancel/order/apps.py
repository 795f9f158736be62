"""App config of the order fork: same label as Oscar's order app."""

import oscar.apps.order.apps as apps


class OrderConfig(apps.OrderConfig):
    """Use in place of ``oscar.apps.order.apps.OrderConfig``."""

    name = "oscar_ordercancel.order"
