"""Cancel-job delivery through a real Celery worker on Redis, against Celery's own throughput.

Both sides use one worker thread from ``celery.contrib.testing`` with the same
settings (solo pool, prefetch multiplier 4, ``acks_late``), the same broker and
the same way of publishing: a backlog of one message per job (as the outbox sends
one per committed cancellation) published before the worker starts, timed inside
the worker from the first task's start to the last one's end.
"""

from __future__ import annotations

import statistics
import threading
import time

from celery import Celery, current_app
from celery.contrib.testing.worker import start_worker
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from kombu import Queue

from oscar_ordercancel.processors import CancelProcessor

BROKER = "redis://127.0.0.1:6379/12"
QUEUE = "ordercancel-bench-delivery"
DB_REUSE_MAX = 1000

#: Idempotency key -> time.time() of the processor call (filled in the worker thread).
CALLS: dict[str, float] = {}
_done = {"noop": 0}
#: Distinct database connections the worker used (a reconnect per task would show here).
CONNECTIONS: set[int] = set()
_lock = threading.Lock()


class NoopProcessor(CancelProcessor):
    """Does nothing but note when it was called."""

    def process(self, payload: dict, idempotency_key: str):
        """Record the call time; succeed."""
        CALLS[idempotency_key] = time.time()
        CONNECTIONS.add(id(connection.connection))
        return self.success()


def make_app() -> Celery:
    """The benchmark's app: both sides run on it, with the same worker settings."""
    app = Celery("ordercancel-bench", broker=BROKER, set_as_current=False)
    app.conf.update(task_always_eager=False, result_backend=None, task_ignore_result=True,
                    task_default_queue=QUEUE, task_queues=[Queue(QUEUE)], task_acks_late=True,
                    worker_prefetch_multiplier=4, broker_connection_retry_on_startup=False)
    # Celery's Django fix-up closes the database connection before and after every task
    # unless told to reuse it: a reconnect per job would dominate the figures.
    app.conf["CELERY_DB_REUSE_MAX"] = DB_REUSE_MAX

    @app.task(name="ordercancel_bench.noop", ignore_result=True)
    def noop(index: int) -> None:
        with _lock:
            _done["noop"] += 1

    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    return app


def _wait(condition, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not finish in time")
        time.sleep(0.2)


def _make_jobs(cancellation_factory, count: int) -> list[int]:
    """``count`` pending jobs for the no-op processor, committed, without wake-ups."""
    from oscar_ordercancel.jobs.outbox import new_idempotency_key
    from oscar_ordercancel.models import CancelJob

    cancellations = cancellation_factory(count)
    jobs = []
    for cancellation in cancellations:
        key = new_idempotency_key()
        jobs.append(CancelJob(cancellation=cancellation, processor="noop", idempotency_key=key,
                              payload={"version": 1, "job": "OrderCancel", "idempotency_key": key,
                                       "cancellation": {"mode": "immediate"}},
                              next_attempt_at=cancellation.date_created))
    return [job.pk for job in CancelJob.objects.bulk_create(jobs, batch_size=1000)]


class DrainClock:
    """First task start to last task end, per task name, measured inside the worker."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.done: dict[str, int] = {}

    def started(self, task=None, **kwargs) -> None:
        """``task_prerun``: note the first start."""
        self.first.setdefault(task.name, time.perf_counter())

    def finished(self, task=None, **kwargs) -> None:
        """``task_postrun``: count the task and note the time."""
        self.last[task.name] = time.perf_counter()
        self.done[task.name] = self.done.get(task.name, 0) + 1

    def seconds(self, name: str) -> float:
        """The drain's span for tasks named ``name``."""
        return self.last[name] - self.first[name]


def _drain(app: Celery, clock: DrainClock, name: str, publish) -> float:
    """Publish a backlog, then start the worker and time it from first task to last."""
    publish()
    expected = app.connection_for_write().default_channel.client.llen(QUEUE)
    clock.first.pop(name, None)
    clock.done[name] = 0
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        _wait(lambda: clock.done.get(name, 0) >= expected)
    return clock.seconds(name)


def throughput(app: Celery, cancellation_factory, n: int) -> dict:
    """Seconds to drain a backlog of ``n`` jobs, and of ``n`` no-op Celery tasks, in one worker.

    The backlog is published before the worker starts, so the producer (which in
    a shop is a web process) does not share the worker's process while it is timed;
    the clock runs in the worker, from the first task's start to the last one's end.
    """
    from celery.signals import task_postrun, task_prerun

    from oscar_ordercancel.jobs.outbox import enqueue
    from oscar_ordercancel.models import CancelJob
    from oscar_ordercancel.tasks import deliver_cancel_jobs

    clock = DrainClock()
    task_prerun.connect(clock.started, weak=False)
    task_postrun.connect(clock.finished, weak=False)
    noop = app.tasks["ordercancel_bench.noop"]
    ours = deliver_cancel_jobs.name
    try:
        celery_seconds = _drain(app, clock, noop.name, lambda: [noop.delay(i) for i in range(n)])

        ids = _make_jobs(cancellation_factory, n)
        # one wake-up per job, sent as the outbox sends it when a cancellation commits
        ours_seconds = _drain(app, clock, ours,
                              lambda: [enqueue([pk], fresh=True) for pk in ids])
        drained = CancelJob.objects.filter(pk__in=ids, state="succeeded").count()

        # After an outage the dispatcher sends 100 job ids per task.
        batch_ids = _make_jobs(cancellation_factory, n)
        batch_seconds = _drain(app, clock, ours, lambda: [
            deliver_cancel_jobs.delay(batch_ids[start:start + 100]) for start in range(0, n, 100)])
        drained += CancelJob.objects.filter(pk__in=batch_ids, state="succeeded").count()
    finally:
        task_prerun.disconnect(clock.started)
        task_postrun.disconnect(clock.finished)
    if drained != 2 * n:
        raise RuntimeError(f"{2 * n - drained} jobs were not delivered")
    return {"jobs": n, "ours": ours_seconds, "batched": batch_seconds, "celery": celery_seconds}


def latency(app: Celery, order, n: int, rate: float) -> list[float]:
    """Commit ``n`` cancellations' jobs one by one at ``rate``/s; seconds from commit to call."""
    from oscar_ordercancel.jobs.outbox import write_jobs
    from oscar_ordercancel.models import OrderCancellation

    committed: dict[int, float] = {}
    keys: dict[int, str] = {}
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        for index in range(n):
            began = time.perf_counter()
            with transaction.atomic():
                cancellation = OrderCancellation.objects.create(order=order, channel="system")
                transaction.on_commit(lambda i=index: committed.__setitem__(i, time.time()))
                [job] = write_jobs(order, cancellation, mode="immediate")
                keys[index] = job.idempotency_key
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - began)))
        _wait(lambda: all(key in CALLS for key in keys.values()), timeout=120)
    return sorted(CALLS[keys[i]] - committed[i] for i in range(n))


