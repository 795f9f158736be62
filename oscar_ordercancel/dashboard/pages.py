"""What every page of the own dashboard app shares: one name, and the breadcrumbs above it.

Imported by ``navigation`` from a shop's settings module: nothing here may read settings
or the database when imported.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

#: Dates and times in tables as Oscar's dashboard shows them: the active language's
#: DATETIME_FORMAT (what ``{{ order.date_placed }}`` prints on Oscar's order list).
OSCAR_DATETIME = "DATETIME_FORMAT"


class DashboardPageMixin:
    """Give a page one name, used as its ``<title>``, its heading and its last breadcrumb.

    Templates extend ``oscar_ordercancel/dashboard/layout.html``, which renders
    ``page_title`` in those three places and ``breadcrumb_parents`` (``(label, url)``
    pairs) between "Dashboard" and the page. A page in the "Cancellations" menu is titled
    as its menu entry (``dashboard.navigation.ENTRIES``).
    """

    page_title = ""
    #: ``(label, URL name)`` of the pages above this one (reversed without arguments).
    parent_pages: tuple[tuple[str, str], ...] = ()

    def get_page_title(self) -> str:
        """The page's name."""
        return self.page_title

    def get_breadcrumb_parents(self) -> list[tuple[str, str]]:
        """``(label, url)`` of the pages between "Dashboard" and this one."""
        return [(label, reverse(url_name)) for label, url_name in self.parent_pages]

    def get_context_data(self, **kwargs) -> dict:
        """Add ``page_title`` and ``breadcrumb_parents``."""
        context = super().get_context_data(**kwargs)
        context.setdefault("page_title", self.get_page_title())
        context.setdefault("breadcrumb_parents", self.get_breadcrumb_parents())
        return context


# The pages of the "Cancellations" menu: (name, URL name). The name is the menu entry's
# label (``navigation.ENTRIES``), the page's title, and its breadcrumb on the pages below it.
CANCEL_ORDERS = (_("Cancel orders"), "ordercancel_dashboard:ordercancel-batch-upload")
CANCEL_JOBS = (_("Cancel jobs"), "ordercancel_dashboard:ordercancel-job-list")
CSV_BATCHES = (_("CSV batches"), "ordercancel_dashboard:ordercancel-batch-list")
MAPPINGS = (_("Order status mappings"), "ordercancel_dashboard:ordercancel-mapping-list")
SETTINGS = (_("Cancellation settings"), "ordercancel_dashboard:ordercancel-settings")
WITHDRAWALS = (_("Withdrawals"), "ordercancel_dashboard:ordercancel-withdrawal-list")
REPORT = (_("Cancellation report"), "ordercancel_dashboard:ordercancel-cancellation-report")

#: The "Cancellations" menu's pages, in menu order.
MENU_PAGES = (CANCEL_ORDERS, CSV_BATCHES, CANCEL_JOBS, WITHDRAWALS, REPORT, MAPPINGS, SETTINGS)
