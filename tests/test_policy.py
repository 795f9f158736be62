"""The policy: who may cancel which order, and when."""

from datetime import timedelta

import pytest
from django.contrib.sites.models import Site
from django.utils import timezone

from oscar_ordercancel.models import CancellationSettings, OrderStatusMapping
from oscar_ordercancel.policy import can_cancel
from oscar_ordercancel.services import cancel_order
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_customer_may_cancel_their_own_pending_order(order, customer):
    decision = can_cancel(order, customer, channel="customer")
    assert decision and decision.full
    assert sum(decision.quantities.values()) == 3


def test_a_customer_cannot_cancel_someone_elses_order(order, other_customer):
    decision = can_cancel(order, other_customer, channel="customer")
    assert not decision and decision.code == "not_owner"


def test_staff_rules_do_not_apply_on_the_customer_pages(order, staff):
    assert can_cancel(order, staff, channel="customer").code == "not_owner"


def test_the_site_setting_turns_customer_cancellation_off(order, customer, settings):
    CancellationSettings.objects.create(site=Site.objects.get_current(),
                                        allow_customer_cancellation=False)
    assert can_cancel(order, customer, channel="customer").code == "customer_cancellation_disabled"


def test_an_empty_site_setting_inherits_the_django_setting(order, customer, settings):
    CancellationSettings.objects.create(site=Site.objects.get_current())
    settings.OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION = False
    assert can_cancel(order, customer, channel="customer").code == "customer_cancellation_disabled"
    settings.OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION = True
    assert can_cancel(order, customer, channel="customer")


def test_the_customer_window(order, customer, settings):
    settings.OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = timedelta(minutes=30)
    assert can_cancel(order, customer, channel="customer")
    order.date_placed = timezone.now() - timedelta(minutes=31)
    order.save()
    decision = can_cancel(order, customer, channel="customer")
    assert decision.code == "window_passed"
    assert decision.message == "Orders can be cancelled within 30 minutes of purchase."


def test_the_window_does_not_bind_staff(order, staff, settings):
    settings.OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = timedelta(minutes=30)
    order.date_placed = timezone.now() - timedelta(days=3)
    order.save()
    assert can_cancel(order, staff, channel="dashboard")


def test_a_site_window_overrides_the_django_setting(order, customer, settings):
    settings.OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = None
    CancellationSettings.objects.create(site=Site.objects.get_current(),
                                        customer_window=timedelta(minutes=5))
    order.date_placed = timezone.now() - timedelta(minutes=6)
    order.save()
    assert can_cancel(order, customer, channel="customer").code == "window_passed"


def test_cancellable_statuses_come_from_the_site_then_the_settings(order, staff, settings):
    order.set_status("Being processed")
    assert can_cancel(order, staff).code == "not_cancellable_status"
    settings.OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES = ["Pending", "Being processed"]
    # The sandbox cascades "Being processed" to the lines, so they must be cancellable too.
    assert can_cancel(order, staff).code == "quantity_not_cancellable"
    settings.OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES = ["Pending", "Being processed"]
    assert can_cancel(order, staff)
    CancellationSettings.objects.create(site=Site.objects.get_current(),
                                        cancellable_statuses=["Pending"])
    assert can_cancel(order, staff).code == "not_cancellable_status"


def test_a_mapping_can_forbid_cancellation_of_a_status(order, staff):
    mapping = OrderStatusMapping.objects.create(status="Pending", allow_cancellation=False)
    assert can_cancel(order, staff).code == "not_cancellable_status"
    mapping.allow_cancellation = True
    mapping.save()
    assert can_cancel(order, staff)


def test_customers_cannot_force(order, customer):
    factories.pay(order, debited=order.total_incl_tax)
    assert can_cancel(order, customer, channel="customer").code == "paid_needs_force"
    assert can_cancel(order, customer, force=True, channel="customer").code == "force_not_allowed"


@pytest.mark.parametrize("perm", ["oscar_ordercancel.cancel_order", "order.change_order"])
def test_staff_need_a_cancel_permission(order, perm):
    plain_staff = factories.create_user("plain@example.com", is_staff=True)
    assert can_cancel(order, plain_staff, channel="dashboard").code == "not_permitted"
    allowed = factories.create_user("allowed@example.com", is_staff=True, perms=[perm])
    assert can_cancel(order, allowed, channel="dashboard")


