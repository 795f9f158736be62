"""Preview: every row of a file is one policy decision, stored on a new batch; nothing changes.

Rows are read, decided and stored in chunks of ``PREVIEW_CHUNK`` rows (one query
for the chunk's orders with their facts, one for their lines with theirs, both
read as tuples rather than model instances, and one ``COPY`` of the rows), so a
100,000-row file is streamed in bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import router, transaction
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_ordercancel.abstract_models import Channel
from oscar_ordercancel.batches.messages import policy_params, render, short
from oscar_ordercancel.batches.reader import RowSource, open_rows
from oscar_ordercancel.conf import get_setting, reason_choices
from oscar_ordercancel.db.bulk import copy_columns_later
from oscar_ordercancel.db.overlap import alongside
from oscar_ordercancel.db.transactions import without_jit
from oscar_ordercancel.limits import FIELDS, MAX_INTEGER, check_length
from oscar_ordercancel.policy import (
    actor_role,
    contexts_from_facts,
    evaluate,
    pinned_partners,
    read_facts_by_number,
)
from oscar_ordercancel.policy.context import FactRows

CancellationBatch = get_model("oscar_ordercancel", "CancellationBatch")
CancellationBatchRow = get_model("oscar_ordercancel", "CancellationBatchRow")

PREVIEW_CHUNK = 10000
YES = {"1", "y", "yes", "true", "x", "on"}
NO = {"0", "n", "no", "false", "off"}


@contextmanager
def pinned_actor(user) -> Iterator[None]:
    """Look the user's partners up once for a whole batch instead of once per row."""
    if user is None or actor_role(user, Channel.BATCH) != "partner":
        yield
        return
    with pinned_partners(user):
        yield


class RowError(Exception):
    """A row that cannot be cancelled: a code and the parameters of its message."""

    def __init__(self, code: str, params: dict | None = None) -> None:
        self.code, self.params = code, dict(params or {})
        super().__init__(code)


def _flag(values: dict, column: str, default: bool) -> bool:
    text = values.get(column, "").strip().lower()
    if not text:
        return default
    if text in YES:
        return True
    if text in NO:
        return False
    raise RowError("invalid_flag", {"column": column, "value": short(values.get(column, ""))})


def _reason(values: dict, default: str) -> str:
    text = values.get("reason", "").strip()
    if not text:
        return default
    choices = reason_choices()
    for code, label in choices:
        if text.lower() in (code.lower(), str(label).lower()):
            return code
    raise RowError("invalid_reason", {"value": short(text), "codes": [code for code, __ in choices]})


def _limited(values: dict, column: str) -> str:
    """The cell of ``column``; a value over its limit (``oscar_ordercancel.limits``) refuses the row."""
    text = values.get(column, "").strip()
    if len(text) > FIELDS[column][0]:
        raise RowError("too_long", {"field": column, "length": len(text)})
    return text


def _quantity(values: dict) -> int:
    """A whole number from 1 to ``MAX_INTEGER``."""
    text = values.get("quantity", "").strip()
    if not text:
        raise RowError("missing_quantity")
    if not (text.isascii() and text.isdigit()) or not text.strip("0"):
        raise RowError("invalid_quantity", {"value": short(text)})
    if len(text.lstrip("0")) > len(str(MAX_INTEGER)) or int(text) > MAX_INTEGER:
        raise RowError("quantity_too_large", {"value": short(text.lstrip("0")), "max": MAX_INTEGER})
    return int(text)


@dataclass
class ParsedRow:
    """A row's values after parsing, and its verdict."""

    number: int
    raw: dict
    order_number: str = ""
    sku: str = ""
    quantity: int | None = None
    options: dict = field(default_factory=dict)
    code: str = ""
    #: What the message is made of (``oscar_ordercancel.batches.messages``).
    params: dict = field(default_factory=dict)
    #: A refusal's own words, for a message the catalogue cannot write again (a veto's).
    stored_message: str = ""

    @property
    def message(self) -> str:
        """The row's message in the active language."""
        return render(self.code or "will_cancel", self.params, self.stored_message)

    def refuse(self, code: str, params: dict | None = None) -> None:
        """Mark the row refused with ``code``."""
        self.code, self.params = code, dict(params or {})

    @property
    def ok(self) -> bool:
        """Whether nothing refused the row so far."""
        return not self.code


