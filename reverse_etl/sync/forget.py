"""GDPR / CCPA "forget me" at the destinations.

Activation models never hold a suppressed customer, so a mirror or an audience replace removes them on its own.
An upsert or insert sync does not remove rows that leave its model, so without this step a person who asked to
be forgotten would stay in the CRM or the email tool. Before each run of a sync keyed by customer_id, the rows
it delivered for customers now in the suppression list (the dbt model `suppressed_customers`) move from the
sync's snapshot to a durable queue (cdp_sync.forget_queue) in one transaction; every queued row is then deleted
at the destination (removed, for audiences), whatever the sync's mode and without the blast-radius guard: the
request is a legal obligation, not a mass change. A row leaves the queue only when the destination confirmed
the delete, and each confirmation is written to cdp_sync.forgotten (the audit). A rejected or interrupted
delete stays queued and is sent again next run; deletes are idempotent, so a crash never loses a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from reverse_etl.destinations.base import Destination, Mode, Operation, Record, RecordResult
from reverse_etl.secrets import redact
from reverse_etl.sync import state
from reverse_etl.sync.config import SyncConfig
from reverse_etl.warehouse import Warehouse, quote, utc_now

DDL = [
    f"""create table if not exists {state.SCHEMA}.forget_queue (
        sync_name varchar not null, record_key varchar not null, destination_id varchar,
        queued_at timestamp not null, attempts integer not null, last_error varchar,
        primary key (sync_name, record_key))""",
    f"""create table if not exists {state.SCHEMA}.forgotten (
        sync_name varchar not null, record_key varchar not null, run_id varchar not null,
        forgotten_at timestamp not null)""",
]

AUDIENCE_MODES = (Mode.AUDIENCE_ADD, Mode.AUDIENCE_REMOVE, Mode.AUDIENCE_REPLACE)


@dataclass
class ForgetSummary:
    queued: int = 0
    confirmed: int = 0
    rejected: int = 0


def forget_operation(mode: Mode) -> Operation:
    return Operation.REMOVE if mode in AUDIENCE_MODES else Operation.DELETE


def _queue_suppressed(warehouse: Warehouse, sync: SyncConfig) -> int:
    """Move the snapshot rows of suppressed customers into the queue; returns how many moved."""
    assert sync.forget_from is not None
    suppressed = f"{quote(sync.forget_from.schema)}.{quote(sync.forget_from.name)}"
    matching = (
        f"from {state.SCHEMA}.snapshots as snapshot where snapshot.sync_name = ? "
        f"and snapshot.record_key in (select cast(customer_id as varchar) from {suppressed})"
    )
    with warehouse.transaction():
        moved = warehouse.query(f"select count(*) {matching}", (sync.name,))[0][0]
        if moved:
            warehouse.execute(
                f"insert into {state.SCHEMA}.forget_queue select snapshot.sync_name, snapshot.record_key, "
                f"snapshot.destination_id, ?, 0, null {matching} and not exists (select 1 from "
                f"{state.SCHEMA}.forget_queue as queued where queued.sync_name = snapshot.sync_name "
                "and queued.record_key = snapshot.record_key)",
                (utc_now(), sync.name),
            )
            warehouse.execute(
                f"delete from {state.SCHEMA}.snapshots where sync_name = ? and record_key in "
                f"(select record_key from {state.SCHEMA}.forget_queue where sync_name = ?)",
                (sync.name, sync.name),
            )
    return int(moved)


def _record(
    warehouse: Warehouse, sync: SyncConfig, run_id: str, done: list[str], failed: list[RecordResult]
) -> None:
    """One transaction: confirmed deletes leave the queue for the audit table; failed ones keep their error."""
    with warehouse.transaction():
        if done:
            keys = warehouse.rows_subquery(["record_key"])
            warehouse.execute(
                f"delete from {state.SCHEMA}.forget_queue where sync_name = ? and record_key in "
                f"(select record_key from {keys} as k)",
                [sync.name, done],
            )
            audit = warehouse.rows_subquery(["record_key"])
            warehouse.execute(
                f"insert into {state.SCHEMA}.forgotten select ?, a.record_key, ?, ? from {audit} as a",
                [sync.name, run_id, utc_now(), done],
            )
        for outcome in failed:
            warehouse.execute(
                f"update {state.SCHEMA}.forget_queue set attempts = attempts + 1, last_error = ? "
                "where sync_name = ? and record_key = ?",
                (redact(outcome.error), sync.name, outcome.key),
            )


def forget_suppressed(
    warehouse: Warehouse, sync: SyncConfig, destination: Destination, run_id: str, batch_size: int
) -> ForgetSummary:
    """Delete at the destination every row of this sync that belongs to a suppressed customer."""
    summary = ForgetSummary()
    if sync.forget_from is None:
        return summary
    for statement in DDL:
        warehouse.execute(statement)
    warehouse.commit()
    summary.queued = _queue_suppressed(warehouse, sync)
    queued = warehouse.query(
        f"select record_key, destination_id from {state.SCHEMA}.forget_queue where sync_name = ? order by record_key",
        (sync.name,),
    )
    if not queued:
        return summary
    operation = forget_operation(sync.mode)
    deferred = destination.capabilities.applies_at_finish
    # The sync knows what it delivered (the queued rows at least): an audience replace must not clear anything.
    synced = warehouse.query(
        f"select count(*) from {state.SCHEMA}.snapshots where sync_name = ?", (sync.name,)
    )
    destination.begin_run(sync.mode, previously_synced=int(synced[0][0]) + len(queued))
    landed: list[str] = []
    for start in range(0, len(queued), max(batch_size, 1)):
        records = [
            Record(key=key, fields={}, operation=operation, destination_id=destination_id)
            for key, destination_id in queued[start : start + batch_size]
        ]
        result = destination.forget_batch(records)
        done = [outcome.key for outcome in result.confirmed]
        _record(warehouse, sync, run_id, [] if deferred else done, result.rejected)
        landed += done
        summary.rejected += len(result.rejected)
    destination.finish_run(sync.mode, success=True)
    if deferred:
        # Accepted deletes land when finish_run applies them: only then do they leave the queue.
        _record(warehouse, sync, run_id, landed, [])
    summary.confirmed = len(landed)
    return summary
