"""Test-only URLconf: the sandbox shop plus the batch pages under ``ordercancel_dashboard``.

The own dashboard app adds ``*batch_urls()`` to its ``get_urls()``; until it is
installed here, the tests mount the pages the same way.
"""

from django.urls import include, path

from oscar_ordercancel.dashboard.batches.urls import batch_urls
from sandbox.urls import urlpatterns as shop_urlpatterns

urlpatterns = [
    path("dashboard/ordercancel/", include((batch_urls(), "ordercancel_dashboard"))),
    *shop_urlpatterns,
]
