"""Unpaid orders expire: who, the sweep, the dry run, the reminder, vouchers given back."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_order, create_product, create_stockrecord, create_voucher

from oscar_ordercancel import signals
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.expiry import due_orders, sweep
from oscar_ordercancel.models import CancelJob, CancellationSettings, ExpiryReminder, OrderCancellation
from oscar_ordercancel.policy.expiry import expires_at
from oscar_ordercancel.services import cancel_order, resubmit_order
from tests import factories

Order = get_model("order", "Order")
Basket = get_model("basket", "Basket")
Source = get_model("payment", "Source")
SourceType = get_model("payment", "SourceType")
Voucher = get_model("voucher", "Voucher")
ConditionalOffer = get_model("offer", "ConditionalOffer")

HOUR = timedelta(hours=1)


@pytest.fixture
def expiry(settings):
    """Unpaid orders expire after 24 hours."""
    settings.OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER = timedelta(hours=24)
    return settings


def placed(user, hours_ago, items=(("10.00", 2), ("5.00", 1), ("1.00", 3)), **kwargs):
    """An order placed ``hours_ago`` hours ago (Oscar's checkout, then its date moved)."""
    order = factories.place_order(user, items, **kwargs)
    Order.objects.filter(pk=order.pk).update(date_placed=timezone.now() - hours_ago * HOUR)
    order.refresh_from_db()
    return order


def with_source(order, code, **amounts):
    source_type, __ = SourceType.objects.get_or_create(code=code, defaults={"name": code.title()})
    return Source.objects.create(order=order, source_type=source_type, currency=order.currency,
                                 **{name: Decimal(value) for name, value in amounts.items()})


def allocations(order):
    return [line.stockrecord.num_allocated for line in
            order.lines.select_related("stockrecord").order_by("pk")]


def test_only_old_unpaid_orders_in_an_expiry_status_expire(expiry, customer, mailoutbox,
                                                           django_capture_on_commit_callbacks):
    old = placed(customer, 30)
    young = placed(customer, 2)
    paid = placed(customer, 30)
    factories.pay(paid)
    being_processed = placed(customer, 30)
    Order.objects.filter(pk=being_processed.pk).update(status="Being processed")
    partly_paid = placed(customer, 30)  # a gift card paid part of it
    with_source(partly_paid, "gift-card", amount_debited="5.00")
    event_only = placed(customer, 30)  # the gateway took money the shop has not recorded yet
    event_type = get_model("order", "PaymentEventType").objects.create(name="Captured")
    event_only.payment_events.create(event_type=event_type, amount=Decimal("1.00"))
    assert allocations(old) == [2, 1, 3]

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep()

    assert result.expired == [old.number] and result.failed == []
    for order in (young, paid, being_processed, partly_paid, event_only):
        order.refresh_from_db()
        assert order.status != "Cancelled", order.number
    old.refresh_from_db()
    assert old.status == "Cancelled"
    assert allocations(old) == [0, 0, 0]
    record = OrderCancellation.objects.get(order=old)
    assert (record.channel, record.reason, record.is_full, record.user) == ("expiry", "unpaid", True, None)
    assert record.reason_label == "Not paid in time"
    assert sorted(record.lines.values_list("stock_released", flat=True)) == [1, 2, 3]
    assert [m.subject for m in mailoutbox] == [f"Your order {old.number} has been cancelled"]
    assert "The payment was not received in time" in mailoutbox[0].body
    assert sweep().expired == []  # the stock is released once


def test_an_expired_order_tells_the_processors(expiry, customer, erp):
    old = placed(customer, 30)
    sweep()
    job = CancelJob.objects.get(cancellation__order=old)
    assert job.payload["reason"]["code"] == "unpaid" and job.payload["cancellation"]["channel"] == "expiry"


def test_the_lifetime_per_payment_source_type_and_never(expiry, customer):
    expiry.OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE = {
        "bank-transfer": timedelta(days=7), "invoice": None}
    transfer_young = placed(customer, 30)
    with_source(transfer_young, "bank-transfer")
    transfer_old = placed(customer, 24 * 8)
    with_source(transfer_old, "bank-transfer")
    invoice = placed(customer, 24 * 400)
    with_source(invoice, "invoice")
    both = placed(customer, 24 * 8)  # an invoice among its sources: never
    with_source(both, "bank-transfer")
    with_source(both, "invoice")
    card = placed(customer, 30)
    with_source(card, "card")  # no amount yet, no lifetime of its own: the default

    assert sorted(due_orders().values_list("number", flat=True)) == sorted(
        [transfer_old.number, card.number])
    assert expires_at(invoice) is None
    assert expires_at(transfer_young) == transfer_young.date_placed + timedelta(days=7)
    assert sorted(sweep().expired) == sorted([transfer_old.number, card.number])


def test_a_sites_own_lifetime_wins_over_the_django_setting(expiry, customer):
    site = Site.objects.get_current()
    CancellationSettings.objects.create(site=site, expire_unpaid_after=timedelta(hours=1))
    order = placed(customer, 2, site=site)
    other_site = Site.objects.create(domain="other.example.com", name="Other")
    other = placed(customer, 2, site=other_site)

    assert sweep().expired == [order.number]
    other.refresh_from_db()
    assert other.status == "Pending"


def test_nothing_expires_without_a_lifetime(settings, customer):
    placed(customer, 24 * 365)
    assert sweep().expired == []
    assert not due_orders().exists()


def test_a_dry_run_names_the_orders_and_changes_nothing(expiry, customer, mailoutbox):
    expiry.OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE = timedelta(hours=6)
    old = placed(customer, 30)
    soon = placed(customer, 20)  # expires in 4 hours: reminded
    out, err = StringIO(), StringIO()

    call_command("expire_unpaid_orders", "--dry-run", stdout=out, stderr=err)

    text = out.getvalue()
    assert f"Would expire: order {old.number}" in text
    assert f"Would remind: order {soon.number}" in text
    assert "Would remind: 1, would expire: 1." in text
    for order in (old, soon):
        order.refresh_from_db()
        assert order.status == "Pending"
    assert not OrderCancellation.objects.exists() and not ExpiryReminder.objects.exists()
    assert mailoutbox == []
    assert allocations(old) == [2, 1, 3]


def test_the_command_shows_progress_and_a_summary(expiry, customer):
    orders = [placed(customer, 30, items=(("1.00", 1),)) for __ in range(3)]
    out, err = StringIO(), StringIO()
    call_command("expire_unpaid_orders", "--chunk-size", "2", stdout=out, stderr=err)
    assert "Reminded: 0, expired: 3, failed: 0." in out.getvalue()
    assert "3/3" in err.getvalue()  # tqdm's bar
    assert Order.objects.filter(pk__in=[o.pk for o in orders], status="Cancelled").count() == 3


def test_the_reminder_goes_out_once_with_the_amount_and_the_time(expiry, customer, mailoutbox):
    expiry.OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE = timedelta(hours=6)
    soon = placed(customer, 20)
    placed(customer, 10)  # 14 hours left: not yet

    first = sweep()
    second = sweep()

    assert first.reminded == [soon.number] and second.reminded == []
    assert [m.subject for m in mailoutbox] == [f"Your order {soon.number} is waiting for payment"]
    body = mailoutbox[0].body
    assert "£28.00" in body or "28.00" in body
    when = timezone.localtime(soon.date_placed + timedelta(hours=24))
    assert when.strftime("%Y") in body and "the order will be cancelled" in body
    assert soon.communication_events.filter(event_type__code="ORDER_EXPIRY_REMINDER").count() == 1
    reminder = ExpiryReminder.objects.get(order=soon)
    assert reminder.expires_at == soon.date_placed + timedelta(hours=24)


def test_a_reminder_that_cannot_be_sent_is_tried_again(expiry, customer, monkeypatch, mailoutbox):
    expiry.OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE = timedelta(hours=6)
    soon = placed(customer, 20)
    from oscar_ordercancel.expiry import sweeper as module

    def broken(order, when):
        raise ConnectionError("mail server down")

    monkeypatch.setattr(module, "send_expiry_reminder", broken)
    assert sweep().reminded == []
    assert not ExpiryReminder.objects.exists()
    monkeypatch.undo()
    assert sweep().reminded == [soon.number]


def test_a_veto_leaves_that_order_pending_and_the_others_expired(expiry, customer):
    orders = [placed(customer, 30, items=(("1.00", 1),)) for __ in range(4)]
    vetoed = orders[1]

    def veto(sender, order, **kwargs):
        if order.pk == vetoed.pk:
            raise CancellationError("erp_says_no", "The warehouse has packed it.")

    signals.order_cancellation_requested.connect(veto)
    try:
        result = sweep(chunk_size=10)
    finally:
        signals.order_cancellation_requested.disconnect(veto)

    assert sorted(result.expired) == sorted(o.number for o in orders if o != vetoed)
    assert result.failed == [(vetoed.number, "The warehouse has packed it.")]
    vetoed.refresh_from_db()
    assert vetoed.status == "Pending" and allocations(vetoed) == [1]
    assert not OrderCancellation.objects.filter(order=vetoed).exists()


def test_a_shops_own_payment_check_by_dotted_path(expiry, customer):
    expiry.OSCAR_ORDERCANCEL_PAYMENT_CHECK = "tests.test_expiry.paid_if_note"
    first, second = placed(customer, 30), placed(customer, 30)
    first.notes.create(message="gateway: paid")
    result = sweep()
    assert result.expired == [second.number] and result.paid == [first.number]
    first.refresh_from_db()
    assert first.status == "Pending"


def paid_if_note(order) -> bool:
    """A gateway look-up stand-in: paid when a note says so."""
    return order.notes.filter(message__contains="paid").exists()


def test_the_sweep_works_where_rows_cannot_be_skipped(expiry, customer, monkeypatch):
    """As on SQLite: no SKIP LOCKED, the chunk simply locks (or, there, takes the write lock)."""
    monkeypatch.setattr(connection.features, "has_select_for_update_skip_locked", False)
    orders = [placed(customer, 30, items=(("1.00", 1),)) for __ in range(3)]
    assert sorted(sweep(chunk_size=2).expired) == sorted(o.number for o in orders)


def test_the_sweep_costs_a_fixed_number_of_queries_per_chunk(expiry, customer,
                                                              django_assert_max_num_queries):
    for __ in range(3):
        placed(customer, 30)
    sweep()  # warm the caches of what every run reads once (content types, permissions)
    for __ in range(12):
        placed(customer, 30)
    with django_assert_max_num_queries(60):
        assert len(sweep(chunk_size=100).expired) == 12


# ---------------------------------------------------------------- vouchers


def order_with_voucher(user, voucher, items=(("10.00", 1), ("4.00", 2))):
    basket = Basket.objects.create(owner=user)
    basket.strategy = Default()
    for price, quantity in items:
        product = create_product()
        create_stockrecord(product, price=Decimal(price), num_in_stock=20)
        basket.add_product(product, quantity=quantity)
    basket.vouchers.add(voucher)
    Applicator().apply(basket, user)
    return create_order(basket=basket, user=user)


@pytest.fixture
def single_use(db):
    return create_voucher(code="ONCE", usage=Voucher.SINGLE_USE)


def test_a_single_use_voucher_works_again_after_the_order_is_cancelled(customer, staff, single_use):
    order = order_with_voucher(customer, single_use)
    single_use.refresh_from_db()
    offer = single_use.offers.get()
    assert single_use.num_orders == 1 and single_use.total_discount > 0
    assert not single_use.is_available_to_user(customer)[0]
    discount = order.discounts.get().amount

    cancellation = cancel_order(order, user=staff)

    single_use.refresh_from_db()
    offer.refresh_from_db()
    assert single_use.is_available_to_user(customer)[0]
    assert (single_use.num_orders, single_use.total_discount) == (0, Decimal("0.00"))
    assert (offer.num_orders, offer.num_applications, offer.total_discount) == (0, 0, Decimal("0.00"))
    cancellation.refresh_from_db()
    given_back = {(e.get("voucher"), e.get("amount"), bool(e.get("application")))
                  for e in cancellation.vouchers_released}
    assert given_back == {("ONCE", str(discount), False), ("ONCE", None, True)}


def test_a_partial_cancellation_keeps_the_voucher_used(customer, staff, single_use):
    order = order_with_voucher(customer, single_use)
    line = order.lines.order_by("pk").first()
    cancellation = cancel_order(order, user=staff, lines={line: 1})
    single_use.refresh_from_db()
    assert single_use.num_orders == 1 and not single_use.is_available_to_user(customer)[0]
    assert cancellation.vouchers_released == []


def test_an_expired_order_gives_its_voucher_back(expiry, customer, single_use):
    order = order_with_voucher(customer, single_use)
    Order.objects.filter(pk=order.pk).update(date_placed=timezone.now() - 30 * HOUR)
    assert sweep().expired == [str(order.number)]
    single_use.refresh_from_db()
    assert single_use.num_orders == 0 and single_use.is_available_to_user(customer)[0]


def test_release_can_be_turned_off(settings, customer, staff, single_use):
    settings.OSCAR_ORDERCANCEL_RELEASE_VOUCHERS = False
    order = order_with_voucher(customer, single_use)
    cancel_order(order, user=staff)
    single_use.refresh_from_db()
    assert single_use.num_orders == 1 and not single_use.is_available_to_user(customer)[0]


def test_a_resubmitted_order_records_the_usage_again(customer, staff, single_use):
    order = order_with_voucher(customer, single_use)
    cancel_order(order, user=staff)
    new = resubmit_order(order, user=staff)
    single_use.refresh_from_db()
    assert single_use.num_orders == 1 and not single_use.is_available_to_user(customer)[0]
    assert new.discounts.get().voucher_code == "ONCE"
    assert single_use.applications.get().order == new


# ---------------------------------------------------------------- two sweeps at once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_cancel_each_of_30_orders_exactly_once(settings):
    import threading

    settings.OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER = timedelta(hours=24)
    settings.OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE = timedelta(hours=6)
    customer = factories.create_user("sweeps@example.com")
    orders = [placed(customer, 30, items=(("1.00", 2),)) for __ in range(30)]
    reminded = [placed(customer, 20, items=(("1.00", 1),)) for __ in range(5)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(sweep(chunk_size=4))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for __ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    expired = [number for result in results for number in result.expired]
    assert sorted(expired) == sorted(o.number for o in orders)  # each once, none twice
    assert all(result.failed == [] for result in results)
    assert OrderCancellation.objects.count() == 30
    assert [n for result in results for n in result.reminded].__len__() == 5
    assert ExpiryReminder.objects.count() == 5
    assert all(a == [0] for a in map(allocations, orders))
    assert all(o.status == "Pending" for o in Order.objects.filter(pk__in=[r.pk for r in reminded]))


def test_a_payment_check_that_fails_for_one_order_stops_only_that_one(expiry, customer):
    expiry.OSCAR_ORDERCANCEL_PAYMENT_CHECK = "tests.test_expiry.gateway_down_for_notes"
    first, second = placed(customer, 30), placed(customer, 30)
    first.notes.create(message="gateway")
    result = sweep()
    assert result.expired == [second.number]
    assert [number for number, __ in result.failed] == [first.number]
    assert "payment check failed" in result.failed[0][1]
    first.refresh_from_db()
    assert first.status == "Pending"


def gateway_down_for_notes(order) -> bool:
    """A gateway look-up that times out for orders with a note."""
    if order.notes.exists():
        raise TimeoutError("gateway")
    return False


def test_the_command_exits_1_and_names_a_failed_order(expiry, customer):
    order = placed(customer, 30)
    factories.ship(order, order.lines.first(), 1)  # shipped: the policy refuses
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("expire_unpaid_orders", stdout=out, stderr=err)
    assert exit_.value.code == 1
    assert f"Not expired: order {order.number}" in err.getvalue()
    assert "expired: 0, failed: 1." in out.getvalue()


# ---------------------------------------------------------------- the dashboard


@pytest.fixture
def dashboard(client, clerk):
    client.force_login(clerk)
    return client


def test_the_order_list_and_page_say_when_an_unpaid_order_expires(expiry, customer, dashboard):
    soon = placed(customer, 21)  # 3 hours left
    paid = placed(customer, 21)
    factories.pay(paid)
    late = placed(customer, 30)  # the sweep has not run yet

    page = dashboard.get(reverse("dashboard:order-list")).content.decode()
    assert page.count("Expires in 2\xa0hours") + page.count("Expires in 3\xa0hours") == 1
    assert "Expired: cancelled at the next sweep" in page
    detail = dashboard.get(reverse("dashboard:order-detail", args=[soon.number])).content.decode()
    assert "Expires in" in detail
    detail = dashboard.get(reverse("dashboard:order-detail", args=[paid.number])).content.decode()
    assert "Expires in" not in detail and "Expired:" not in detail
    assert late.number in page


def test_the_order_list_costs_the_same_queries_for_more_unpaid_orders(
        expiry, customer, dashboard, django_assert_max_num_queries):
    for __ in range(2):
        placed(customer, 5)
    dashboard.get(reverse("dashboard:order-list"))
    with CaptureQueriesContext(connection) as few:
        dashboard.get(reverse("dashboard:order-list"))
    for __ in range(8):
        placed(customer, 5)
    with django_assert_max_num_queries(len(few)):
        dashboard.get(reverse("dashboard:order-list"))


@pytest.fixture
def manager(db):
    return factories.create_user("expiry.manager@example.com", is_staff=True, perms=[
        "oscar_ordercancel.view_cancellationsettings", "oscar_ordercancel.change_cancellationsettings"])


def settings_post(client, site, **fields):
    data = {"customer_window_0": "", "customer_window_1": "days",
            "expire_unpaid_after_0": "", "expire_unpaid_after_1": "hours",
            "expiry_reminder_before_0": "", "expiry_reminder_before_1": "hours", **fields}
    return client.post(reverse("ordercancel_dashboard:ordercancel-settings-site", args=[site.pk]), data)


def test_a_site_sets_its_lifetime_and_reminder_with_inherited_values_shown(expiry, client, manager):
    site = Site.objects.get_current()
    client.force_login(manager)
    page = client.get(reverse("ordercancel_dashboard:ordercancel-settings-site", args=[site.pk]))
    text = page.content.decode()
    assert "Inherited from OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER: 1 day" in text
    assert "Inherited from OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE: no reminder" in text

    response = settings_post(client, site, expire_unpaid_after_0="6",
                             expiry_reminder_before_0="2")
    assert response.status_code == 302
    row = CancellationSettings.objects.get(site=site)
    assert (row.expire_unpaid_after, row.expiry_reminder_before) == (6 * HOUR, 2 * HOUR)
    text = client.get(response.url).content.decode()
    assert 'id="effective-expiry">6 hours<' in text and 'id="effective-reminder">2 hours<' in text


@pytest.mark.parametrize("fields, error", [
    ({"expire_unpaid_after_0": "0"}, "Enter at least 1 minute"),
    ({"expire_unpaid_after_0": "-3"}, "cannot be negative"),
    ({"expire_unpaid_after_0": "99999999"}, "Ensure this value is less than or equal to"),
    ({"expire_unpaid_after_0": "abc"}, "Enter a whole number"),
    ({"expire_unpaid_after_0": "2", "expiry_reminder_before_0": "5"}, "The reminder must come before"),
    ({"expiry_reminder_before_0": "30"}, "The reminder must come before"),  # inherited: 24 hours
    ({"expire_unpaid_after_0": "2", "expire_unpaid_after_1": "weeks"}, "Select a valid choice"),
])
def test_hostile_settings_are_refused_and_change_nothing(expiry, client, manager, fields, error):
    site = Site.objects.get_current()
    client.force_login(manager)
    response = settings_post(client, site, **fields)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not CancellationSettings.objects.filter(site=site).exists()


def test_the_system_checks_catch_expiry_settings_that_cannot_work():
    from oscar_ordercancel.checks import expiry_messages

    ids = lambda **kw: [m.id for m in expiry_messages(**{  # noqa: E731
        "statuses": ["Pending"], "cancellable": ["Pending"],
        "payment_check": "oscar_ordercancel.payment.is_paid", "lifetimes": {"X": timedelta(hours=1)}, **kw})]
    assert ids() == []
    assert ids(payment_check="myshop.nowhere.is_paid") == ["ordercancel.E014"]
    assert ids(payment_check=42) == ["ordercancel.E014"]
    assert ids(lifetimes={"X": 3600}) == ["ordercancel.E015"]
    assert ids(lifetimes={"X": timedelta(0)}) == ["ordercancel.E015"]
    assert ids(statuses=["Pending", "Awaiting payment"]) == ["ordercancel.W010"]
    assert ids(statuses=["Awaiting payment"], lifetimes={"X": None}) == []  # nothing expires
    assert ids(reminder=3600) == ["ordercancel.E015"]
    assert ids(statuses=["Awaiting payment"], lifetimes={"X": None}, reminder=timedelta(hours=1)) == []


def test_the_customer_sees_until_when_the_order_waits_for_payment(expiry, customer, client):
    order = placed(customer, 20)
    paid = placed(customer, 20)
    factories.pay(paid)
    client.force_login(customer)
    page = client.get(reverse("customer:order", args=[order.number])).content.decode()
    assert "This order is waiting for your payment of" in page
    assert "the order will be cancelled" in page
    page = client.get(reverse("customer:order", args=[paid.number])).content.decode()
    assert "waiting for your payment" not in page
