"""A withdrawal declaration in one transaction, built on the cancellation engine.

``declare_withdrawal`` locks the order, asks the withdrawal policy again under the
lock, cancels at once (through :func:`~oscar_ordercancel.engine.cancel.cancel_order`:
channel ``withdrawal``, reason ``withdrawal``, payment refunded, stock released once)
the withdrawn units that the cancellation policy would still let go (neither shipped
nor being prepared), records the declaration and its lines (what was declared and
its SHA-256 digest, never changed afterwards), leaves the other units
``awaiting_return`` with a refund due date, adds a note to the order and sends
``withdrawal_declared``, whose receivers write an ``OrderWithdrawal`` job per
cancel processor and send the acknowledgement after the commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel import signals
from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.conf import get_setting
from oscar_ordercancel.db.transactions import cancellation_transaction
from oscar_ordercancel.engine.cancel import cancel_order
from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.messages import message_for
from oscar_ordercancel.policy import evaluate, load_context
from oscar_ordercancel.policy.withdrawal import decide_withdrawal, load_withdrawal_facts

logger = logging.getLogger(__name__)

Order = get_model("order", "Order")
WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
WithdrawalDeclarationLine = get_model("oscar_ordercancel", "WithdrawalDeclarationLine")

#: The reason code of the cancellations a withdrawal makes.
WITHDRAWAL_REASON = "withdrawal"
#: Characters of a declaration's reference after its ``W-`` (upper-case letters and digits).
REFERENCE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
NAME_MAX = 255
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def new_reference() -> str:
    """A fresh reference such as ``W-7KQ3-M9XD`` (unambiguous characters, 40 bits)."""
    code = "".join(secrets.choice(REFERENCE_CHARS) for __ in range(8))
    return f"W-{code[:4]}-{code[4:]}"


def declared_content(*, reference: str, order_number: str, name: str, email: str,
                     declared: datetime, lines: list[tuple[int, str, int]]) -> dict:
    """What was declared, as the digest covers it: ``lines`` are ``(line id, title, quantity)``."""
    return {
        "reference": reference,
        "order": str(order_number),
        "name": name,
        "email": email,
        "declared": declared.isoformat(),
        "lines": [{"line": line_id, "title": title, "quantity": quantity}
                  for line_id, title, quantity in lines],
    }


def content_digest(content: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``content`` (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def declaration_content(declaration) -> dict:
    """The declared content of a recorded declaration (its lines summed per order line)."""
    quantities: dict[int, int] = {}
    titles: dict[int, str] = {}
    for record in declaration.lines.all():
        quantities[record.line_id] = quantities.get(record.line_id, 0) + record.quantity
        titles[record.line_id] = record.line.title
    return declared_content(
        reference=declaration.reference, order_number=declaration.order.number,
        name=declaration.name, email=declaration.email, declared=declaration.date_declared,
        lines=[(line_id, titles[line_id], quantity) for line_id, quantity in quantities.items()])


def client_hash(address: str | None) -> str:
    """A salted hash of a client address (the address itself is never stored); "" for none."""
    if not address:
        return ""
    return salted_hmac("oscar_ordercancel.withdrawal.client", address,
                       algorithm="sha256").hexdigest()


def clean_declarant(name, email) -> tuple[str, str]:
    """The declarant's name and e-mail address, stripped; raise ``CancellationError`` if unusable."""
    name = " ".join(str(name or "").split())
    email = str(email or "").strip()
    if not name or len(name) > NAME_MAX:
        raise CancellationError("withdrawal_name_required", message_for("withdrawal_name_required"))
    try:
        validate_email(email)
    except ValidationError:
        raise CancellationError("withdrawal_email_invalid",
                                message_for("withdrawal_email_invalid")) from None
    return name, email


