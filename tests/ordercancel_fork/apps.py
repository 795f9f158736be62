from oscar_ordercancel import apps


class OrderCancelConfig(apps.OrderCancelConfig):
    name = "tests.ordercancel_fork"
