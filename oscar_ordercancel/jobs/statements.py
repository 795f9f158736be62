"""The delivery's two writes as one autocommitted statement each, on PostgreSQL.

A delivered job costs two commits that cannot be merged: the claim (which must
be visible before the processor is called) and the outcome. Through the ORM
each is BEGIN, two statements and COMMIT, and most of a no-op delivery's time
goes to compiling those statements. Here each write is one statement whose
text is built once per model class:

* the claim is ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``,
  with the "lost" attempt of a job whose lease ran out inserted by the same
  statement;
* the outcome is the job's ``UPDATE`` (guarded by the claim's ``attempts``
  token) and the attempt's ``INSERT`` in one statement.

A single statement is atomic on its own, so both keep the guarantees of the
ORM path in :mod:`oscar_ordercancel.jobs.delivery`, which other
databases use. The columns come from the models' ``_meta``, and the attempt's
values from its fields (defaults and ``pre_save`` included), so a forked
model with extra columns keeps working. Parameters are cast as every other
statement of the package casts them (:func:`oscar_ordercancel.db.bulk.sql_type`),
and the statements run on the database the router picks for writing the job
model (:func:`connection_for`).

The statements' text is cached per model class and database alias for the
life of the process (``lru_cache``): it depends on nothing else.
"""

from __future__ import annotations

from functools import lru_cache

from django.db import connections, router

from oscar_ordercancel.db.bulk import insert_fields, insert_values, sql_type


def connection_for(job_model):
    """The connection the router picks for writing ``job_model`` (the claim and outcome write)."""
    return connections[router.db_for_write(job_model)]


def _columns(model, connection) -> dict[str, str]:
    """Field name -> quoted column, for the model's concrete fields."""
    quote = connection.ops.quote_name
    return {field.name: quote(field.column) for field in model._meta.concrete_fields}


def _due(job_model, pending_only: bool, connection) -> str:
    """The SQL test of a due job (its parameters come from ``_due_params``), as ``due_q``:
    a job of a declined request is never due."""
    quote = connection.ops.quote_name
    job = _columns(job_model, connection)
    due = f"{job['state']} = %s AND {job['next_attempt_at']} <= %s"
    if not pending_only:
        due = f"({due}) OR ({job['state']} = %s AND {job['lease_expires_at']} <= %s)"
    request = job_model._meta.get_field("cancellation").related_model
    declined = (f"SELECT 1 FROM {quote(request._meta.db_table)} AS oc_request "
                f"WHERE oc_request.{quote(request._meta.pk.column)} = "
                f"{quote(job_model._meta.db_table)}.{job['cancellation']} "
                f"AND oc_request.{quote(request._meta.get_field('state').column)} = %s")
    return f"({due}) AND NOT EXISTS ({declined})"


def _due_params(job_model, now, pending_only: bool) -> list:
    State = job_model.State
    declined = job_model._meta.get_field("cancellation").related_model.State.REJECTED
    due = [State.PENDING, now] if pending_only else [State.PENDING, now, State.RUNNING, now]
    return [*due, declined]


@lru_cache(maxsize=16)
def claim_sql(job_model, attempt_model, with_ids: bool, pending_only: bool, alias: str) -> str:
    """The claim statement (see the module docstring) for these model classes on ``alias``.

    ``pending_only`` leaves out jobs whose lease expired, so that the oldest due
    jobs are read in the order of the ``(state, next_attempt_at)`` index
    instead of sorting every due job.
    """
    connection = connections[alias]
    quote = connection.ops.quote_name
    job, pk = _columns(job_model, connection), quote(job_model._meta.pk.column)
    table = quote(job_model._meta.db_table)
    attempt_fields = insert_fields(attempt_model)
    lost_values = []
    for field in attempt_fields:
        if field.name == "job":
            lost_values.append(f"claimed.{pk}")
        elif field.name == "started_at":
            lost_values.append("claimed.oc_old_updated")
        else:
            lost_values.append("%s")
    ids = f"AND {pk} = ANY(%s)" if with_ids else ""
    return f"""
WITH picked AS (
    SELECT {pk}, {job['state']} AS oc_old_state, {job['date_updated']} AS oc_old_updated
    FROM {table}
    WHERE ({_due(job_model, pending_only, connection)}) {ids}
    ORDER BY {job['next_attempt_at']}, {pk}
    LIMIT %s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE {table} AS oc_job
    SET {job['state']} = %s, {job['attempts']} = oc_job.{job['attempts']} + 1,
        {job['lease_expires_at']} = %s, {job['date_updated']} = %s
    FROM picked WHERE oc_job.{pk} = picked.{pk}
    RETURNING oc_job.*, picked.oc_old_state, picked.oc_old_updated
), lost AS (
    INSERT INTO {quote(attempt_model._meta.db_table)}
        ({", ".join(quote(field.column) for field in attempt_fields)})
    SELECT {", ".join(lost_values)} FROM claimed WHERE claimed.oc_old_state = %s
)
SELECT * FROM claimed ORDER BY {job['next_attempt_at']}, {pk}
"""