def queries_per_job(cancellation_factory, batch: int, jobs: int = 200) -> float:
    """SQL statements per delivered job when each task carries ``batch`` job ids."""
    from oscar_ordercancel.jobs.delivery import deliver

    ids = _make_jobs(cancellation_factory, jobs)
    with CaptureQueriesContext(connection) as ctx:
        for start in range(0, len(ids), batch):
            deliver(ids[start:start + batch])
    return len(ctx.captured_queries) / len(ids)


def run(order, jobs: int = 5000, latency_jobs: int = 500, rate: float = 50.0) -> dict:
    """All delivery figures, printed in bench/run.py's style; returns them."""
    from django.test.utils import override_settings

    from oscar_ordercancel.models import OrderCancellation

    def cancellations(count: int) -> list:
        return OrderCancellation.objects.bulk_create(
            [OrderCancellation(order=order, channel="system") for __ in range(count)], batch_size=1000)

    previous = current_app._get_current_object()
    app = make_app()
    app.set_current()
    # (only for this benchmark: the others compare with a naive loop that tells no ERP)
    with override_settings(OSCAR_ORDERCANCEL_PROCESSORS=[
            {"name": "noop", "class": "bench.delivery.NoopProcessor", "options": {}}],
            OSCAR_ORDERCANCEL_NOTIFY_CUSTOMER=False):
        try:
            t = throughput(app, cancellations, jobs)
            delays = latency(app, order, latency_jobs, rate)
        finally:
            previous.set_current()
        single = queries_per_job(cancellations, batch=1)
        per_batch = queries_per_job(cancellations, batch=100)
    ours, celery = t["jobs"] / t["ours"], t["jobs"] / t["celery"]
    p50 = statistics.median(delays)
    p99 = delays[int(len(delays) * 0.99) - 1]
    ratio = ours / celery
    print("\nCancel-job delivery, one worker thread on Redis (solo pool, prefetch 4, acks_late)")
    print(f"  {'':34} {'figure':>10} {'baseline':>10} {'ratio':>7}")
    print(f"  {f'{jobs} jobs drained, jobs/s':34} {ours:10.1f} {celery:10.1f} {ratio:7.2f}"
          "   (one wake-up per job, as the outbox sends them; baseline: Celery, no-op tasks)")
    batched = t["jobs"] / t["batched"]
    print(f"  {f'{jobs} jobs drained, jobs/s':34} {batched:10.1f} {celery:10.1f} "
          f"{batched / celery:7.2f}   (100 job ids per task, as the dispatcher sends them)")
    print(f"  {'commit -> processor call p50, ms':34} {p50 * 1000:10.1f} {1000:10.1f} "
          f"{p50:7.2f}   (baseline: the 1 s goal for p99)")
    print(f"  {'commit -> processor call p99, ms':34} {p99 * 1000:10.1f} {1000:10.1f} "
          f"{p99:7.2f}   ({latency_jobs} cancellations at {rate:.0f}/s)")
    print(f"  database connections opened by the worker: {len(CONNECTIONS)}")
    print(f"  {'queries per delivered job':34} {single:10.2f} {'':>10} {'':>7}   "
          "(one job per wake-up, no top-up; BEGIN/COMMIT counted where sent)")
    print(f"  {'queries per delivered job':34} {per_batch:10.2f} {'':>10} {'':>7}   "
          "(100 jobs per wake-up)")
    verdict = "OK" if ratio >= 0.5 and p99 < 1.0 else "BELOW GOAL"
    print(f"Goal: at least 0.50x Celery's throughput and p99 under 1 s: {verdict}")
    return {"ratio": ratio, "p50": p50, "p99": p99, "ok": ratio >= 0.5 and p99 < 1.0}