def _cancellable_at_once(order, user, wanted: dict[int, int], *, lock: bool = True) -> dict[int, int]:
    """Of the withdrawn units, those the cancellation policy would still cancel now."""
    ctx = load_context(order, lock=lock)
    if evaluate(ctx, user, lines=wanted, force=True, channel=Channel.WITHDRAWAL):
        return dict(wanted)
    lines = ctx.lines_by_id
    at_once = {line_id: min(quantity, ctx.cancellable_quantity(lines[line_id]))
               for line_id, quantity in wanted.items() if line_id in lines}
    at_once = {line_id: quantity for line_id, quantity in at_once.items() if quantity > 0}
    if at_once and evaluate(ctx, user, lines=at_once, force=True, channel=Channel.WITHDRAWAL):
        return at_once
    return {}


def preview_withdrawal(order, decision, user=None) -> list[dict]:
    """What confirming ``decision`` (an allowed ``can_withdraw``) would declare, line by line:
    ``{"line", "quantity", "at_once"}`` (units cancelled at once; the rest await return).
    Changes nothing."""
    customer = user if getattr(user, "is_authenticated", False) else None
    at_once = _cancellable_at_once(order, customer, dict(decision.quantities), lock=False)
    lines = {line.pk: line for line in order.lines.filter(pk__in=list(decision.quantities))}
    return [{"line": lines[pk], "quantity": quantity, "at_once": at_once.get(pk, 0)}
            for pk, quantity in sorted(decision.quantities.items()) if pk in lines]


def _cancel_at_once(order, user, at_once: dict[int, int], reference: str):
    """Cancel ``at_once`` (refunding it); None when the engine refuses or a step fails.

    A withdrawal is recorded even then: its units wait as ``awaiting_return`` and staff
    refund them from the Withdrawals screen (a savepoint undoes the failed attempt).
    """
    if not at_once:
        return None
    lines = {line.pk: line for line in order.lines.filter(pk__in=list(at_once))}
    try:
        with transaction.atomic():
            return cancel_order(
                order, user=user, lines={lines[pk]: qty for pk, qty in at_once.items()},
                reason=WITHDRAWAL_REASON, channel=Channel.WITHDRAWAL, refund=True, force=True,
                notify_customer=False,  # the acknowledgement says it all
                note=_("Withdrawal %(reference)s") % {"reference": reference})
    except CancellationError as exc:
        logger.warning("Withdrawal %s of order %s: the lines not yet shipped were not cancelled "
                       "at once (%s); they wait for staff", reference, order.number, exc.code)
        return None


def declare_withdrawal(order, *, name: str, email: str, lines: Mapping | None = None, user=None,
                       channel: str | None = None, client_address: str | None = None,
                       request_key: str | None = None):
    """Record a withdrawal from ``order`` (or ``lines``: ``{line: qty}``); return the declaration.

    ``channel`` is one of ``WithdrawalDeclaration.Channel`` (default: ``account`` for a
    signed-in customer, else ``guest``). ``request_key`` makes a confirmation single-use:
    a second call with the same key returns the first declaration and changes nothing.
    Raises ``CancellationError`` (the withdrawal policy's code) and records nothing when
    refused.
    """
    name, email = clean_declarant(name, email)
    customer = user if getattr(user, "is_authenticated", False) else None
    if channel is None:
        channel = (WithdrawalDeclaration.Channel.ACCOUNT if customer
                   else WithdrawalDeclaration.Channel.GUEST)
    try:
        with cancellation_transaction():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            if request_key:
                done = WithdrawalDeclaration.objects.filter(request_key=request_key).first()
                if done is not None:
                    return done
            now = timezone.now()
            decision = decide_withdrawal(load_withdrawal_facts(locked, now=now), user=customer,
                                         lines=lines)
            if not decision:
                raise decision.error()
            declaration = _record(locked, decision.quantities, name=name, email=email,
                                  customer=customer, channel=channel, now=now,
                                  client_address=client_address, request_key=request_key)
            signals.withdrawal_declared.send(sender=WithdrawalDeclaration, declaration=declaration)
    except IntegrityError:
        done = request_key and WithdrawalDeclaration.objects.filter(request_key=request_key).first()
        if done:  # the same confirmation, recorded meanwhile by a simultaneous request
            return done
        raise
    order.status = declaration.order.status
    return declaration