def claim(job_model, attempt_model, job_ids, *, now, lease, limit: int, lost_error: str,
          pending_only: bool = False) -> list:
    """Claim due jobs in one statement; return them (their state as it is now)."""
    connection = connection_for(job_model)
    State = job_model.State
    lost = attempt_model(started_at=now, outcome=attempt_model.Outcome.LOST, error=lost_error)
    fields = insert_fields(attempt_model)
    values = insert_values(lost, fields, connection)
    lost_params = [value for field, value in zip(fields, values, strict=True)
                   if field.name not in ("job", "started_at")]
    params = _due_params(job_model, now, pending_only)
    if job_ids is not None:
        params.append(list(job_ids))
    params += [limit, State.RUNNING, lease, now, *lost_params, State.RUNNING]
    sql = claim_sql(job_model, attempt_model, job_ids is not None, pending_only, connection.alias)
    return list(job_model.objects.raw(sql, params, using=connection.alias))


@lru_cache(maxsize=16)
def any_due_sql(job_model, alias: str) -> str:
    """A read-only test: is any of the given jobs due?"""
    connection = connections[alias]
    quote = connection.ops.quote_name
    pk = quote(job_model._meta.pk.column)
    return f"""
SELECT EXISTS (
    SELECT 1 FROM {quote(job_model._meta.db_table)}
    WHERE ({_due(job_model, False, connection)}) AND {pk} = ANY(%s)
)
"""


def any_due(job_model, job_ids, now) -> bool:
    """Whether any of ``job_ids`` is due: cheaper than a claim that finds nothing.

    Asked of the writing database, like the claim it saves: a replica may lag.
    """
    connection = connection_for(job_model)
    with connection.cursor() as cursor:
        cursor.execute(any_due_sql(job_model, connection.alias),
                       [*_due_params(job_model, now, pending_only=False), list(job_ids)])
        return cursor.fetchone()[0]


@lru_cache(maxsize=64)
def outcome_sql(job_model, attempt_model, names: tuple[str, ...], count: int, alias: str) -> str:
    """The outcome statement for ``count`` jobs: attempt INSERTs and guarded job UPDATEs.

    Each job's UPDATE only applies while the job is still running under the
    claim that called it (``attempts`` is the claim's token); the statement
    returns the primary keys it updated.
    """
    connection = connections[alias]
    quote = connection.ops.quote_name
    job, pk = _columns(job_model, connection), quote(job_model._meta.pk.column)
    meta = job_model._meta
    attempt_fields = insert_fields(attempt_model)
    row = "(" + ", ".join(["%s"] * len(attempt_fields)) + ")"
    casts = [sql_type(field, connection) for field in (
        meta.pk, meta.get_field("attempts"), *(meta.get_field(name) for name in names))]
    values = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    aliases = ", ".join(["oc_pk", "oc_attempts"] + [f"oc_{index}" for index in range(len(names))])
    return f"""
WITH attempt AS (
    INSERT INTO {quote(attempt_model._meta.db_table)}
        ({", ".join(quote(field.column) for field in attempt_fields)})
    VALUES {", ".join([row] * count)}
), updated AS (
    UPDATE {quote(meta.db_table)} AS oc_job
    SET {", ".join(f"{job[name]} = oc_values.oc_{index}" for index, name in enumerate(names))}
    FROM (VALUES {", ".join([values] * count)}) AS oc_values ({aliases})
    WHERE oc_job.{pk} = oc_values.oc_pk AND oc_job.{job['state']} = %s
      AND oc_job.{job['attempts']} = oc_values.oc_attempts
    RETURNING oc_job.{pk}
)
SELECT {pk} FROM updated
"""


def record(items) -> set:
    """Write outcomes of still-claimed jobs with their attempts; return the pks updated.

    ``items`` are ``(job, fields, attempt)``; those that write the same fields
    share one statement.
    """
    groups: dict[tuple, list] = {}
    for job, fields, attempt in items:
        groups.setdefault((type(job), type(attempt), tuple(fields)), []).append((job, fields, attempt))
    updated = set()
    for (job_model, attempt_model, names), group in groups.items():
        connection = connection_for(job_model)
        meta = job_model._meta
        fields_of = [meta.get_field(name) for name in names]
        attempt_fields = insert_fields(attempt_model)
        params = []
        for __, __, attempt in group:
            params += insert_values(attempt, attempt_fields, connection)
        for job, fields, __ in group:
            params += [job.pk, job.attempts]
            params += [field.get_db_prep_save(fields[field.name], connection=connection)
                       for field in fields_of]
        params.append(job_model.State.RUNNING)
        with connection.cursor() as cursor:
            cursor.execute(outcome_sql(job_model, attempt_model, names, len(group), connection.alias),
                           params)
            updated.update(pk for (pk,) in cursor.fetchall())
    return updated
