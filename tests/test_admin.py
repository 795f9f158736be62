"""The Django admin of the package's models."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from oscar_ordercancel.models import OrderCancellation
from oscar_ordercancel.services import cancel_order

pytestmark = pytest.mark.django_db


def test_cancellation_records_are_view_only_in_the_admin(client, order, superuser):
    cancellation = cancel_order(order, user=superuser, note="audit")
    client.force_login(superuser)
    model_admin = admin.site._registry[OrderCancellation]
    request = RequestFactory().get("/")
    request.user = superuser

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, cancellation)
    assert not model_admin.has_delete_permission(request, cancellation)
    assert model_admin.has_view_permission(request, cancellation)
    change_url = reverse("admin:oscar_ordercancel_ordercancellation_change", args=[cancellation.pk])
    assert client.post(change_url, {"state": "rejected", "channel": "api"}).status_code == 403
    delete_url = reverse("admin:oscar_ordercancel_ordercancellation_delete", args=[cancellation.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:oscar_ordercancel_ordercancellation_add")).status_code == 403
    cancellation.refresh_from_db()
    assert cancellation.state == "completed" and cancellation.channel == "code"
    listing = client.get(reverse("admin:oscar_ordercancel_ordercancellation_changelist"),
                         {"q": order.number, "state__exact": "completed"})
    assert listing.status_code == 200 and str(order.number) in listing.content.decode()
    page = client.get(change_url).content.decode()
    assert 'name="state"' not in page  # shown, not editable


def test_withdrawal_declarations_cannot_be_changed_or_deleted_in_the_admin(client, order, customer,
                                                                          superuser, settings):
    from oscar_ordercancel.models import WithdrawalDeclaration
    from oscar_ordercancel.services import declare_withdrawal

    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
    declaration = declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
    client.force_login(superuser)
    model_admin = admin.site._registry[WithdrawalDeclaration]
    request = RequestFactory().get("/")
    request.user = superuser
    assert not model_admin.has_change_permission(request, declaration)
    assert not model_admin.has_delete_permission(request, declaration)
    assert not model_admin.has_add_permission(request)
    change_url = reverse("admin:oscar_ordercancel_withdrawaldeclaration_change", args=[declaration.pk])
    assert client.post(change_url, {"name": "Mallory", "state": "closed"}).status_code == 403
    delete_url = reverse("admin:oscar_ordercancel_withdrawaldeclaration_delete", args=[declaration.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    declaration.refresh_from_db()
    assert declaration.name == "Cara" and declaration.state == "cancelled"
    page = client.get(change_url)
    assert page.status_code == 200 and declaration.reference in page.content.decode()
    # the order it belongs to cannot be deleted away from under it either
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        order.delete()
