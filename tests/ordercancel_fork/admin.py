from oscar_ordercancel.admin import *  # noqa: F401,F403
