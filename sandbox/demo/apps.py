"""The sandbox's demo app: only the ``load_demo_data`` management command."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    name = "sandbox.demo"
    label = "demo"
    verbose_name = _("Sandbox demo data")
    default_auto_field = "django.db.models.AutoField"
