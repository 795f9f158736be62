"""``manage.py ordercancel_staff_group``: one command gives staff every cancellation screen."""

from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.sites.models import Site
from django.core.management import CommandError, call_command
from django.urls import reverse
from oscar.views.decorators import check_permissions

from oscar_ordercancel.compat import GRANULAR_DASHBOARD_PERMISSIONS, ORDER_PAGE_PERMISSIONS
from oscar_ordercancel.management.commands.ordercancel_staff_group import (
    staff_group_permissions,
    staff_screens,
)
from oscar_ordercancel.models import CancelJob, OrderStatusMapping
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = pytest.mark.django_db

GROUP = "Order cancellation"


def run(*args) -> str:
    out = StringIO()
    call_command("ordercancel_staff_group", *args, stdout=out)
    return out.getvalue()


def group_permissions(name=GROUP) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(name=name).permissions.select_related("content_type")}


@pytest.fixture
def member(db):
    """A user with no permission at all, not even staff: the command does the rest."""
    user = factories.create_user("clerk@example.com")
    run("--user", "clerk@example.com")
    user.refresh_from_db()
    return user


def cancel_form_url(order) -> str:
    if settings.USE_FORKS:
        return reverse("dashboard:order-cancel", kwargs={"number": order.number})
    return reverse("ordercancel_dashboard:ordercancel-order-cancel", kwargs={"number": order.number})


def test_the_group_has_what_the_staff_screens_check_and_no_more(db):
    run()

    assert group_permissions() == {
        *ORDER_PAGE_PERMISSIONS,  # order.view_order; every order permission on Oscar 4.0 / 4.1
        "oscar_ordercancel.cancel_order",
        "oscar_ordercancel.view_orderstatusmapping",
        "oscar_ordercancel.add_orderstatusmapping",
        "oscar_ordercancel.change_orderstatusmapping",
        "oscar_ordercancel.delete_orderstatusmapping",
        "oscar_ordercancel.view_cancellationsettings",
        "oscar_ordercancel.change_cancellationsettings",
    }
    # Neither Oscar's change_order (it edits orders; Oscar 4.0 and 4.1 ask it for their order
    # pages) nor partner access (it limits to partners).
    assert ("order.change_order" in group_permissions()) is not GRANULAR_DASHBOARD_PERMISSIONS
    assert "partner.dashboard_access" not in group_permissions()


def test_a_member_passes_the_permission_check_of_every_staff_screen(member):
    screens = staff_screens()
    names = {name for name, __ in screens}
    assert {"dashboard:order-list", "dashboard:order-detail",
            "ordercancel_dashboard:ordercancel-job-list",
            "ordercancel_dashboard:ordercancel-batch-upload",
            "ordercancel_dashboard:ordercancel-mapping-create",
            "ordercancel_dashboard:ordercancel-settings-site"} <= names
    if settings.USE_FORKS:
        assert {"dashboard:order-cancel", "dashboard:order-bulk-cancel"} <= names
    refused = [name for name, permissions in screens if not check_permissions(member, permissions)]
    assert refused == []


