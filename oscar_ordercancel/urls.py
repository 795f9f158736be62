"""Mount with ``path("", include("oscar_ordercancel.urls"))`` before Oscar's own URLs.

Customer pages under ``accounts/`` and Oscar's guest order-status page, and,
when django-oscar-api is installed, the REST endpoints under ``api/``.
"""

from django.apps import apps
from django.urls import include, path, re_path

from oscar_ordercancel.customer import views

app_name = "oscar_ordercancel"

urlpatterns = [
    path("accounts/orders/<str:order_number>/cancel/", views.OrderCancelView.as_view(),
         name="order-cancel"),
    re_path(r"^order-status/(?P<order_number>[\w-]*)/(?P<hash>[A-z0-9-_=:]+)/cancel/$",
            views.GuestOrderCancelView.as_view(), name="anon-order-cancel"),
]

if apps.is_installed("oscarapi"):
    urlpatterns.append(path("api/", include("oscar_ordercancel.api.urls")))
