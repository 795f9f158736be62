from oscar_ordercancel.management.commands.cancel_orders import Command  # noqa: F401
