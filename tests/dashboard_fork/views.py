"""The fork replaces one view and keeps the others."""

from oscar_ordercancel.dashboard.views import StatusMappingListView as BaseListView


class StatusMappingListView(BaseListView):
    template_name = "oscar_ordercancel/dashboard/mapping_list.html"
