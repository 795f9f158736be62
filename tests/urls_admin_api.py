"""The sandbox's URLs plus django-oscar-api's admin endpoints (which the sandbox blocks)."""

from django.urls import include, path
from oscarapi.urls import admin_urlpatterns

from sandbox.urls import urlpatterns as sandbox_urlpatterns

urlpatterns = [path("api/admin/", include(admin_urlpatterns)), *sandbox_urlpatterns]
