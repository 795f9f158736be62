"""Mount with ``path("", include("oscar_ordercancel.urls"))`` before Oscar's own URLs.

Customer pages under ``accounts/``, next to Oscar's own, and the guest cancel page
under Oscar's guest order-status page (namespace ``oscar_ordercancel``); the
package's dashboard app under ``dashboard/ordercancel/`` (namespace
``ordercancel_dashboard``) when it is installed; and, when ``"oscarapi"`` is in
``INSTALLED_APPS`` (installing django-oscar-api is not enough), the REST endpoints
under ``api/``.
"""

from django.apps import apps
from django.urls import include, path, re_path

from oscar_ordercancel.customer import views, withdrawal

#: Oscar's guest order-status page, ``customer:anon-order``: ``accounts/`` (where Oscar
#: mounts its customer app) + ``order-status/<number>/<hash>/``, with Oscar's own pattern.
GUEST_ORDER = r"order-status/(?P<order_number>[\w-]*)/(?P<hash>[A-z0-9-_=:]+)/"

core_patterns = [
    # The EU withdrawal function (customer.withdrawal): 404 while it is disabled.
    path("withdraw/", withdrawal.WithdrawView.as_view(), name="withdraw"),
    path("withdraw/confirm/", withdrawal.WithdrawConfirmView.as_view(), name="withdraw-confirm"),
    path("withdraw/done/<str:token>/", withdrawal.WithdrawDoneView.as_view(), name="withdraw-done"),
    path("withdraw/done/<str:token>/receipt.pdf", withdrawal.WithdrawReceiptView.as_view(),
         name="withdraw-receipt"),
    path("accounts/orders/<str:order_number>/withdraw/", withdrawal.OrderWithdrawView.as_view(),
         name="order-withdraw"),
    path("accounts/orders/<str:order_number>/cancel/", views.OrderCancelView.as_view(),
         name="order-cancel"),
    re_path(rf"^accounts/{GUEST_ORDER}cancel/$", views.GuestOrderCancelView.as_view(),
            name="anon-order-cancel"),
    # Where the guest cancel page was in earlier releases: old links and open forms are redirected
    # (GET 301; POST 308, which browsers repeat as a POST to the new address).
    re_path(rf"^{GUEST_ORDER}cancel/$", views.MovedGuestOrderCancelView.as_view(),
            name="anon-order-cancel-moved"),
]

if apps.is_installed("oscarapi"):
    core_patterns.append(path("api/", include("oscar_ordercancel.api.urls")))

urlpatterns = [path("", include((core_patterns, "oscar_ordercancel")))]

try:  # by label, so that a shop's fork of the dashboard app is mounted too
    dashboard = apps.get_app_config("ordercancel_dashboard")
except LookupError:
    pass
else:
    urlpatterns.append(path("dashboard/ordercancel/", include(dashboard.urls[:2],
                                                              namespace=dashboard.namespace)))
