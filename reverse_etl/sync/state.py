"""Sync state in the warehouse (schema cdp_sync): snapshots of what each sync last confirmed at its
destination, runs, and rejected rows. The diff against the model is computed here, in SQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reverse_etl.sync.config import SyncConfig
from reverse_etl.warehouse import Warehouse, quote

SCHEMA = "cdp_sync"

# The version of the row encoding below. Raising it makes every row differ from its snapshot once: the runs
# after an upgrade resend each row one time (a controlled resend the blast-radius guard lets through).
ENCODING_VERSION = 2

DDL = [
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
# Columns added to cdp_sync.runs after its first release: added where missing (checked first, because
# PostgreSQL takes an exclusive lock for ALTER TABLE even when the column exists).
RUNS_COLUMNS = {
    "fingerprint": "varchar",  # what the rows were hashed with (JSON: encoding, mapping, column types)
    "dropped": "bigint",  # identifier values the destination could not use (rows still sent with the rest)
    "notes": "varchar",  # what the operator should know: a resend and why, the first invalid keys
}

# The runs columns readers show, in order (`cdp sync history`, the app's sync page).
RUN_COLUMNS = (
    "run_id",
    "started_at",
    "finished_at",
    "status",
    "model_rows",
    "added",
    "changed",
    "removed",
    "confirmed",
    "rejected",
    "invalid",
    "error",
    "dropped",
    "notes",
)


@dataclass
class Resend:
    """Why every row of the model differs from its snapshot this run, if it does."""

    reason: str | None = None
    # The engine's own row encoding changed, not the data: one resend, let through by the guard.
    controlled: bool = False


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
    # The first few duplicated keys (up to six: five are shown, a sixth says there are more).
    duplicate_examples: list[str] = field(default_factory=list)
    resend: Resend = field(default_factory=Resend)
    fingerprint: str = ""

    @property
    def invalid(self) -> int:
        return self.null_keys + self.duplicate_keys


# Do the state tables exist (has any sync run here)? Readers ask first: creating them is a write.
EXISTS_SQL = "select 1 from information_schema.tables where table_schema = ? and table_name = 'runs'"


def exists(warehouse: Warehouse) -> bool:
    return bool(warehouse.query(EXISTS_SQL, (SCHEMA,)))


def runs_select(present: set[str], columns: tuple[str, ...]) -> str:
    """The runs columns for a reader, null for one added after the state was made (readers migrate nothing:
    the next run adds it)."""
    return ", ".join(name if name in present else f"null as {name}" for name in columns)


def ensure_state(warehouse: Warehouse) -> None:
    # The schema is created only when missing: PostgreSQL checks the database's CREATE privilege for
    # `create schema if not exists` even when the schema exists, and the sync's role needs no such right.
    if not warehouse.query("select 1 from information_schema.schemata where schema_name = ?", (SCHEMA,)):
        warehouse.execute(f"create schema if not exists {SCHEMA}")
    for statement in DDL:
        warehouse.execute(statement)
    warehouse.commit()
    present = set(warehouse.columns(SCHEMA, "runs"))
    for column, kind in RUNS_COLUMNS.items():
        if column not in present:
            warehouse.execute(f"alter table {SCHEMA}.runs add column {quote(column)} {kind}")
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


def row_encoding_sql(
    columns: list[str], quote_name: Callable[[str], str] = quote, text: str = "varchar"
) -> str:
    """One text per row that no other row shares: each column as `<length>:<text>`, a null as `N`, one after
    another. Read left to right it parses back into the values (a length ends at its colon; `N` is no digit),
    so two rows with the same encoding are the same row: no separator inside a value, and no value that
    spells a null, can make two different rows hash alike. `quote_name` and `text` are the engine's identifier
    quoting and text type (Spark: backticks and string)."""
    return " || ".join(
        f"coalesce(cast(length(cast({quote_name(column)} as {text})) as {text}) || ':' || cast({quote_name(column)} as {text}), 'N')"
        for column in columns
    )


def hashed_columns(fields: dict[str, str]) -> list[str]:
    return sorted(set(fields.values()))


def column_types(warehouse: Warehouse, sync: SyncConfig, columns: list[str]) -> dict[str, str]:
    """The warehouse type of each hashed column: a column that keeps its text but changes type (integer 5 to
    text '5') reaches the destination as another JSON value, so the rows are resent."""
    schema, table = (
        (SCHEMA, "query__" + sync.name) if sync.query else (sync.relation.schema, sync.relation.name)
    )
    rows = warehouse.query(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
        (schema, table),
    )
    types = {name: str(kind).lower() for name, kind in rows}
    return {column: types.get(column, "") for column in columns}


def fingerprint(sync: SyncConfig, fields: dict[str, str], types: dict[str, str]) -> str:
    """What the rows are hashed with: when any part changes, every row differs, a resend."""
    return json.dumps(
        {
            "encoding": ENCODING_VERSION,
            "destination": sync.destination,
            "mode": sync.mode.value,
            "fields": fields,
            "types": types,
        },
        sort_keys=True,
    )


def _resend(previous: str | None, current: str, previously_synced: int) -> Resend:
    """Why the rows differ from their snapshots as a whole, comparing this run's fingerprint with the one of
    the last run that finished."""
    if not previously_synced or previous == current:
        return Resend()
    before: dict[str, Any] = json.loads(previous) if previous else {}
    now: dict[str, Any] = json.loads(current)
    if before.get("encoding") != now["encoding"]:
        return Resend(
            "rows were last hashed by an earlier version of the sync engine: each is resent once", True
        )
    changed = [part for part in ("destination", "mode", "fields") if before.get(part) != now[part]]
    if changed:
        return Resend(f"the sync's {' and '.join(changed)} changed since its last run: every row is resent")
    moved = sorted(
        f"{column} {before['types'].get(column) or '?'} -> {kind}"
        for column, kind in now["types"].items()
        if before.get("types", {}).get(column) != kind
    )
    return Resend(f"column types changed ({', '.join(moved)}): every row is resent")


def _last_fingerprint(warehouse: Warehouse, sync: SyncConfig, current: str) -> str | None:
    """The fingerprint of the sync's last finished run; the current one when no run finished but one was
    started with it (its confirmed rows carry it; the rest were never confirmed)."""
    rows = warehouse.query(
        f"select fingerprint from {SCHEMA}.runs where sync_name = ? and status in ('success', 'partial') "
        "and fingerprint is not null order by started_at desc limit 1",
        (sync.name,),
    )
    if rows:
        return str(rows[0][0])
    started = warehouse.query(
        f"select count(*) from {SCHEMA}.runs where sync_name = ? and fingerprint = ?", (sync.name, current)
    )[0][0]
    return current if started else None


def changes_sql(relation: str, snapshots: str, key: str, encoding: str, text: str = "varchar") -> str:
    """The diff as one query: every key of the model (`relation`, keyed by the quoted column `key`, rows
    encoded by `encoding`, keys cast to `text`) and of the sync's snapshot rows (`snapshots`, with a sync_name column) classified
    as added, changed, removed, unchanged or invalid. Parameters: the fingerprint's prefix, the sync's name.
    The same text runs on DuckDB and PostgreSQL (against cdp_sync.snapshots) and on Spark (against the
    sync's verified copy of them, reverse_etl.sync.spark_model)."""
    return f"""
        with current_rows as (
            select cast({key} as {text}) as record_key, md5(? || ':' || {encoding}) as row_hash
            from {relation} as source_rows
        ),
        keyed as (
            select record_key, min(row_hash) as row_hash, count(*) as copies from current_rows group by record_key
        ),
        snapshot as (
            select record_key, confirmed_hash, status, attempts, destination_id
            from {snapshots} where sync_name = ?
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
        """


def fingerprint_prefix(current: str) -> str:
    """What each row's hash starts with: the fingerprint's digest (see fingerprint)."""
    return hashlib.sha256(current.encode()).hexdigest()[:16]


def compute_diff(warehouse: Warehouse, sync: SyncConfig, fields: dict[str, str]) -> Diff:
    """Write the rows to act on into changes__<sync> (record_key, row_hash, change_type, destination_id,
    previous_status) and return the counts. Rows with a null or duplicated key are marked invalid."""
    columns = hashed_columns(fields)
    current = fingerprint(sync, fields, column_types(warehouse, sync, columns))
    table = changes_table(sync)
    warehouse.execute(f"drop table if exists {table}")
    warehouse.execute(
        f"create table {table} as "
        + changes_sql(
            relation_sql(sync), f"{SCHEMA}.snapshots", quote(sync.primary_key), row_encoding_sql(columns)
        ),
        (fingerprint_prefix(current), sync.name),
    )
    warehouse.commit()
    return diff_counts(warehouse, sync, current)


def diff_counts(warehouse: Warehouse, sync: SyncConfig, current: str) -> Diff:
    """The counts of the sync's changes table (unchanged rows count by `copies`), as the run's Diff."""
    table = changes_table(sync)
    counts = dict(warehouse.query(f"select change_type, sum(copies) from {table} group by change_type"))
    retries = warehouse.query(
        f"select count(*) from {table} where previous_status = 'rejected' and change_type in ('added', 'changed')"
    )[0][0]
    previously = int(
        warehouse.query(
            f"select count(*) from {SCHEMA}.snapshots where sync_name = ? and confirmed_hash is not null",
            (sync.name,),
        )[0][0]
    )
    duplicates = int(counts.get("invalid_duplicate_key", 0))
    examples = (
        warehouse.query(
            f"select record_key from {table} where change_type = 'invalid_duplicate_key' order by record_key limit 6"
        )
        if duplicates
        else []
    )
    return Diff(
        model_rows=int(sum(int(v) for k, v in counts.items() if k != "removed")),
        previously_synced=previously,
        added=int(counts.get("added", 0)),
        changed=int(counts.get("changed", 0)),
        removed=int(counts.get("removed", 0)),
        retries=int(retries),
        null_keys=int(counts.get("invalid_null_key", 0)),
        duplicate_keys=duplicates,
        duplicate_examples=[str(row[0]) for row in examples],
        resend=_resend(_last_fingerprint(warehouse, sync, current), current, previously),
        fingerprint=current,
    )
