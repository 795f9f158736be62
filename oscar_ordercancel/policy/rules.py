"""The one place that decides whether an actor may cancel an order, or some of it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from oscar.core.loading import get_model

from oscar_ordercancel.abstract_models import CUSTOMER_CHANNELS, Channel
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.policy.context import CancellationContext, status_settings
from oscar_ordercancel.policy.decision import Decision, message_for

STAFF_PERMISSIONS = ("oscar_ordercancel.cancel_order", "order.change_order")
PARTNER_PERMISSION = "partner.dashboard_access"
STAFF_CHANNELS = frozenset({Channel.DASHBOARD, Channel.ADMIN_API, Channel.BATCH, Channel.CLI})


def is_cancelling_staff(user) -> bool:
    """Whether ``user`` may cancel any order (our permission or Oscar's ``change_order``)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(user.has_perm(perm) for perm in STAFF_PERMISSIONS)


def may_cancel_as_staff(user) -> bool:
    """Whether ``user`` may use the staff cancel screens (dashboard, batches): cancelling
    staff, or partner users, whom the policy then limits to their partners' orders."""
    return actor_role(user, Channel.DASHBOARD) in ("staff", "partner")


def actor_role(user, channel: str | None) -> str:
    """Classify the actor: ``customer``, ``guest``, ``staff``, ``partner``, ``system`` or ``none``."""
    if channel == Channel.GUEST:
        return "guest"
    if channel in CUSTOMER_CHANNELS:
        return "customer"
    if user is None or channel in (Channel.SYSTEM, Channel.WITHDRAWAL, Channel.EXPIRY):
        return "system"  # a withdrawal is the consumer's right, not the shop's customer rules
    if is_cancelling_staff(user):
        return "staff"
    if getattr(user, "is_authenticated", False) and user.has_perm(PARTNER_PERMISSION):
        return "partner"
    return "none" if channel in STAFF_CHANNELS else "customer"


def _check_actor(ctx: CancellationContext, user, role: str) -> Decision | None:
    order = ctx.order
    if role == "none":
        return Decision.deny("not_permitted")
    if role == "customer":
        if user is None or not user.is_authenticated or order.user_id != user.pk:
            return Decision.deny("not_owner")
    if role == "guest" and order.user_id is not None:
        return Decision.deny("not_owner")
    if role == "partner":
        own = partner_ids(user)
        if any(line.partner_id not in own for line in ctx.lines):
            return Decision.deny("partner_lines")
    return None


#: The partners pinned by ``pinned_partners`` for the code running now: ``(user pk, ids)``.
#: A context variable, so each thread (and each asyncio task) has its own, and it ends
#: with the ``with`` block that set it.
_pinned_partners: ContextVar[tuple[int, frozenset[int]] | None] = ContextVar(
    "ordercancel_pinned_partners", default=None)


def partner_ids(user) -> frozenset[int]:
    """The ids of the partners ``user`` manages: one query, unless ``pinned_partners`` pinned them."""
    pinned = _pinned_partners.get()
    if pinned is not None and pinned[0] == user.pk:
        return pinned[1]
    return frozenset(user.partners.values_list("pk", flat=True))


@contextmanager
def pinned_partners(user, ids: Iterable[int] | None = None) -> Iterator[frozenset[int]]:
    """Within the block, the policy takes ``user``'s partners to be ``ids`` without asking the database.

    For a run that decides many orders for one partner user (a CSV batch decides every
    row): their partners are read once, when the block starts (or given as ``ids``),
    instead of once per decision. Yields the pinned ids. Blocks nest; the innermost wins.
    """
    pinned = frozenset(partner_ids(user) if ids is None else ids)
    token = _pinned_partners.set((user.pk, pinned))
    try:
        yield pinned
    finally:
        _pinned_partners.reset(token)


def _check_status(ctx: CancellationContext) -> Decision | None:
    status, statuses = ctx.order.status, ctx.statuses or status_settings()
    if status == statuses.cancelled:
        return Decision.deny("already_cancelled")
    if ctx.pending_request or status == statuses.requested:
        return Decision.deny("cancellation_pending")
    if status not in ctx.settings.cancellable_statuses or ctx.status_blocked:
        stage = order_stage(ctx)
        return Decision.deny("not_cancellable_status",
                             stage_message(stage, ctx.status_display or status),
                             details={"stage": stage, "status": status})
    return None


#: The words of a status refusal, by stage (``Decision.params["stage"]``).
STAGE_MESSAGES = {"status": "status_not_cancellable", "processing": "status_processing",
                  "shipped": "status_shipped", "complete": "status_complete"}


def stage_message(stage: str, status_name: str) -> str:
    """The refusal of a status at ``stage``; ``status_name`` is what people read for the status."""
    return message_for(STAGE_MESSAGES[stage], status=status_name)


def order_stage(ctx: CancellationContext) -> str:
    """Why an order in a status that may not be cancelled cannot be: its stage.

    Told from facts rather than status names: ``complete`` when the pipeline leads
    nowhere from the status; ``shipped`` when every item is covered by shipping events
    (or cancelled); ``processing`` when some item has shipped or a line with items left
    is in a line status that may not be cancelled (``OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES``);
    otherwise nothing is being prepared, and it is the status itself that the shop's
    rules (the cancellable statuses, or the status mapping) refuse: ``status``.
    """
    pipeline = getattr(ctx.order, "pipeline", None) or {}
    if ctx.order.status in pipeline and not pipeline[ctx.order.status]:
        return "complete"
    lines = ctx.lines
    if lines and all(ctx.remaining_quantity(line) == 0 for line in lines) and any(ctx.shipped.values()):
        return "shipped"
    if any(ctx.shipped.values()) or any(
            ctx.remaining_quantity(line) and not ctx.cancellable_quantity(line) for line in lines):
        return "processing"
    return "status"


def _check_customer_rules(ctx: CancellationContext, force: bool) -> Decision | None:
    if not ctx.settings.allow_customer_cancellation:
        return Decision.deny("customer_cancellation_disabled")
    window = ctx.settings.customer_window
    if window is not None:
        now = timezone.now()
        if ctx.order.date_placed + window < now:
            return Decision.deny("window_passed", window=describe_window(window))
    if force:
        return Decision.deny("force_not_allowed")
    return None


#: The units a window is written in, largest last.
WINDOW_UNITS = [
    ("minutes", gettext_lazy("minutes")),
    ("hours", gettext_lazy("hours")),
    ("days", gettext_lazy("days")),
]


def split_window(window) -> tuple[int, str]:
    """A window as a count of its largest whole unit: ``(30, "days")``, ``(90, "minutes")``."""
    seconds = int(window.total_seconds())
    if seconds and seconds % 86400 == 0:
        return seconds // 86400, "days"
    if seconds and seconds % 3600 == 0:
        return seconds // 3600, "hours"
    return seconds // 60, "minutes"


def describe_window(window) -> str:
    """A window in the largest whole unit: "30 days", "2 hours", "30 minutes"."""
    count, unit = split_window(window)
    if unit == "days":
        return ngettext("%(count)d day", "%(count)d days", count) % {"count": count}
    if unit == "hours":
        return ngettext("%(count)d hour", "%(count)d hours", count) % {"count": count}
    count = max(count, 1)
    return ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}


