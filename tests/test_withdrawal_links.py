"""Where people find the withdrawal function: every page and e-mail the law expects it on."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from oscar.core.loading import get_model

from tests import factories

pytestmark = pytest.mark.django_db

CommunicationEventType = get_model("communication", "CommunicationEventType")
LINK = "Withdraw from contract here"


@pytest.fixture
def enabled(settings):
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True


def test_the_order_list_and_page_link_to_it_while_something_can_be_withdrawn(client, customer, order,
                                                                              enabled):
    client.force_login(customer)
    withdraw = reverse("oscar_ordercancel:order-withdraw", kwargs={"order_number": order.number})
    listing = client.get(reverse("customer:order-list")).content.decode()
    detail = client.get(reverse("customer:order", kwargs={"order_number": order.number})).content.decode()
    assert withdraw in listing and withdraw in detail and LINK in detail
    from oscar_ordercancel.services import declare_withdrawal

    declare_withdrawal(order, name="Cara", email=customer.email, user=customer)
    listing = client.get(reverse("customer:order-list")).content.decode()
    detail = client.get(reverse("customer:order", kwargs={"order_number": order.number})).content.decode()
    assert withdraw not in listing and withdraw not in detail  # nothing left to withdraw
    assert "Withdrawal W-" in detail  # the declaration is shown instead


def test_no_link_while_the_function_is_off(client, customer, order):
    client.force_login(customer)
    withdraw = reverse("oscar_ordercancel:order-withdraw", kwargs={"order_number": order.number})
    assert withdraw not in client.get(reverse("customer:order-list")).content.decode()
    assert LINK not in client.get(reverse("customer:order", kwargs={
        "order_number": order.number})).content.decode()


def test_the_guest_order_page_links_to_the_function_with_the_number_filled_in(client, enabled):
    order = factories.place_order(None, guest_email="guest@example.com")
    page = client.get(factories.open_guest_order(client, order))
    assert f'{reverse("oscar_ordercancel:withdraw")}?order={order.number}' in page.content.decode()


def test_the_thank_you_page_links_to_it(client, superuser, order, enabled):
    client.force_login(superuser)
    page = client.get(reverse("checkout:thank-you"), {"order_number": order.number})
    assert page.status_code == 200
    assert LINK in page.content.decode()
    assert f'?order={order.number}' in page.content.decode()


def test_the_order_placed_email_links_to_it(order, enabled):
    from django.contrib.sites.models import Site

    messages = CommunicationEventType.objects.get_and_render("ORDER_PLACED", {
        "order": order, "site": Site.objects.get_current(), "status_path": "/x/", "status_url": "/x/",
        "lines": order.lines.all()})
    url = f"{reverse('oscar_ordercancel:withdraw')}?order={order.number}"
    for body in (messages["body"], messages["html"]):
        assert "Your order contains" in body or "Your order contains" in body.replace("\n", " ")
        assert LINK in body and url in body


def test_the_order_placed_email_says_nothing_of_it_while_the_function_is_off(order):
    from django.contrib.sites.models import Site

    messages = CommunicationEventType.objects.get_and_render("ORDER_PLACED", {
        "order": order, "site": Site.objects.get_current(), "lines": order.lines.all()})
    assert LINK not in messages["body"] and LINK not in messages["html"]


def test_the_footer_tag_renders_the_link_only_while_the_function_is_on(settings):
    template = Template("{% load ordercancel_tags %}<footer>{% withdrawal_link %}</footer>")
    request = RequestFactory().get("/")
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
    assert template.render(Context({"request": request})) == "<footer></footer>"
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = True
    html = template.render(Context({"request": request}))
    assert f'href="{reverse("oscar_ordercancel:withdraw")}"' in html and LINK in html


def test_the_withdraw_page_is_always_reachable_while_on_even_with_nothing_to_withdraw(client, enabled):
    assert client.get(reverse("oscar_ordercancel:withdraw")).status_code == 200