def test_a_member_opens_every_staff_screen_and_cancels(client, member, order, customer):
    assert member.is_staff
    client.force_login(member)
    other = cancel_order(factories.place_order(customer), user=customer, channel="api")
    job = CancelJob.objects.create(cancellation=other, processor="erp", idempotency_key="k-1",
                                   payload={})
    mapping = OrderStatusMapping.objects.create(status="Pending", allow_cancellation=True)
    Site.objects.create(domain="second.example.com", name="Second shop")  # the settings list
    pages = [
        reverse("dashboard:index"),
        reverse("dashboard:order-list"),
        reverse("dashboard:order-detail", kwargs={"number": order.number}),
        cancel_form_url(order),
        reverse("ordercancel_dashboard:ordercancel-job-list"),
        reverse("ordercancel_dashboard:ordercancel-job-detail", kwargs={"pk": job.pk}),
        reverse("ordercancel_dashboard:ordercancel-batch-list"),
        reverse("ordercancel_dashboard:ordercancel-batch-upload"),
        reverse("ordercancel_dashboard:ordercancel-mapping-list"),
        reverse("ordercancel_dashboard:ordercancel-mapping-create"),
        reverse("ordercancel_dashboard:ordercancel-mapping-update", kwargs={"pk": mapping.pk}),
        reverse("ordercancel_dashboard:ordercancel-mapping-delete", kwargs={"pk": mapping.pk}),
        reverse("ordercancel_dashboard:ordercancel-settings"),
        reverse("ordercancel_dashboard:ordercancel-settings-site", kwargs={"site_id": settings.SITE_ID}),
    ]
    statuses = {url: client.get(url).status_code for url in pages}
    assert statuses == dict.fromkeys(pages, 200)
    site_page = client.get(pages[-1])
    assert site_page.context["can_change"]  # saving the settings is checked by the view

    url = cancel_form_url(order)
    data = {f"quantity_{line.pk}": line.quantity for line in order.lines.all()}
    data.update(reason="staff", notify_customer="on")
    preview = client.post(url, data)
    assert preview.status_code == 200
    done = client.post(url, {**data, "confirm": "1", "previewed": preview.context["previewed"]})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "Cancelled"
    assert order.cancellations.get().user == member


def test_running_it_twice_changes_nothing_and_says_so(db):
    first = run()
    assert f"Created the group “{GROUP}”." in first
    assert "Gave the group" in first
    before = group_permissions()

    second = run()

    assert group_permissions() == before
    assert Group.objects.filter(name=GROUP).count() == 1
    assert "Created" not in second and "Gave" not in second
    assert f"The group “{GROUP}” already has every permission" in second
    assert "Nothing was changed." in second


def test_it_adds_what_is_missing_and_keeps_permissions_the_shop_added(db):
    group = Group.objects.create(name=GROUP)
    extra = Permission.objects.get(content_type__app_label="order", codename="change_order")
    view_order = Permission.objects.get(content_type__app_label="order", codename="view_order")
    group.permissions.add(extra, view_order)

    out = run()

    assert "Created" not in out
    assert "order.view_order" not in out.split("permissions:")[1]
    assert group_permissions() == set(staff_group_permissions()) | {"order.change_order"}


def test_another_name(db):
    out = run("--name", "Customer service")

    assert Group.objects.filter(name="Customer service").exists()
    assert not Group.objects.filter(name=GROUP).exists()
    assert "Created the group “Customer service”." in out


def test_users_join_and_become_staff_once(db):
    user = factories.create_user("Agent@Example.com")

    out = run("--user", "agent@example.com")

    user.refresh_from_db()
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == [GROUP]
    assert "Marked Agent@example.com as staff" in out
    assert "Added Agent@example.com to the group." in out
    again = run("--user", "agent@example.com")
    assert "Agent@example.com was already in the group." in again
    assert "Marked" not in again
    assert "Nothing was changed." in again


def test_an_unknown_user_is_refused_and_nothing_changes(db):
    factories.create_user("known@example.com")

    with pytest.raises(CommandError, match="No user has the e-mail address nobody@example.com"):
        run("--user", "known@example.com", "--user", "nobody@example.com")

    assert not Group.objects.filter(name=GROUP).exists()


def test_an_empty_name_is_refused(db):
    before = Group.objects.count()
    with pytest.raises(CommandError, match="must not be empty"):
        run("--name", "  ")
    assert Group.objects.count() == before


def test_its_help_says_what_it_does():
    from oscar_ordercancel.management.commands.ordercancel_staff_group import Command

    text = Command().create_parser("manage.py", "ordercancel_staff_group").format_help()

    assert "Create or update a group with every permission" in text
    assert "--user EMAIL" in text and "--name NAME" in text