def _line_key(ctx: CancellationContext, key) -> tuple[int | None, Decision | None]:
    """Resolve a ``lines`` key (a Line or its id) to a line id of this order."""
    if type(key) is int and key in ctx.lines_by_id:  # the usual case, asked for every row of a batch
        return key, None
    Line = get_model("order", "Line")
    pk = key.pk if isinstance(key, Line) else key
    if isinstance(pk, bool) or not isinstance(pk, int):
        try:
            pk = int(str(pk))
        except ValueError:
            return None, Decision.deny("unknown_line")
    if pk in ctx.lines_by_id:
        return pk, None
    if isinstance(key, Line) and key.order_id != ctx.order.pk:
        return None, Decision.deny("line_not_in_order")
    if Line.objects.filter(pk=pk).exists():
        return None, Decision.deny("line_not_in_order")
    return None, Decision.deny("unknown_line")


def _check_quantities(ctx: CancellationContext, lines: Mapping | None) -> Decision:
    if lines is None:
        for line in ctx.lines:
            if ctx.cancellable_quantity(line) < ctx.remaining_quantity(line) or ctx.shipped.get(line.pk):
                return Decision.deny(
                    "quantity_not_cancellable",
                    _("Some items of this order have already shipped or are being processed; "
                      "cancel the remaining lines one by one."),
                )
        wanted = {line.pk: ctx.cancellable_quantity(line) for line in ctx.lines}
        wanted = {pk: qty for pk, qty in wanted.items() if qty > 0}
    else:
        wanted = {}
        for key, qty in lines.items():
            pk, refusal = _line_key(ctx, key)
            if refusal is not None:
                return refusal
            if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
                return Decision.deny("invalid_quantity")
            wanted[pk] = wanted.get(pk, 0) + qty
        for pk, qty in wanted.items():
            line = ctx.lines_by_id[pk]
            available = ctx.cancellable_quantity(line)
            if qty > available:
                return Decision.deny(
                    "quantity_not_cancellable",
                    _("Line #%(line)d “%(title)s”: only %(available)d of %(quantity)d can be "
                      "cancelled; %(why)s.")
                    % {"line": pk, "title": line.title, "available": available,
                       "quantity": line.quantity, "why": _why_not_cancellable(ctx, line)},
                    details={"line": pk, "available": available},
                )
    if not wanted:
        return Decision.deny("nothing_to_cancel")
    full = not any(ctx.shipped.values()) and all(
        ctx.remaining_quantity(line) == wanted.get(line.pk, 0) for line in ctx.lines
    )
    return Decision.allow(wanted, full)


