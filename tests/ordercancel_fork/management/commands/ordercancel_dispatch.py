from oscar_ordercancel.management.commands.ordercancel_dispatch import Command  # noqa: F401
