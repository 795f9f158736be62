"""The job queue: cancel jobs that tell the shop's ERP / fulfilment systems about cancellations.

``outbox`` writes a job per cancellation and processor in the cancellation's own
transaction (the ``order_cancelled`` receiver) and wakes a worker after commit;
``statements`` holds the claim and outcome SQL; ``delivery`` is the worker that
claims jobs, runs processors, records attempts and retries (``worker`` is what a
worker process keeps between tasks: the jobs it ran while topping up); ``monitor`` holds the
staff job actions and what the staff pages show about delivery.
"""
