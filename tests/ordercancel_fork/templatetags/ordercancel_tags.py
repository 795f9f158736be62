from oscar_ordercancel.templatetags.ordercancel_tags import register  # noqa: F401