def _record(order, wanted: dict[int, int], *, name, email, customer, channel, now, client_address,
            request_key):
    """Cancel what may go at once, then write the declaration, its lines and an order note."""
    reference = new_reference()
    at_once = _cancellable_at_once(order, customer, wanted)
    cancellation = _cancel_at_once(order, customer, at_once, reference)
    if cancellation is None:
        at_once = {}
    lines = {line.pk: line for line in order.lines.filter(pk__in=list(wanted)).order_by("pk")}
    awaiting = any(wanted[pk] > at_once.get(pk, 0) for pk in wanted)
    content = declared_content(
        reference=reference, order_number=order.number, name=name, email=email, declared=now,
        lines=[(pk, lines[pk].title, wanted[pk]) for pk in lines])
    State = WithdrawalDeclaration.State
    declaration = WithdrawalDeclaration.objects.create(
        order=order, reference=reference, name=name, email=email, user=customer, channel=channel,
        date_declared=now, state=State.AWAITING_RETURN if awaiting else State.CANCELLED,
        refund_due_by=now + get_setting("OSCAR_ORDERCANCEL_WITHDRAWAL_REFUND_WITHIN")
        if awaiting else None,
        cancellation=cancellation, content_digest=content_digest(content),
        client_hash=client_hash(client_address), request_key=request_key or None)
    Outcome = WithdrawalDeclarationLine.Outcome
    records = []
    for pk, line in lines.items():
        cancelled = at_once.get(pk, 0)
        if cancelled:
            records.append(WithdrawalDeclarationLine(declaration=declaration, line=line,
                                                     quantity=cancelled, outcome=Outcome.CANCELLED))
        if wanted[pk] > cancelled:
            records.append(WithdrawalDeclarationLine(
                declaration=declaration, line=line, quantity=wanted[pk] - cancelled,
                outcome=Outcome.AWAITING_RETURN))
    WithdrawalDeclarationLine.objects.bulk_create(records)
    get_model("order", "OrderNote").objects.create(
        order=order, note_type="System",
        message=_("Withdrawal %(reference)s declared by %(name)s: %(state)s.") % {
            "reference": reference, "name": name, "state": declaration.get_state_display()})
    return declaration


# -- staff: goods received, refund, close ------------------------------------------------


def _lock_declaration(declaration):
    """Lock the order row, then the declaration's (the order row is every writer's first lock)."""
    Order.objects.select_for_update().filter(pk=declaration.order_id).exists()
    return (WithdrawalDeclaration.objects.select_for_update().select_related("order")
            .get(pk=declaration.pk))


def _staff_note(declaration, user, message: str) -> None:
    get_model("order", "OrderNote").objects.create(
        order=declaration.order, user=user if getattr(user, "is_authenticated", False) else None,
        note_type="System", message=message)


def refund_due(declaration) -> Decimal:
    """What is still to refund for the units awaiting return (capped by what was taken).

    Their price; for a withdrawal from the whole order (every unit of every line, this
    declaration with the lines cancelled at once) also the standard delivery charge,
    unless the cancellation at once already refunded it (it does when it cancels the
    whole order). Partial withdrawals do not refund the delivery charge.
    """
    from oscar_ordercancel.payment import cancelled_value, get_payment_handler

    order = declaration.order
    records = list(declaration.lines.select_related("line"))
    awaiting = {}
    for record in records:
        if record.outcome == WithdrawalDeclarationLine.Outcome.AWAITING_RETURN:
            awaiting[record.line_id] = awaiting.get(record.line_id, 0) + record.quantity
    lines = {record.line_id: record.line for record in records}
    amount = cancelled_value(lines, awaiting) if awaiting else ZERO
    withdrawn = {}
    for record in records:
        withdrawn[record.line_id] = withdrawn.get(record.line_id, 0) + record.quantity
    whole = all(withdrawn.get(line.pk, 0) >= line.quantity for line in order.lines.all())
    if whole and not (declaration.cancellation_id and declaration.cancellation.is_full):
        amount += order.shipping_incl_tax or ZERO
    sources = list(get_model("payment", "Source").objects.filter(order=order))
    return min(amount, get_payment_handler().amount_debited(order, sources)).quantize(CENT)


