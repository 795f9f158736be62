"""Signals of the cancellation lifecycle.

``order_*`` signals are sent with ``sender`` = the concrete Order model class
(``get_model("order", "Order")``), so ``connect(receiver, sender=Order)`` works.
"""

from django.dispatch import Signal

#: Before any change, inside the transaction, with the order row locked.
#: kwargs: order, user, quantities ({line: qty}), full, reason, channel, force, refund.
#: A receiver may raise ``CancellationVetoed`` to refuse; nothing is changed then.
order_cancellation_requested = Signal()

#: Inside the transaction, after the change (immediate mode, or when a request is
#: confirmed). kwargs: order, cancellation, user, notify_customer, role, and
#: cancelled_lines (the records in memory, in a batch chunk; None otherwise).
order_cancelled = Signal()

#: Request mode: a cancellation was recorded and waits for the processors, inside the
#: transaction. kwargs: order, cancellation, user, notify_customer, role.
order_cancellation_pending = Signal()

#: A requested cancellation was refused (by a processor or staff).
#: kwargs: order, cancellation, reason, user.
order_cancellation_rejected = Signal()

#: Cancel-processor job outcomes, sent after the outcome committed, sender = the CancelJob model.
#: kwargs: job; ``cancel_job_failed`` also ``error`` and ``final`` (False: it will be
#: retried; True: retries are exhausted, the failure is permanent, or staff gave up).
cancel_job_succeeded = Signal()
cancel_job_failed = Signal()

#: A cancelled order was placed again as a new order (``services.resubmit_order``), inside
#: the transaction. kwargs: order (the new one), original, user.
order_resubmitted = Signal()

#: A processor refused the cancellation (kwargs: job, reason). In request mode the
#: request is then declined (``order_cancellation_rejected``); in immediate mode the
#: cancellation stays done on the shop side and goes on the attention list.
cancel_job_rejected = Signal()

#: Staff are alerted that a processor failed ``count`` jobs in a row (kwargs: processor,
#: count, jobs). Sent once when the streak reaches ``OSCAR_ORDERCANCEL_FAILURE_ALERT_THRESHOLD``.
cancel_processor_failing = Signal()

#: A withdrawal was declared (``services.declare_withdrawal``), inside the transaction,
#: sender = the WithdrawalDeclaration model. kwargs: declaration.
withdrawal_declared = Signal()

#: Staff refunded a withdrawal's awaiting lines, inside the transaction, sender = the
#: WithdrawalDeclaration model. kwargs: declaration, amount.
withdrawal_refunded = Signal()
