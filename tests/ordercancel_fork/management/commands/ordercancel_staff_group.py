from oscar_ordercancel.management.commands.ordercancel_staff_group import Command  # noqa: F401
