"""REST URLs, included under ``api/`` by ``oscar_ordercancel.urls`` when oscarapi is installed."""

from django.urls import path

from oscar_ordercancel.api import views

urlpatterns = [
    path("orders/<int:pk>/cancel/", views.OrderCancelView.as_view(), name="api-order-cancel"),
    path("orders/<int:pk>/cancellations/", views.OrderCancellationListView.as_view(),
         name="api-order-cancellations"),
    path("orders/<int:pk>/withdraw/", views.OrderWithdrawView.as_view(), name="api-order-withdraw"),
    path("admin/orders/<int:pk>/cancel/", views.AdminOrderCancelView.as_view(),
         name="api-admin-order-cancel"),
]
