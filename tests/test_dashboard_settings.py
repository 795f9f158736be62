"""The package's own dashboard app: status mappings, settings per site, navigation, banner."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sites.models import Site
from django.urls import reverse
from oscar.core.loading import get_model
from oscar.defaults import OSCAR_DASHBOARD_NAVIGATION

from oscar_ordercancel.compat import GRANULAR_DASHBOARD_PERMISSIONS
from oscar_ordercancel.conf import effective_settings
from oscar_ordercancel.dashboard.navigation import ENTRIES, add_to_navigation
from oscar_ordercancel.models import CancellationSettings, OrderStatusMapping
from tests import factories

pytestmark = pytest.mark.django_db

MAPPING_PERMS = [f"oscar_ordercancel.{action}_orderstatusmapping"
                 for action in ("view", "add", "change", "delete")]
SETTINGS_PERMS = ["oscar_ordercancel.view_cancellationsettings",
                  "oscar_ordercancel.change_cancellationsettings"]

LIST = reverse("ordercancel_dashboard:ordercancel-mapping-list")
CREATE = reverse("ordercancel_dashboard:ordercancel-mapping-create")
SETTINGS = reverse("ordercancel_dashboard:ordercancel-settings")


def settings_url(site):
    return reverse("ordercancel_dashboard:ordercancel-settings-site", args=[site.pk])


def edit_url(mapping):
    return reverse("ordercancel_dashboard:ordercancel-mapping-update", args=[mapping.pk])


def delete_url(mapping):
    return reverse("ordercancel_dashboard:ordercancel-mapping-delete", args=[mapping.pk])


@pytest.fixture
def manager(db):
    """A staff member who manages mappings and settings (and nothing else)."""
    return factories.create_user("manager@example.com", is_staff=True,
                                 perms=MAPPING_PERMS + SETTINGS_PERMS)


@pytest.fixture
def mapping(db):
    return OrderStatusMapping.objects.create(status="Pending", display_name="Received",
                                             erp_status_code="ERP-10")


@pytest.fixture
def site(db):
    return Site.objects.get_current()


# -- mounting and navigation ------------------------------------------------------


def test_the_app_is_mounted_under_the_dashboard_by_the_core_urls():
    assert LIST == "/dashboard/ordercancel/status-mappings/"
    assert reverse("ordercancel_dashboard:ordercancel-order-resubmit",
                   args=["100001"]) == "/dashboard/ordercancel/orders/100001/resubmit/"
    assert reverse("oscar_ordercancel:order-cancel", args=["1"]) == "/accounts/orders/1/cancel/"


def _group_of(navigation, url_name):
    return next(item for item in navigation
                if any(c.get("url_name") == url_name for c in item.get("children", ())))


def test_add_to_navigation_adds_one_cancellations_menu_after_fulfilment_and_leaves_the_input_alone():
    before = repr(OSCAR_DASHBOARD_NAVIGATION)
    navigation = add_to_navigation(OSCAR_DASHBOARD_NAVIGATION)
    assert repr(OSCAR_DASHBOARD_NAVIGATION) == before
    fulfilment = _group_of(navigation, "dashboard:order-list")
    ours = navigation[navigation.index(fulfilment) + 1]
    assert str(ours["label"]) == "Cancellations" and ours["icon"] == "fas fa-ban" and ours["ordercancel"]
    assert [child["url_name"] for child in ours["children"]] == [e["url_name"] for e in ENTRIES]
    # nothing of ours anywhere else, and Oscar's menus as they were
    assert len(navigation) == len(OSCAR_DASHBOARD_NAVIGATION) + 1
    assert [item for item in navigation if item is not ours] == list(OSCAR_DASHBOARD_NAVIGATION)


def test_add_to_navigation_is_idempotent():
    once = add_to_navigation(OSCAR_DASHBOARD_NAVIGATION)
    assert add_to_navigation(once) == once


def test_add_to_navigation_leaves_a_page_where_the_shop_put_it():
    jobs = {"label": "ERP deliveries", "url_name": "ordercancel_dashboard:ordercancel-job-list"}
    shop_menu = [{"label": "Dashboard", "url_name": "dashboard:index"},
                 {"label": "Operations", "children": [jobs]}]
    navigation = add_to_navigation(shop_menu)
    assert navigation[1] == {"label": "Operations", "children": [jobs]}
    ours = navigation[-1]
    assert str(ours["label"]) == "Cancellations"
    assert [c["url_name"] for c in ours["children"]] == [
        e["url_name"] for e in ENTRIES if e["url_name"] != jobs["url_name"]]


def test_add_to_navigation_takes_more_entries():
    extra = {"label": "Reports", "url_name": "ordercancel_dashboard:ordercancel-report"}
    navigation = add_to_navigation([{"label": "Dashboard", "url_name": "dashboard:index"}],
                                   entries=[*ENTRIES, extra])
    assert str(navigation[-1]["label"]) == "Cancellations"
    assert navigation[-1]["children"][-1] == extra
    assert add_to_navigation(navigation, entries=[*ENTRIES, extra]) == navigation


def test_the_dashboard_menu_shows_the_entries(client, superuser):
    client.force_login(superuser)
    text = client.get(reverse("dashboard:index")).content.decode()
    assert LIST in text and SETTINGS in text
    assert "Order status mappings" in text and "Cancellation settings" in text


def test_the_menu_hides_the_entries_from_staff_without_permission(client):
    clerk = factories.create_user("clerk@example.com", is_staff=True, perms=["order.view_order"],
                                  order_pages=False)
    client.force_login(clerk)
    response = client.get(reverse("dashboard:index"))
    assert response.status_code == 200
    text = response.content.decode()
    if GRANULAR_DASHBOARD_PERMISSIONS:  # Oscar 4.2: view_order alone opens Oscar's Orders
        assert f'href="{reverse("dashboard:order-list")}"' in text  # the menu is there
    assert "/dashboard/ordercancel/" not in text  # but none of our pages
    assert "Cancellations" not in text  # nor an empty menu


def test_the_sandbox_navigation_uses_the_helper():
    names = [c.get("url_name") for item in django_settings.OSCAR_DASHBOARD_NAVIGATION
             for c in item.get("children", ())]
    assert all(entry["url_name"] in names for entry in ENTRIES)


# -- permissions --------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST, CREATE, SETTINGS])
def test_staff_without_permission_get_403_and_superusers_200(client, superuser, url):
    clerk = factories.create_user("clerk@example.com", is_staff=True,
                                  perms=["oscar_ordercancel.cancel_order", "order.view_order"])
    client.force_login(clerk)
    assert client.get(url).status_code == 403
    client.force_login(superuser)
    assert client.get(url, follow=True).status_code == 200


def test_anonymous_users_are_sent_to_the_dashboard_login(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("dashboard:login"))


def test_edit_and_delete_need_their_own_permissions(client, mapping):
    viewer = factories.create_user("viewer@example.com", is_staff=True,
                                   perms=["oscar_ordercancel.view_orderstatusmapping"])
    client.force_login(viewer)
    assert client.get(LIST).status_code == 200
    assert client.get(edit_url(mapping)).status_code == 403
    assert client.post(delete_url(mapping)).status_code == 403
    assert OrderStatusMapping.objects.filter(pk=mapping.pk).exists()


# -- status mappings ------------------------------------------------------------------


def test_the_list_shows_the_mappings_and_the_unmapped_statuses(client, manager, mapping):
    client.force_login(manager)
    response = client.get(LIST)
    text = response.content.decode()
    assert "Received" in text and "ERP-10" in text
    assert edit_url(mapping) in text and delete_url(mapping) in text
    assert "Pipeline statuses without a mapping:" in text and "Being processed" in text


def test_the_list_sorts_by_a_column(client, manager):
    for status, code in [("Pending", "B"), ("Shipped", "A"), ("Complete", "C")]:
        OrderStatusMapping.objects.create(status=status, erp_status_code=code)
    client.force_login(manager)
    table = client.get(LIST, {"sort": "erp_status_code"}).context["mappings"]
    assert [row.record.erp_status_code for row in table.rows] == ["A", "B", "C"]
    table = client.get(LIST, {"sort": "-status"}).context["mappings"]
    assert [row.record.status for row in table.rows] == ["Shipped", "Pending", "Complete"]


def test_the_list_costs_a_fixed_number_of_queries(client, manager, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    OrderStatusMapping.objects.create(status="Pending", erp_status_code="P")
    client.force_login(manager)
    client.get(LIST)  # warm caches (content types, site)
    with CaptureQueriesContext(connection) as one:
        client.get(LIST)
    OrderStatusMapping.objects.bulk_create(
        OrderStatusMapping(status=f"Legacy {i}", erp_status_code=str(i)) for i in range(40))
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(LIST)
    assert len(response.context["mappings"].page.object_list) == 25  # Oscar's page size
    with django_assert_max_num_queries(12):
        assert client.get(LIST).status_code == 200


def test_create_a_mapping(client, manager):
    client.force_login(manager)
    response = client.post(CREATE, {"status": "Being processed", "display_name": "Being prepared",
                                    "erp_status_code": "ERP-20"})
    assert response.status_code == 302
    created = OrderStatusMapping.objects.get(status="Being processed")
    assert (created.display_name, created.erp_status_code, created.allow_cancellation) == (
        "Being prepared", "ERP-20", False)


def test_a_status_outside_the_pipeline_is_refused_on_the_form(client, manager):
    client.force_login(manager)
    response = client.post(CREATE, {"status": "Teleported", "display_name": "x"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not OrderStatusMapping.objects.exists()


def test_a_status_with_a_mapping_is_not_offered_again(client, manager, mapping):
    client.force_login(manager)
    response = client.post(CREATE, {"status": "Pending", "display_name": "Twice"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert OrderStatusMapping.objects.count() == 1


@pytest.mark.parametrize("data", [
    {"status": ["Pending", "Shipped"], "display_name": ["a", "b"]},
    {"status": "Pending", "display_name": "x" * 500},
    {"status": "Pending", "erp_status_code": "x" * 65},
    {"status": "", "allow_cancellation": "on"},
    {"status": "Pending\x00", "display_name": "nul"},
])
def test_hostile_form_input_gets_an_error_or_a_clean_value_never_a_500(client, manager, data):
    client.force_login(manager)
    response = client.post(CREATE, data)
    assert response.status_code in (200, 302)
    for mapping in OrderStatusMapping.objects.all():
        assert mapping.status in get_model("order", "Order").pipeline
        assert len(mapping.display_name) <= 128


def test_edit_a_mapping_keeps_a_status_no_longer_in_the_pipeline(client, manager):
    legacy = OrderStatusMapping.objects.create(status="Legacy", display_name="Old")
    client.force_login(manager)
    response = client.get(edit_url(legacy))
    assert "Legacy (not in the pipeline)" in response.content.decode()
    response = client.post(edit_url(legacy), {"status": "Legacy", "display_name": "Older",
                                              "allow_cancellation": "on"})
    assert response.status_code == 302
    legacy.refresh_from_db()
    assert (legacy.display_name, legacy.allow_cancellation) == ("Older", True)


def test_forbidding_cancellation_in_a_mapping_stops_cancellations(client, manager, mapping, order, staff):
    from oscar_ordercancel.policy import can_cancel

    assert can_cancel(order, staff, channel="dashboard")
    client.force_login(manager)
    client.post(edit_url(mapping), {"status": "Pending", "display_name": "Received"})
    assert not OrderStatusMapping.objects.get(pk=mapping.pk).allow_cancellation
    assert can_cancel(order, staff, channel="dashboard").code == "not_cancellable_status"


def test_delete_asks_first_then_deletes(client, manager, mapping):
    client.force_login(manager)
    response = client.get(delete_url(mapping))
    assert "Delete the mapping of “Pending”?" in response.content.decode()
    assert OrderStatusMapping.objects.exists()
    response = client.post(delete_url(mapping))
    assert response.status_code == 302
    assert not OrderStatusMapping.objects.exists()


def test_unknown_ids_are_404(client, manager):
    client.force_login(manager)
    assert client.get("/dashboard/ordercancel/status-mappings/999999/").status_code == 404
    assert client.post("/dashboard/ordercancel/status-mappings/999999/delete/").status_code == 404
    assert client.get("/dashboard/ordercancel/settings/999999/").status_code == 404
    huge = "9" * 30
    assert client.get(f"/dashboard/ordercancel/status-mappings/{huge}/").status_code == 404
    assert client.post(f"/dashboard/ordercancel/settings/{huge}/", {}).status_code == 404
    assert client.get("/dashboard/ordercancel/status-mappings/-1/").status_code == 404


# -- cancellation settings per site -------------------------------------------------


def test_one_site_goes_straight_to_its_settings(client, manager, site):
    client.force_login(manager)
    response = client.get(SETTINGS)
    assert response.status_code == 302
    assert response["Location"] == settings_url(site)


def test_several_sites_are_listed(client, manager, site):
    other = Site.objects.create(domain="other.example.com", name="Other shop")
    client.force_login(manager)
    response = client.get(SETTINGS)
    assert response.status_code == 200
    assert settings_url(site) in response.content.decode()
    assert settings_url(other) in response.content.decode()
    assert client.get(settings_url(other)).status_code == 200


def test_the_page_shows_the_inherited_values(client, manager, site, settings):
    settings.OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = timedelta(days=30)
    settings.OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION = True
    settings.OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES = ["Pending"]
    client.force_login(manager)
    text = client.get(settings_url(site)).content.decode()
    assert "Inherited from OSCAR_ORDERCANCEL_CUSTOMER_WINDOW: 30 days" in text
    assert "Inherited from OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION: Yes" in text
    assert "Inherited from OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES: Pending" in text


def test_saving_overrides_field_by_field(client, manager, site, settings):
    settings.OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = timedelta(days=30)
    client.force_login(manager)
    response = client.post(settings_url(site), {
        "allow_customer_cancellation": "no",
        "cancellable_statuses": ["Being processed", "Pending"],
        "customer_window_0": "", "customer_window_1": "days",
    })
    assert response.status_code == 302
    row = CancellationSettings.objects.get(site=site)
    assert row.allow_customer_cancellation is False
    assert row.cancellable_statuses == ["Pending", "Being processed"]  # pipeline order
    assert row.customer_window is None
    effective = effective_settings(site)
    assert effective.allow_customer_cancellation is False
    assert effective.cancellable_statuses == ("Pending", "Being processed")
    assert effective.customer_window == timedelta(days=30)  # inherited


def test_the_withdrawal_function_is_switched_per_site_with_the_inherited_value_shown(
        client, manager, site, settings):
    from oscar_ordercancel.policy import withdrawal_enabled

    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
    client.force_login(manager)
    page = client.get(settings_url(site)).content.decode()
    assert "Inherited from OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED: Off" in page
    response = client.post(settings_url(site), {"withdrawal_enabled": "yes",
                                                "customer_window_0": "", "customer_window_1": "days"})
    assert response.status_code == 302
    assert CancellationSettings.objects.get(site=site).withdrawal_enabled is True
    assert withdrawal_enabled(site)
    client.post(settings_url(site), {"withdrawal_enabled": "", "customer_window_0": "",
                                     "customer_window_1": "days"})
    assert CancellationSettings.objects.get(site=site).withdrawal_enabled is None
    assert not withdrawal_enabled(site)
    bad = client.post(settings_url(site), {"withdrawal_enabled": "maybe", "customer_window_0": "",
                                           "customer_window_1": "days"})
    assert bad.status_code == 200 and CancellationSettings.objects.get(site=site).withdrawal_enabled is None


def test_a_window_in_hours_and_back_to_inherit(client, manager, site):
    client.force_login(manager)
    client.post(settings_url(site), {"allow_customer_cancellation": "",
                                     "customer_window_0": "36", "customer_window_1": "hours"})
    row = CancellationSettings.objects.get(site=site)
    assert row.customer_window == timedelta(hours=36)
    assert row.allow_customer_cancellation is None and row.cancellable_statuses is None
    text = client.get(settings_url(site)).content.decode()
    assert 'value="36"' in text
    client.post(settings_url(site), {"customer_window_0": "", "customer_window_1": "hours"})
    row.refresh_from_db()
    assert row.customer_window is None


def test_a_zero_window_is_kept_not_taken_for_inherit(client, manager, site):
    client.force_login(manager)
    client.post(settings_url(site), {"customer_window_0": "0", "customer_window_1": "minutes"})
    assert CancellationSettings.objects.get(site=site).customer_window == timedelta(0)
    assert 'value="0"' in client.get(settings_url(site)).content.decode()


@pytest.mark.parametrize("data, message", [
    ({"customer_window_0": "-1", "customer_window_1": "days"}, "The window cannot be negative."),
    ({"customer_window_0": "99999999999999999999", "customer_window_1": "days"}, "less than or equal"),
    ({"customer_window_0": "5000", "customer_window_1": "days"}, "cannot be longer than"),
    ({"customer_window_0": "1e3", "customer_window_1": "days"}, "Enter a whole number"),
    ({"customer_window_0": "3", "customer_window_1": "fortnights"}, "Select a valid choice"),
    ({"cancellable_statuses": ["Pending", "Teleported"]}, "Select a valid choice"),
    ({"allow_customer_cancellation": "maybe"}, "Select a valid choice"),
    ({"cancellable_statuses": '["Pending"]'}, "Select a valid choice"),
])
def test_bad_input_is_refused_on_the_form_and_changes_nothing(client, manager, site, data, message):
    client.force_login(manager)
    response = client.post(settings_url(site), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not CancellationSettings.objects.exists()


def test_viewing_needs_view_and_saving_needs_change(client, site):
    viewer = factories.create_user("viewer@example.com", is_staff=True,
                                   perms=["oscar_ordercancel.view_cancellationsettings"])
    client.force_login(viewer)
    response = client.get(settings_url(site))
    assert response.status_code == 200
    assert 'id="save-settings"' not in response.content.decode()
    response = client.post(settings_url(site), {"allow_customer_cancellation": "no"})
    assert response.status_code == 403
    assert not CancellationSettings.objects.exists()


def test_a_cancellable_status_whose_mapping_forbids_it_is_a_warning(client, manager, site):
    OrderStatusMapping.objects.create(status="Being processed", allow_cancellation=False)
    CancellationSettings.objects.create(site=site, cancellable_statuses=["Pending", "Being processed"])
    client.force_login(manager)
    text = client.get(settings_url(site)).content.decode()
    assert 'id="ordercancel-settings-warnings"' in text
    assert "“Being processed” is a cancellable status, but its status mapping does not allow" in text
    assert "error-block" not in text  # a warning, not a form error


def test_a_status_that_cannot_reach_cancelled_is_a_warning(client, manager, site):
    CancellationSettings.objects.create(site=site, cancellable_statuses=["Shipped"])
    client.force_login(manager)
    text = client.get(settings_url(site)).content.decode()
    assert "the order status pipeline does not lead from it to “Cancelled”" in text


def test_consistent_settings_show_no_warning(client, manager, site):
    OrderStatusMapping.objects.create(status="Pending", allow_cancellation=True)
    client.force_login(manager)
    response = client.get(settings_url(site))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="settings-form"' in text and 'id="effective-settings"' in text  # the page is there
    assert "Pending" in text  # with the status the settings make cancellable
    assert 'id="ordercancel-settings-warnings"' not in text


def test_the_settings_page_costs_a_fixed_number_of_queries(client, manager, site,
                                                           django_assert_max_num_queries):
    Site.objects.create(domain="other.example.com", name="Other shop")
    client.force_login(manager)
    client.get(SETTINGS)
    with django_assert_max_num_queries(12):
        assert client.get(SETTINGS).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(settings_url(site)).status_code == 200


# -- banner -------------------------------------------------------------------------


def test_the_banner_says_cancellations_reach_no_external_system(client, manager, settings):
    settings.OSCAR_ORDERCANCEL_PROCESSORS = []
    client.force_login(manager)
    assert "Cancellations are not sent to any external system" in client.get(LIST).content.decode()
    settings.OSCAR_ORDERCANCEL_PROCESSORS = [{"name": "erp", "class": "x.Y", "options": {}}]
    response = client.get(LIST)
    assert response.status_code == 200
    text = response.content.decode()
    assert "A mapping says how an order status is shown" in text  # the page, without the banner
    assert "Cancellations are not sent to any external system" not in text


# -- loading classes (forks) -----------------------------------------------------------


def test_views_load_with_oscars_get_class_and_the_packages_loader():
    from oscar.core.loading import get_class

    from oscar_ordercancel.dashboard import views
    from oscar_ordercancel.dashboard.loading import get_dashboard_class

    assert get_class("ordercancel_dashboard.views", "ResubmitOrderView") is views.ResubmitOrderView
    assert get_dashboard_class("views", "ResubmitOrderView") is views.ResubmitOrderView


def test_a_fork_of_the_app_overrides_only_what_it_defines(monkeypatch):
    from django.apps import apps
    from oscar.core.exceptions import ClassNotFoundError

    from oscar_ordercancel.dashboard import forms, views
    from oscar_ordercancel.dashboard.loading import get_dashboard_class
    from tests.dashboard_fork import views as fork_views

    monkeypatch.setattr(apps.get_app_config("ordercancel_dashboard"), "name", "tests.dashboard_fork")
    assert get_dashboard_class("views", "StatusMappingListView") is fork_views.StatusMappingListView
    assert get_dashboard_class("views", "ResubmitOrderView") is views.ResubmitOrderView
    assert get_dashboard_class("forms", "StatusMappingForm") is forms.StatusMappingForm  # no forms.py
    with pytest.raises(ClassNotFoundError):
        get_dashboard_class("views", "NoSuchView")