def record_goods_received(declaration, *, user=None):
    """Staff record that the withdrawn goods are back (or proof of sending was given)."""
    with cancellation_transaction():
        declaration = _lock_declaration(declaration)
        if declaration.state != WithdrawalDeclaration.State.AWAITING_RETURN:
            raise CancellationError("withdrawal_not_awaiting", message_for("withdrawal_not_awaiting"))
        if declaration.date_goods_received is None:
            declaration.date_goods_received = timezone.now()
            declaration.save(update_fields=["date_goods_received"])
            _staff_note(declaration, user, _("Withdrawal %(reference)s: goods received.")
                        % {"reference": declaration.reference})
    return declaration


def refund_withdrawal(declaration, *, user=None, amount: Decimal | None = None):
    """Refund the units awaiting return (``amount``, default :func:`refund_due`) through the
    payment handler, to the original payment; the declaration is then ``refunded``."""
    from oscar_ordercancel.payment import get_payment_handler

    with cancellation_transaction():
        declaration = _lock_declaration(declaration)
        if declaration.state != WithdrawalDeclaration.State.AWAITING_RETURN:
            raise CancellationError("withdrawal_not_awaiting", message_for("withdrawal_not_awaiting"))
        order = declaration.order
        sources = list(get_model("payment", "Source").objects.select_for_update().filter(order=order))
        handler = get_payment_handler()
        due = refund_due(declaration)
        amount = due if amount is None else Decimal(amount).quantize(CENT)
        debited = handler.amount_debited(order, sources)
        if amount < 0 or amount > debited:
            raise CancellationError("withdrawal_refund_invalid",
                                    message_for("withdrawal_refund_invalid", most=f"{debited:.2f}"))
        refunded = handler.refund_withdrawal(order, sources, amount, declaration)
        now = timezone.now()
        declaration.state = WithdrawalDeclaration.State.REFUNDED
        declaration.refund_amount = refunded
        declaration.date_refunded = now
        declaration.save(update_fields=["state", "refund_amount", "date_refunded"])
        _staff_note(declaration, user, _("Withdrawal %(reference)s: %(amount)s refunded.")
                    % {"reference": declaration.reference, "amount": f"{refunded:.2f} {order.currency}"})
        signals.withdrawal_refunded.send(sender=WithdrawalDeclaration, declaration=declaration,
                                         amount=refunded)
    return declaration


def close_withdrawal(declaration, *, user=None, note: str = ""):
    """Staff close a declaration that needs nothing more (cancelled at once, or refunded)."""
    with cancellation_transaction():
        declaration = _lock_declaration(declaration)
        State = WithdrawalDeclaration.State
        if declaration.state not in (State.CANCELLED, State.REFUNDED):
            raise CancellationError("withdrawal_not_closable", message_for("withdrawal_not_closable"))
        declaration.state = State.CLOSED
        declaration.date_closed = timezone.now()
        if note:
            declaration.staff_note = "\n".join(filter(None, [declaration.staff_note, note]))
        declaration.save(update_fields=["state", "date_closed", "staff_note"])
        _staff_note(declaration, user, _("Withdrawal %(reference)s closed.")
                    % {"reference": declaration.reference})
    return declaration
