from oscar_ordercancel.templatetags.ordercancel_dashboard_tags import register  # noqa: F401
