"""The package's Python API, the one door: every surface calls these, never the engine or the job queue.

``cancel_order(order, *, user, lines=None, reason="", note="", comment="", force=False,
refund=False, channel=None, on_behalf_of=None, notify_customer=None)`` cancels an
order, or ``lines`` (``{line: quantity}``) of it, and returns the ``OrderCancellation``.
It raises ``CancellationError`` and changes nothing when refused or when any step fails.
``cancel_many(requests)`` is its batch form: a list of ``CancelRequest``, one
``CancelOutcome`` each; ``CancelRequest`` is the one request shape of both.
``preview_cancellation(facts, decision, refund=...)`` says what a cancellation would
do (stock released, amounts voided and refunded), computed by the engine's own steps,
and changes nothing. ``is_applying(order)`` says whether the engine itself is moving
``order``'s status right now (the order fork's ``EventHandler`` lets such a change through).

In request mode, ``confirm_cancellation(cancellation)`` and
``reject_cancellation(cancellation, reason=...)`` settle a requested cancellation.

``resubmit_order(order, *, user)`` places a cancelled order again as a new order;
``resubmit_lines(order)`` says what it would order (or raises why it cannot).

Withdrawal (the EU "withdraw from contract here" function):
``declare_withdrawal(order, *, name, email, lines=None, user=None, channel=None)`` records
a withdrawal declaration, cancels at once what has not shipped and returns the
``WithdrawalDeclaration``; ``can_withdraw(order, user=None, lines=None)`` asks first and
``preview_withdrawal(order, decision)`` says what would be cancelled at once;
``withdrawal_context(declaration)`` is what its acknowledgement and receipt show. Staff
then ``record_goods_received(declaration, user=...)``, ``refund_withdrawal(declaration,
user=..., amount=None)`` (default ``refund_due(declaration)``) and ``close_withdrawal``.

Cancel-processor jobs: ``retry_job(job, user=...)`` delivers a pending or failed job
now, ``resend_job(job, user=...)`` delivers a finished one again under the same
idempotency key, and ``give_up_job(job, user=..., reason="")`` stops retrying
(``may_retry`` / ``may_resend`` / ``may_give_up`` say whether each is offered).
``job_counts``, ``attention_list``, ``waiting_requests``, ``failing_processors``,
``job_note`` and ``delivery_summaries`` answer what staff pages show;
``dispatch_jobs`` and ``deliver_due_jobs`` wake workers for due jobs or deliver
them in this process.
"""

from oscar_ordercancel.engine.batch import CancelOutcome, CancelRequest, cancel_many
from oscar_ordercancel.engine.cancel import cancel_order, confirm_cancellation, reject_cancellation
from oscar_ordercancel.engine.preview import Preview, preview_cancellation
from oscar_ordercancel.engine.resubmit import resubmit_lines, resubmit_order
from oscar_ordercancel.engine.steps import is_applying
from oscar_ordercancel.engine.withdrawal import (
    close_withdrawal,
    declaration_content,
    declare_withdrawal,
    preview_withdrawal,
    record_goods_received,
    refund_due,
    refund_withdrawal,
)
from oscar_ordercancel.jobs.delivery import deliver_due as deliver_due_jobs
from oscar_ordercancel.jobs.delivery import dispatch as dispatch_jobs
from oscar_ordercancel.jobs.monitor import (
    attention_list,
    delivery_summaries,
    failing_processors,
    job_counts,
    job_note,
    may_give_up,
    may_resend,
    may_retry,
    waiting_requests,
)
from oscar_ordercancel.jobs.monitor import give_up as give_up_job
from oscar_ordercancel.jobs.monitor import resend as resend_job
from oscar_ordercancel.jobs.monitor import retry_now as retry_job
from oscar_ordercancel.notifications import withdrawal_context
from oscar_ordercancel.policy import can_cancel, can_withdraw

__all__ = ["CancelOutcome", "CancelRequest", "Preview", "attention_list", "can_cancel",
           "can_withdraw", "cancel_many", "cancel_order", "close_withdrawal",
           "confirm_cancellation", "declaration_content", "declare_withdrawal", "deliver_due_jobs",
           "delivery_summaries", "dispatch_jobs", "failing_processors", "give_up_job",
           "is_applying", "job_counts", "job_note", "may_give_up", "may_resend", "may_retry",
           "preview_cancellation", "preview_withdrawal", "record_goods_received", "refund_due",
           "refund_withdrawal", "reject_cancellation", "resend_job", "resubmit_lines",
           "resubmit_order", "retry_job", "waiting_requests", "withdrawal_context"]