def test_partner_users_cancel_only_orders_of_their_partners(customer):
    from oscar.core.loading import get_model

    Partner = get_model("partner", "Partner")
    ours = factories.place_order(customer, [("10.00", 1)], partner="Acme")
    theirs = factories.place_order(customer, [("10.00", 1)], partner="Globex")
    partner_user = factories.create_user("acme@example.com", is_staff=True,
                                         perms=["partner.dashboard_access"])
    Partner.objects.get(name="Acme").users.add(partner_user)
    assert can_cancel(ours, partner_user, channel="dashboard")
    assert can_cancel(theirs, partner_user, channel="dashboard").code == "partner_lines"
    before = factories.snapshot(theirs)
    with pytest.raises(Exception) as err:
        cancel_order(theirs, user=partner_user, channel="dashboard")
    assert err.value.code == "partner_lines"
    assert factories.snapshot(theirs) == before


def test_pinned_partners_answer_without_a_query_inside_the_block_only(customer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from oscar.core.loading import get_model

    from oscar_ordercancel.policy import load_context, pinned_partners
    from oscar_ordercancel.policy.rules import evaluate

    Partner = get_model("partner", "Partner")
    ours = factories.place_order(customer, [("10.00", 1)], partner="Acme")
    theirs = factories.place_order(customer, [("10.00", 1)], partner="Globex")
    partner_user = factories.create_user("acme@example.com", is_staff=True,
                                         perms=["partner.dashboard_access"])
    acme, globex = Partner.objects.get(name="Acme"), Partner.objects.get(name="Globex")
    acme.users.add(partner_user)
    contexts = [load_context(ours), load_context(theirs)]

    def decide():
        with CaptureQueriesContext(connection) as captured:
            codes = [evaluate(ctx, partner_user, channel="batch").code for ctx in contexts]
        return codes, len(captured)

    decide()  # the permission cache fills here
    assert decide() == (["ok", "partner_lines"], 2)  # one query per decision for the partners
    with CaptureQueriesContext(connection) as captured, pinned_partners(partner_user) as ids:
        assert ids == {acme.pk} and len(captured) == 1
        assert decide() == (["ok", "partner_lines"], 0)
        assert not [name for name in vars(partner_user) if "ordercancel" in name]  # nothing hidden on it
        with pinned_partners(partner_user, [globex.pk]):
            assert decide() == (["partner_lines", "ok"], 0)
        other = factories.create_user("other-partner@example.com", is_staff=True,
                                      perms=["partner.dashboard_access"])
        assert evaluate(contexts[0], other, channel="batch").code == "partner_lines"  # not pinned
    assert decide() == (["ok", "partner_lines"], 2)


def test_anonymous_users_are_not_owners(order):
    from django.contrib.auth.models import AnonymousUser

    assert can_cancel(order, AnonymousUser(), channel="customer").code == "not_owner"


def test_guest_orders_follow_the_customer_rules(settings):
    guest_order = factories.place_order(None, guest_email="guest@example.com")
    assert can_cancel(guest_order, None, channel="guest")
    settings.OSCAR_ORDERCANCEL_ALLOW_CUSTOMER_CANCELLATION = False
    assert can_cancel(guest_order, None, channel="guest").code == "customer_cancellation_disabled"


def test_a_guest_channel_cannot_reach_an_account_order(order):
    assert can_cancel(order, None, channel="guest").code == "not_owner"


def test_decision_matches_the_engine(order, other_customer):
    decision = can_cancel(order, other_customer, channel="customer")
    with pytest.raises(Exception) as err:
        cancel_order(order, user=other_customer, channel="customer")
    assert err.value.code == decision.code and err.value.message == decision.message


def test_the_orders_own_site_settings_apply(order, customer):
    other_site = Site.objects.create(domain="other.example.com", name="Other")
    CancellationSettings.objects.create(site=other_site, allow_customer_cancellation=False)
    assert can_cancel(order, customer, channel="customer")
    order.site = other_site
    order.save()
    assert can_cancel(order, customer, channel="customer").code == "customer_cancellation_disabled"


def test_customers_cannot_probe_other_orders_lines(order, customer, staff):
    foreign = factories.place_order(staff).lines.get()
    assert can_cancel(order, customer, lines={foreign.pk: 1}, channel="customer").code == "unknown_line"
    assert can_cancel(order, staff, lines={foreign.pk: 1}).code == "line_not_in_order"


def test_a_too_large_quantity_says_how_much_is_left(order, customer):
    line = order.lines.order_by("pk").first()
    decision = can_cancel(order, customer, lines={line: 5}, channel="customer")
    assert decision.code == "quantity_not_cancellable"
    assert decision.params == {"line": line.pk, "available": 2}
    assert "only 2 of" in decision.message


def test_on_behalf_of_must_be_the_orders_customer(order, staff, other_customer, customer):
    before = factories.snapshot(order)
    with pytest.raises(Exception) as err:
        cancel_order(order, user=staff, on_behalf_of=other_customer)
    assert err.value.code == "invalid_on_behalf_of"
    assert factories.snapshot(order) == before
    cancellation = cancel_order(order, user=staff, on_behalf_of=customer)
    assert cancellation.on_behalf_of == customer and cancellation.user == staff


def test_timestamps_are_in_order(order, staff):
    """A cancellation is requested after the order was placed, completes no earlier than it
    was requested, and both moments are the moment the cancel was made."""
    before = timezone.now()
    cancellation = cancel_order(order, user=staff)
    after = timezone.now()
    cancellation.refresh_from_db()
    order.refresh_from_db()
    assert order.date_placed <= cancellation.date_created <= cancellation.date_completed
    assert before <= cancellation.date_created <= after
    assert before <= cancellation.date_completed <= after


@pytest.mark.parametrize(("window", "text"), [
    (timedelta(days=30), "30 days"), (timedelta(days=1), "1 day"),
    (timedelta(hours=2), "2 hours"), (timedelta(minutes=45), "45 minutes"),
])
def test_the_window_is_said_in_plain_words(order, customer, settings, window, text):
    settings.OSCAR_ORDERCANCEL_CUSTOMER_WINDOW = window
    order.date_placed = timezone.now() - window - timedelta(minutes=1)
    order.save()
    assert can_cancel(order, customer, channel="customer").message == (
        f"Orders can be cancelled within {text} of purchase.")


def test_a_veto_without_a_message_still_explains_itself():
    from oscar_ordercancel.exceptions import CancellationVetoed, PaymentError

    assert CancellationVetoed().message == "This order cannot be cancelled right now."
    assert "nothing was changed" in PaymentError().message


# ------------------------------------------------- what a status refusal says


def _force_status(order, status):
    """Put the order in ``status`` without Oscar's cascade to the lines."""
    type(order).objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()


def test_a_status_refused_by_its_mapping_names_its_display_name(order, staff, customer):
    OrderStatusMapping.objects.create(status="Pending", display_name="Order received",
                                      allow_cancellation=False)
    for user, channel in ((staff, "dashboard"), (customer, "customer"), (None, "system")):
        decision = can_cancel(order, user, channel=channel)
        assert decision.code == "not_cancellable_status"
        assert decision.message == "Orders with the status “Order received” cannot be cancelled."
        assert decision.params == {"stage": "status", "status": "Pending"}


def test_a_status_left_out_of_the_cancellable_statuses_names_the_status(order, staff, settings):
    settings.OSCAR_ORDERCANCEL_CANCELLABLE_STATUSES = ["Being processed"]
    decision = can_cancel(order, staff)
    assert decision.code == "not_cancellable_status"
    assert decision.message == "Orders with the status “Pending” cannot be cancelled."
    assert decision.params == {"stage": "status", "status": "Pending"}


def test_a_later_status_whose_lines_still_wait_is_refused_for_its_status(order, staff):
    _force_status(order, "Being processed")  # lines stay Pending: nothing is being prepared
    decision = can_cancel(order, staff)
    assert decision.message == "Orders with the status “Being processed” cannot be cancelled."
    assert decision.params["stage"] == "status"


def test_processing_is_said_when_lines_are_being_processed(order, staff):
    order.set_status("Being processed")  # the sandbox cascades it to the lines
    decision = can_cancel(order, staff)
    assert decision.code == "not_cancellable_status"
    assert decision.message == "This order is already being prepared and can no longer be cancelled."
    assert decision.params == {"stage": "processing", "status": "Being processed"}


def test_processing_is_said_when_part_of_the_order_has_shipped(order, staff):
    first = order.lines.order_by("pk").first()
    factories.ship(order, first, 1)
    _force_status(order, "Being processed")
    assert can_cancel(order, staff).params["stage"] == "processing"


def test_shipped_and_complete_orders_say_so(order, staff):
    for line in order.lines.all():
        factories.ship(order, line, line.quantity)
    _force_status(order, "Shipped")
    decision = can_cancel(order, staff)
    assert decision.message == "This order has already shipped and can no longer be cancelled."
    assert decision.params == {"stage": "shipped", "status": "Shipped"}
    _force_status(order, "Complete")
    decision = can_cancel(order, staff)
    assert decision.message == "This order is complete and can no longer be cancelled."
    assert decision.params == {"stage": "complete", "status": "Complete"}


def test_each_refusal_has_its_true_words(customer):
    shipped = factories.place_order(customer, [("4.00", 1)])
    factories.ship(shipped, shipped.lines.get(), 1)
    shipped.set_status("Being processed")
    shipped.set_status("Shipped")
    complete = factories.place_order(customer)
    for status in ("Being processed", "Shipped", "Complete"):
        complete.set_status(status)
    processing = factories.place_order(customer)
    processing.set_status("Being processed")
    cancelled = factories.place_order(customer)
    cancel_order(cancelled, user=None)

    def words(order):
        return can_cancel(order, customer, channel="customer").message

    assert "shipped" in words(shipped) and "prepared" not in words(shipped)
    assert "complete" in words(complete)
    assert "being prepared" in words(processing)
    assert "already been cancelled" in words(cancelled)


def test_a_blocked_status_in_a_batch_of_decisions_costs_no_extra_query(customer, staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from oscar_ordercancel.policy import decisions_for

    OrderStatusMapping.objects.create(status="Pending", display_name="Order received",
                                      allow_cancellation=False)
    orders = [factories.place_order(customer) for __ in range(5)]
    decisions_for(orders[:1], staff)  # the site settings
    with CaptureQueriesContext(connection) as queries:
        decisions = decisions_for(orders, staff)
    assert {d.message for d in decisions.values()} == {
        "Orders with the status “Order received” cannot be cancelled."}
    assert len(queries) <= 2


def test_facts_read_by_number_decide_as_the_orders_do(customer, staff, settings):
    """A batch preview decides on facts read without model instances (one query for the
    orders, one for their lines): every refusal and approval is the one the engine's facts give."""
    from oscar_ordercancel.policy import evaluate, load_contexts, load_contexts_by_number
    from oscar_ordercancel.policy.context import LineFacts, OrderFacts

    CancellationSettings.objects.create(site=Site.objects.get_current(),
                                        cancellable_statuses=["Pending", "Being processed"])
    OrderStatusMapping.objects.create(status="Being processed", display_name="In the warehouse",
                                      allow_cancellation=False)
    plain, shipped, paid, partly, blocked = (factories.place_order(customer) for __ in range(5))
    factories.ship(shipped, shipped.lines.first(), 1)
    factories.pay(paid, debited=paid.total_incl_tax)
    first = partly.lines.order_by("pk").first()
    cancel_order(partly, user=staff, lines={first.pk: first.quantity}, channel="dashboard")
    blocked.set_status("Being processed")
    orders = [plain, shipped, paid, partly, blocked]
    numbers = [str(o.number) for o in orders]
    by_number = load_contexts_by_number([*numbers, "NO-SUCH-ORDER"])
    by_id = load_contexts(orders)
    assert set(by_number) == set(numbers)
    codes = set()
    for order in orders:
        light, model = by_number[str(order.number)], by_id[order.pk]
        assert isinstance(light.order, OrderFacts) and all(isinstance(x, LineFacts) for x in light.lines)
        assert [line.pk for line in light.lines] == [line.pk for line in model.lines]
        for force in (False, True):
            for lines in (None, {line.pk: 1 for line in model.lines[-1:]}):
                decision = evaluate(light, staff, lines=lines, force=force, channel="batch")
                assert decision == evaluate(model, staff, lines=lines, force=force, channel="batch")
                codes.add(decision.code)
    assert {"ok", "quantity_not_cancellable", "paid_needs_force", "not_cancellable_status"} <= codes
