"""Sync state in the warehouse (schema cdp_sync): snapshots of what each sync last confirmed at its
destination, runs, and rejected rows. The diff against the model is computed here, in SQL."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from reverse_etl.sync.config import SyncConfig
from reverse_etl.warehouse import Warehouse, quote

SCHEMA = "cdp_sync"
NULL_MARK = "\u2205"

DDL = [
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.snapshots (
        sync_name varchar not null, record_key varchar not null, confirmed_hash varchar, attempted_hash varchar,
        status varchar not null, attempts integer not null, last_error varchar, destination_id varchar,
        updated_at timestamp not null, primary key (sync_name, record_key))""",
    f"""create table if not exists {SCHEMA}.runs (
        run_id varchar primary key, sync_name varchar not null, started_at timestamp not null, finished_at timestamp,
        status varchar not null, model_rows bigint, added bigint, changed bigint, removed bigint,
        confirmed bigint, rejected bigint, invalid bigint, error varchar)""",
    f"""create table if not exists {SCHEMA}.rejects (
        run_id varchar not null, sync_name varchar not null, record_key varchar not null, operation varchar,
        error varchar, rejected_at timestamp not null)""",
]


@dataclass
class Diff:
    model_rows: int = 0
    previously_synced: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    retries: int = 0
    null_keys: int = 0
    duplicate_keys: int = 0

    @property
    def invalid(self) -> int:
        return self.null_keys + self.duplicate_keys


def ensure_state(warehouse: Warehouse) -> None:
    for statement in DDL:
        warehouse.execute(statement)
    warehouse.commit()


def changes_table(sync: SyncConfig) -> str:
    return f"{SCHEMA}.{quote('changes__' + sync.name)}"


def outbox_table(sync: SyncConfig) -> str:
    return f"{SCHEMA}.{quote('outbox__' + sync.name)}"


def relation_sql(sync: SyncConfig) -> str:
    """What the sync reads: its model's table, or the table its ad-hoc query's rows are copied into (adhoc)."""
    if sync.query:
        return f"{SCHEMA}.{quote('query__' + sync.name)}"
    return f"{quote(sync.relation.schema)}.{quote(sync.relation.name)}"


def mapping(sync: SyncConfig, columns: list[str]) -> dict[str, str]:
    """Destination field -> model column: the declared fields, or every column under its own name."""
    return dict(sync.fields) if sync.fields else {column: column for column in columns}


def mapping_fingerprint(sync: SyncConfig, fields: dict[str, str]) -> str:
    """Changes when the mapping or the destination changes: every row then differs, a controlled resend."""
    text = json.dumps(
        {"destination": sync.destination, "fields": fields, "mode": sync.mode.value}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compute_diff(warehouse: Warehouse, sync: SyncConfig, fields: dict[str, str]) -> Diff:
    """Write the rows to act on into changes__<sync> (record_key, row_hash, change_type, destination_id,
    previous_status) and return the counts. Rows with a null or duplicated key are marked invalid."""
    key = quote(sync.primary_key)
    hashed = " || '|' || ".join(
        f"coalesce(cast({quote(column)} as varchar), '{NULL_MARK}')"
        for column in sorted(set(fields.values()))
    )
    table = changes_table(sync)
    warehouse.execute(f"drop table if exists {table}")
    warehouse.execute(
        f"""
        create table {table} as
        with current_rows as (
            select cast({key} as varchar) as record_key, md5(? || '|' || {hashed}) as row_hash
            from {relation_sql(sync)} as source_rows
        ),
        keyed as (
            select record_key, min(row_hash) as row_hash, count(*) as copies from current_rows group by record_key
        ),
        snapshot as (
            select record_key, confirmed_hash, status, attempts, destination_id
            from {SCHEMA}.snapshots where sync_name = ?
        ),
        compared as (
            select
                case
                    when keyed.copies is null then 'removed'
                    when keyed.record_key is null then 'invalid_null_key'
                    when keyed.copies > 1 then 'invalid_duplicate_key'
                    when snapshot.record_key is null or snapshot.confirmed_hash is null then 'added'
                    when snapshot.confirmed_hash <> keyed.row_hash then 'changed'
                    else 'unchanged'
                end as change_type,
                coalesce(keyed.record_key, snapshot.record_key) as record_key,
                coalesce(keyed.row_hash, snapshot.confirmed_hash) as row_hash,
                coalesce(keyed.copies, 1) as copies,
                snapshot.destination_id,
                snapshot.confirmed_hash,
                coalesce(snapshot.status, 'new') as previous_status,
                coalesce(snapshot.attempts, 0) as attempts
            from keyed
            full outer join snapshot on snapshot.record_key = keyed.record_key
        )
        -- One full join classifies every key. An unchanged row is kept only as a count (its columns are null):
        -- nothing reads it, and a table of a million unchanged keys and hashes is most of the diff's writing.
        select
            change_type,
            case when change_type = 'unchanged' then null else record_key end as record_key,
            case when change_type = 'unchanged' then null else row_hash end as row_hash,
            copies,
            case when change_type = 'unchanged' then null else destination_id end as destination_id,
            case when change_type = 'unchanged' then null else confirmed_hash end as confirmed_hash,
            case when change_type = 'unchanged' then null else previous_status end as previous_status,
            case when change_type = 'unchanged' then 0 else attempts end as attempts
        from compared
        where change_type <> 'removed' or confirmed_hash is not null or previous_status in ('pending', 'accepted', 'accepted_removal')
        """,
        (mapping_fingerprint(sync, fields), sync.name),
    )
    warehouse.commit()
    counts = dict(warehouse.query(f"select change_type, sum(copies) from {table} group by change_type"))
    retries = warehouse.query(
        f"select count(*) from {table} where previous_status = 'rejected' and change_type in ('added', 'changed')"
    )[0][0]
    previously = warehouse.query(
        f"select count(*) from {SCHEMA}.snapshots where sync_name = ? and confirmed_hash is not null",
        (sync.name,),
    )[0][0]
    return Diff(
        model_rows=int(sum(int(v) for k, v in counts.items() if k != "removed")),
        previously_synced=int(previously),
        added=int(counts.get("added", 0)),
        changed=int(counts.get("changed", 0)),
        removed=int(counts.get("removed", 0)),
        retries=int(retries),
        null_keys=int(counts.get("invalid_null_key", 0)),
        duplicate_keys=int(counts.get("invalid_duplicate_key", 0)),
    )
