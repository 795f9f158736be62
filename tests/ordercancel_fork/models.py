from django.db import models
from django.utils.translation import gettext_lazy as _

from oscar_ordercancel.abstract_models import AbstractOrderCancellation


class OrderCancellation(AbstractOrderCancellation):
    erp_reference = models.CharField(_("ERP reference"), max_length=64, blank=True)


from oscar_ordercancel.models import *  # noqa: E402,F401,F403
