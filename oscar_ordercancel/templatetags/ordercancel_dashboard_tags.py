"""Template tags of the dashboard screens."""

from django import template

from oscar_ordercancel.conf import get_setting

register = template.Library()


@register.simple_tag
def ordercancel_processors_configured() -> bool:
    """Whether any cancel processor is configured (``OSCAR_ORDERCANCEL_PROCESSORS``)."""
    return bool(get_setting("OSCAR_ORDERCANCEL_PROCESSORS"))
