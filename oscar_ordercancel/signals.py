"""Signals of the cancellation lifecycle.

``order_*`` signals are sent with ``sender`` = the concrete Order model class
(``get_model("order", "Order")``), so ``connect(receiver, sender=Order)`` works.
"""

from django.dispatch import Signal

#: Before any change, inside the transaction, with the order row locked.
#: kwargs: order, user, quantities ({line: qty}), full, reason, channel, force, refund.
#: A receiver may raise ``CancellationVetoed`` to refuse; nothing is changed then.
order_cancellation_requested = Signal()

#: Inside the transaction, after the change. kwargs: order, cancellation, user.
order_cancelled = Signal()

#: A cancel processor refused a requested cancellation. kwargs: order, cancellation, reason.
order_cancellation_rejected = Signal()

#: Cancel-processor job outcomes. kwargs: job; ``cancel_job_failed`` also ``error``, ``final``.
cancel_job_succeeded = Signal()
cancel_job_failed = Signal()
