"""``batch_urls()``: the batch pages, for the own dashboard app's ``get_urls()``.

Add ``*batch_urls()`` to ``OrderCancelDashboardConfig.get_urls()``; the names are
then reversed as ``ordercancel_dashboard:ordercancel-batch-<page>``.
"""

from __future__ import annotations

from django.urls import path

from oscar_ordercancel.dashboard.batches import views


def batch_urls() -> list:
    """The ``path()`` entries of the batch pages (names prefixed ``ordercancel-batch-``)."""
    return [
        path("batches/", views.BatchListView.as_view(), name="ordercancel-batch-list"),
        path("batches/upload/", views.BatchUploadView.as_view(), name="ordercancel-batch-upload"),
        path("batches/template/<str:kind>.csv", views.BatchTemplateView.as_view(),
             name="ordercancel-batch-template"),
        path("batches/<int:pk>/preview/", views.BatchDetailView.as_view(),
             name="ordercancel-batch-preview"),
        path("batches/<int:pk>/start/", views.BatchStartView.as_view(), name="ordercancel-batch-start"),
        path("batches/<int:pk>/progress/", views.BatchProgressView.as_view(),
             name="ordercancel-batch-progress"),
        path("batches/<int:pk>/", views.BatchDetailView.as_view(), name="ordercancel-batch-detail"),
        path("batches/<int:pk>/errors.csv", views.BatchErrorsView.as_view(),
             name="ordercancel-batch-errors"),
    ]
