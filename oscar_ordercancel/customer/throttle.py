"""Failed order look-ups of the withdrawal page, counted per client address and per order number.

Counts live in Django's cache (``OSCAR_ORDERCANCEL_WITHDRAWAL_CACHE``, default the
``default`` cache) for ``OSCAR_ORDERCANCEL_WITHDRAWAL_LOOKUP_WINDOW`` seconds; past
``OSCAR_ORDERCANCEL_WITHDRAWAL_LOOKUP_LIMIT`` failures the page answers 429 before it
looks anything up. Keys hold salted hashes, never the address or number itself.
"""

from __future__ import annotations

from django.core.cache import caches
from django.utils.crypto import salted_hmac

from oscar_ordercancel.conf import get_setting

SALT = "oscar_ordercancel.withdrawal.lookups"


def _cache():
    return caches[get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_CACHE")]


def _keys(address: str, order_number: str) -> list[str]:
    keys = []
    for kind, value in (("addr", address), ("order", order_number.upper())):
        if value:
            digest = salted_hmac(SALT, f"{kind}:{value}", algorithm="sha256").hexdigest()[:32]
            keys.append(f"ordercancel:withdraw:{kind}:{digest}")
    return keys


def client_address(request) -> str:
    """The address the request came from (``REMOTE_ADDR``; a proxy must set it right)."""
    return request.META.get("REMOTE_ADDR", "")


def is_limited(address: str, order_number: str = "") -> bool:
    """Whether the address or the order number has used up its failed look-ups."""
    limit = get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_LOOKUP_LIMIT")
    counts = _cache().get_many(_keys(address, order_number))
    return any(count >= limit for count in counts.values())


def record_failure(address: str, order_number: str = "") -> None:
    """Count one failed look-up for the address and the order number."""
    cache = _cache()
    window = get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_LOOKUP_WINDOW")
    for key in _keys(address, order_number):
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)