def parse_row(number: int, values: dict, batch) -> ParsedRow:
    """Read one row's values with the batch's defaults; a bad value refuses the row."""
    row = ParsedRow(number, values)
    try:
        row.order_number = _limited(values, "order_number")
        if not row.order_number:
            raise RowError("missing_order_number")
        if batch.kind == "lines":
            row.sku = _limited(values, "sku")
            if not row.sku:
                raise RowError("missing_sku")
            row.quantity = _quantity(values)
        row.options = {
            "reason": _reason(values, batch.reason),
            "note": _limited(values, "note") or batch.note,
            "force": _flag(values, "force", batch.force),
            "refund": _flag(values, "refund", batch.refund),
        }
    except RowError as exc:
        row.refuse(exc.code, exc.params)
    return row


def _sku_lines(ctx, sku: str, quantity: int) -> dict[int, int]:
    """Spread ``quantity`` over the order's lines with ``sku`` (most lines have their own SKU)."""
    lines = [line for line in ctx.lines if (line.partner_sku or "").strip() == sku]
    if not lines:
        return {}
    wanted, left = {}, quantity
    for line in lines:
        take = min(left, ctx.cancellable_quantity(line))
        if take > 0:
            wanted[line.pk] = take
            left -= take
    if left > 0:  # more than there is: let the policy say how much is available
        return {lines[0].pk: quantity}
    return wanted


def _sku_facts(ctx, sku: str, asked: int) -> dict:
    """How much of ``sku`` the order has, how much is left to cancel, and what holds the rest."""
    lines = [line for line in ctx.lines if (line.partner_sku or "").strip() == sku]
    statuses = get_setting("OSCAR_ORDERCANCEL_CANCELLABLE_LINE_STATUSES")
    return {
        "sku": sku, "asked": asked, "ordered": sum(line.quantity for line in lines),
        "available": sum(ctx.cancellable_quantity(line) for line in lines),
        "shipped": sum(ctx.shipped.get(line.pk, 0) for line in lines),
        "cancelled": sum(ctx.cancelled.get(line.pk, 0) for line in lines),
        "processing": sorted({line.status for line in lines
                              if ctx.remaining_quantity(line) and line.status not in statuses}),
    }


def _will_cancel(ctx, decision) -> dict:
    if decision.full:
        return {"full": True}
    lines = ctx.lines_by_id
    return {"items": [[qty, lines[pk].title] for pk, qty in decision.quantities.items()]}


def _read_facts(rows: list[ParsedRow] | None) -> FactRows:
    """What the policy needs to know of the orders the valid ``rows`` name (database work only)."""
    return read_facts_by_number({row.order_number for row in rows or () if row.ok})


def decide_rows(rows: list[ParsedRow], batch, user, contexts: dict | None = None,
                role: str | None = None) -> dict[str, object]:
    """Decide the parsed rows of one chunk with the policy (on ``contexts``, the facts of their
    orders by number, read now when not given; ``role``: the user's, when known); return
    their orders' ids by number."""
    if contexts is None:
        contexts = contexts_from_facts(_read_facts(rows))
    if role is None:
        role = actor_role(user, batch.channel)
    lines_batch = batch.kind == "lines"
    for row in rows:
        if not row.ok:
            continue
        ctx = contexts.get(row.order_number)
        if ctx is None:
            row.refuse("unknown_order")
            continue
        lines = None
        if lines_batch:
            lines = _sku_lines(ctx, row.sku, row.quantity)
            if not lines:
                row.refuse("sku_not_in_order", {"sku": short(row.sku), "number": row.order_number})
                continue
            row.options["lines"] = {str(pk): qty for pk, qty in lines.items()}
        decision = evaluate(ctx, user, lines=lines, force=row.options["force"], channel=batch.channel,
                            role=role)
        if decision:
            row.params = _will_cancel(ctx, decision)
        elif decision.code == "quantity_not_cancellable" and lines_batch:
            row.refuse(decision.code, _sku_facts(ctx, row.sku, row.quantity))
        else:
            row.refuse(decision.code, policy_params(decision.code, decision.message, decision.params))
            row.stored_message = decision.message
    return {number: ctx.order.pk for number, ctx in contexts.items()}


def create_batch(stream, file_name: str, kind: str, user, *, reason: str = "", note: str = "",
                 force: bool = False, refund: bool = False, notify_customer: bool | None = None,
                 channel: str = Channel.BATCH):
    """Check the file, then preview every row into a new batch; raises ``FileRefused`` (or
    ``CancellationError`` ``note_too_long`` for a default note over its limit)."""
    check_length("note", note)
    source = open_rows(stream, file_name, kind)
    batch = CancellationBatch(
        user=user if getattr(user, "is_authenticated", False) else None,
        file_name=file_name[:255], kind=kind, channel=channel, reason=reason, note=note,
        force=force, refund=refund, notify_customer=notify_customer,
    )
    with transaction.atomic():
        without_jit()
        batch.save()
        preview_rows(batch, source, user)
    return batch