def _why_not_cancellable(ctx: CancellationContext, line) -> str:
    """Why part of a line cannot be cancelled: "2 have shipped", "1 is already cancelled"…"""
    reasons = []
    shipped, cancelled = ctx.shipped.get(line.pk, 0), ctx.cancelled.get(line.pk, 0)
    if shipped:
        reasons.append(ngettext("%(count)d has shipped", "%(count)d have shipped", shipped)
                       % {"count": shipped})
    if cancelled:
        reasons.append(ngettext("%(count)d is already cancelled", "%(count)d are already cancelled",
                                cancelled) % {"count": cancelled})
    if ctx.remaining_quantity(line) and line.status not in get_setting(
            "OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES"):
        reasons.append(_("the line is being processed (%(status)s)") % {"status": line.status})
    if not reasons and ctx.remaining_quantity(line):  # asked for more than the line has
        return ngettext("the line has %(count)d item", "the line has %(count)d items",
                        line.quantity) % {"count": line.quantity}
    return ", ".join(reasons) or _("nothing more is left")


def evaluate(
    ctx: CancellationContext,
    user,
    lines: Mapping | None = None,
    force: bool = False,
    channel: str | None = None,
    *,
    role: str | None = None,
) -> Decision:
    """Decide on loaded facts; the engine calls this again under the row locks.

    ``role`` is ``actor_role(user, channel)`` when the caller already knows it (one
    actor deciding many orders asks once).
    """
    if role is None:
        role = actor_role(user, channel)
    decision = _decide(ctx, user, role, lines, force)
    return decision.for_customer() if role in ("customer", "guest") else decision


def _decide(ctx: CancellationContext, user, role: str, lines: Mapping | None, force: bool) -> Decision:
    for refusal in (
        _check_actor(ctx, user, role),
        _check_status(ctx),
        _check_customer_rules(ctx, force) if role in ("customer", "guest") else None,
    ):
        if refusal is not None:
            return refusal
    decision = _check_quantities(ctx, lines)
    if decision and not force and ctx.amount_debited > 0:
        return Decision.deny("paid_needs_force")
    return decision