def preview_rows(batch, source: RowSource | Iterable, user) -> None:
    """Decide and store the rows of ``source`` on ``batch``, chunk by chunk.

    On PostgreSQL, while the policy decides one chunk, a helper thread writes the
    rows of the chunk before it (``COPY``) and reads the facts of the chunk after
    it, on the same connection and in the same transaction
    (``db.overlap.alongside``): the database's work and Python's overlap.
    """
    chunks = _parsed_chunks(batch, source)
    role = actor_role(user, batch.channel)  # asked here: deciding then needs no query
    try:
        with pinned_actor(user), alongside(router.db_for_write(CancellationBatchRow)) as submit:
            chunk = next(chunks, None)
            job, write = submit(_write_and_read, None, chunk), None
            while chunk is not None:
                following = next(chunks, None)  # read from the file while the job runs
                facts = job.result()  # the connection is free again
                job = submit(_write_and_read, write, following)
                write = copy_columns_later(CancellationBatchRow,
                                           _decide_chunk(batch, chunk, user, facts, role))
                chunk = following
            job.result()
            if write is not None:
                write()
    finally:
        chunks.close()  # the file's reader lets go of the stream now, not when collected
    batch.save(update_fields=["total_rows", "valid_rows"])


def _write_and_read(write: Callable[[], None] | None, rows: list[ParsedRow] | None) -> FactRows | None:
    """The database work between two decisions: write one chunk's rows, then read the facts of
    the next chunk's ``rows``."""
    if write is not None:
        write()
    return _read_facts(rows) if rows else None


def _parsed_chunks(batch, source: RowSource | Iterable) -> Iterator[list[ParsedRow]]:
    """The rows of ``source`` parsed, ``PREVIEW_CHUNK`` at a time; a repeated row (same order
    and SKU) is refused as a duplicate of the first."""
    seen: dict[tuple, int] = {}
    chunk: list[ParsedRow] = []
    for number, values in source:
        row = parse_row(number, values, batch)
        if row.ok:
            key = (row.order_number, row.sku)
            if key in seen:
                row.refuse("duplicate_row", {"row": seen[key], "sku": bool(row.sku)})
            else:
                seen[key] = row.number
        chunk.append(row)
        if len(chunk) >= PREVIEW_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _decide_chunk(batch, chunk: list[ParsedRow], user, facts: FactRows, role: str) -> dict[str, list]:
    """Decide ``chunk`` on the ``facts`` of its orders and return its rows as columns to store
    (no query)."""
    order_ids = decide_rows(chunk, batch, user, contexts_from_facts(facts), role)
    will_cancel, error = (CancellationBatchRow.Preview.WILL_CANCEL.value,
                          CancellationBatchRow.Preview.ERROR.value)
    batch.total_rows += len(chunk)
    batch.valid_rows += sum(1 for row in chunk if row.ok)
    return {
        "batch_id": [batch.pk] * len(chunk),
        "row_number": [row.number for row in chunk],
        "raw": [row.raw for row in chunk],
        "order_number": [row.order_number[:128] for row in chunk],
        "order_id": [order_ids.get(row.order_number) for row in chunk],
        "sku": [row.sku[:128] for row in chunk],
        "quantity": [row.quantity for row in chunk],
        "options": [row.options for row in chunk],
        "preview_status": [error if row.code else will_cancel for row in chunk],
        "preview_code": [row.code for row in chunk],
        # A row's words are written when shown (``batches.messages``), from its code and
        # parameters; the text is kept only for a refusal that may have no code of its own.
        "preview_message": [(row.stored_message or row.message) if row.code else "" for row in chunk],
        "preview_params": [row.params for row in chunk],
    }


def create_batch_for_orders(orders, user, *, reason: str = "", note: str = "", force: bool = False,
                            refund: bool = False, notify_customer: bool | None = None,
                            label: str = ""):
    """Preview a batch of whole orders from a queryset (e.g. an order-list selection over the
    bulk limit) instead of a file; start it with ``runner.start_batch``."""
    check_length("note", note)
    batch = CancellationBatch(
        user=user if getattr(user, "is_authenticated", False) else None,
        file_name=(label or _("Order list selection"))[:255], kind="orders",
        channel=Channel.BATCH, reason=reason, note=note, force=force, refund=refund,
        notify_customer=notify_customer)
    numbers = orders.order_by("pk").values_list("number", flat=True).iterator(chunk_size=2000)
    with transaction.atomic():
        without_jit()
        batch.save()
        preview_rows(batch, ((index, {"order_number": str(number)})
                             for index, number in enumerate(numbers, start=1)), user)
    return batch
