"""The run protocol: diff in the warehouse -> destination-sized batches -> per-record results -> one
transaction per batch that advances the snapshot only for confirmed rows and records the rejects.
A crash at any point loses nothing: unconfirmed rows are sent again next run (writes are upserts or
deletes by key, so a resend does not duplicate)."""

from __future__ import annotations

import datetime as dt
import gc
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from reverse_etl.destinations import REGISTRY
from reverse_etl.destinations.base import BatchResult, Destination, Mode, Operation, Record, RecordResult
from reverse_etl.errors import ConfigError, PartialFailure, SyncError
from reverse_etl.http import HttpClient, HttpRequest, shared_bucket
from reverse_etl.sync import state
from reverse_etl.sync.config import SyncConfig, expand_env, secret_lookup
from reverse_etl.sync.forget import ForgetSummary, forget_suppressed
from reverse_etl.sync.lock import sync_lock
from reverse_etl.warehouse import DUCKDB_DIFF_MEMORY_LIMIT, DUCKDB_MEMORY_LIMIT, Warehouse, quote

# What each mode does with each kind of change (None: nothing is sent; a removed row is forgotten).
OPERATIONS: dict[Mode, dict[str, Operation | None]] = {
    Mode.UPSERT: {"added": Operation.UPSERT, "changed": Operation.UPSERT, "removed": None},
    Mode.UPDATE: {"added": Operation.UPDATE, "changed": Operation.UPDATE, "removed": None},
    Mode.INSERT: {"added": Operation.INSERT, "changed": None, "removed": None},
    Mode.MIRROR: {"added": Operation.UPSERT, "changed": Operation.UPSERT, "removed": Operation.DELETE},
    Mode.AUDIENCE_ADD: {"added": Operation.ADD, "changed": None, "removed": None},
    Mode.AUDIENCE_REMOVE: {"added": Operation.REMOVE, "changed": None, "removed": None},
    Mode.AUDIENCE_REPLACE: {"added": Operation.ADD, "changed": None, "removed": Operation.REMOVE},
}


@dataclass
class RunSummary:
    sync_name: str
    run_id: str
    diff: state.Diff
    sent: int = 0
    confirmed: int = 0
    rejected: int = 0
    skipped: int = 0
    status: str = "success"
    planned_requests: list[HttpRequest] = field(default_factory=list)
    forgotten: ForgetSummary = field(default_factory=ForgetSummary)

    def describe(self) -> str:
        d = self.diff
        forgotten = (
            f"; forgotten {self.forgotten.confirmed:,} (still queued {self.forgotten.rejected:,})"
            if self.forgotten.confirmed or self.forgotten.rejected
            else ""
        )
        return (
            f"{self.sync_name}: {d.model_rows:,} model rows; added {d.added:,}, changed {d.changed:,}, removed {d.removed:,}"
            f" (retries {d.retries:,}); sent {self.sent:,}, confirmed {self.confirmed:,}, rejected {self.rejected:,},"
            f" skipped {self.skipped:,}, invalid keys {d.invalid:,}{forgotten} -> {self.status}"
        )


def make_destination(sync: SyncConfig, http: HttpClient | None = None) -> Destination:
    destination_class = REGISTRY.get(sync.destination)
    if destination_class is None:
        raise ConfigError(
            f"{sync.source_file}: exposures.{sync.name}.meta.cdp_sync.destination: unknown destination "
            f"'{sync.destination}'; available: {', '.join(sorted(REGISTRY))}"
        )
    if sync.mode not in destination_class.capabilities.modes:
        allowed = ", ".join(sorted(mode.value for mode in destination_class.capabilities.modes))
        raise ConfigError(
            f"{sync.source_file}: exposures.{sync.name}: {sync.destination} does not support mode {sync.mode.value}; it supports {allowed}"
        )
    limit = destination_class.capabilities.rate_limit
    bucket = (
        shared_bucket(
            f"{sync.destination}:{sync.options.get('account', sync.options.get('url', ''))}",
            limit.requests,
            limit.per_seconds,
            limit.burst,
        )
        if limit
        else None
    )
    return destination_class(
        expand_env(sync.options),
        secret_lookup,
        http or HttpClient(bucket=bucket, destination=sync.destination),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def check_columns(warehouse: Warehouse, sync: SyncConfig) -> tuple[list[str], dict[str, str]]:
    if sync.query:
        from reverse_etl.sync.adhoc import checked_query

        checked_query(
            sync.query, warehouse.kind, f"{sync.source_file}: exposures.{sync.name}.meta.cdp_sync.query"
        )
        columns = warehouse.query_columns(sync.query)
    else:
        columns = warehouse.columns(sync.relation.schema, sync.relation.name)
    if not columns:
        raise ConfigError(
            f"{sync.name}: model {sync.model} is not built in {warehouse.target.describe()}; run `cdp dbt build --select {sync.model}`"
        )
    fields = state.mapping(sync, columns)
    missing = sorted({column for column in [sync.primary_key, *fields.values()] if column not in columns})
    if missing:
        raise ConfigError(
            f"{sync.source_file}: exposures.{sync.name}.meta.cdp_sync: column(s) {', '.join(missing)} not in model {sync.model} "
            f"(it has {', '.join(columns)})"
        )
    return columns, fields


def guard_blast_radius(sync: SyncConfig, diff: state.Diff, allow_mass_change: bool) -> None:
    operations = OPERATIONS[sync.mode]
    if allow_mass_change:
        return
    if (
        sync.mode in (Mode.MIRROR, Mode.AUDIENCE_REPLACE)
        and diff.model_rows == 0
        and diff.previously_synced > 0
    ):
        raise SyncError(
            f"{sync.name}: the model {sync.model} is empty; mirroring it would remove all {diff.previously_synced:,} "
            "rows from the destination. Refused; rerun with --allow-mass-change if that is intended"
        )
    touched = (diff.changed if operations["changed"] else 0) + (diff.removed if operations["removed"] else 0)
    if diff.previously_synced and touched > sync.max_change_share * diff.previously_synced:
        raise SyncError(
            f"{sync.name}: this run would change or remove {touched:,} of {diff.previously_synced:,} synced rows "
            f"({touched / diff.previously_synced:.0%}, limit {sync.max_change_share:.0%}). Refused; rerun with "
            "--allow-mass-change if that is intended"
        )


class Pending(NamedTuple):
    """PostgreSQL (no outbox): what the engine must write back for one record on its way out."""

    row_hash: str | None
    confirmed_hash: str | None
    attempts: int
    # Whether the sync's snapshot already has a row for this key (the journal updates it rather than inserting).
    tracked: bool


class Batch(NamedTuple):
    """Records on their way out. On DuckDB they are the outbox rows numbered start + 1 .. start + len(records):
    the journal and the commit read what they write back from the outbox, in SQL, by position. PostgreSQL has
    no outbox: `pending` carries it for each record."""

    records: list[Record]
    start: int
    pending: list[Pending] | None = None

    @property
    def end(self) -> int:
        return self.start + len(self.records)


# Rows are journaled and committed a window at a time: the first window is one batch, each next one twice as
# many, up to WINDOW_ROWS. Small runs and slow destinations commit early and often; large runs pay two
# small transactions per window instead of two per batch.
WINDOW_ROWS = 20_000

# The columns of a change row before the model's values (outbox__<sync> has `position` first besides).
CHANGE_COLUMNS = [
    "record_key",
    "change_type",
    "destination_id",
    "row_hash",
    "confirmed_hash",
    "attempts",
    "previous_status",
]
REMOVING = frozenset({Operation.DELETE, Operation.REMOVE})


def _batches(
    warehouse: Warehouse, sync: SyncConfig, fields: dict[str, str], batch_size: int, only_rejected: bool
) -> Iterator[Batch]:
    operations = OPERATIONS[sync.mode]
    kinds = [kind for kind, operation in operations.items() if operation is not None]
    if not kinds:
        return
    names = list(fields.keys())
    # The model's values are named value_<n> in the rows to send, so no model column can clash with a change column.
    values_sql = ", ".join(f"model.{quote(column)} as value_{n}" for n, column in enumerate(fields.values()))
    placeholders = ", ".join("?" for _ in kinds)
    rejected_only = " and change.previous_status = 'rejected'" if only_rejected else ""
    selected_rows = (
        f"select {', '.join('change.' + column for column in CHANGE_COLUMNS)}, {values_sql} "
        f"from {state.changes_table(sync)} as change "
        f"left join {state.relation_sql(sync)} as model on cast(model.{quote(sync.primary_key)} as varchar) = change.record_key "
        f"and change.change_type <> 'removed' "
        f"where change.change_type in ({placeholders}){rejected_only}"
    )
    page_size = max(batch_size, 10_000)
    outbox = warehouse.kind == "duckdb"
    if outbox:
        pages = _outbox_pages(warehouse, sync, selected_rows, kinds, page_size, len(names))
    else:
        statement = f"{selected_rows} order by change.change_type, change.record_key"
        pages = warehouse.stream(statement, kinds, batch_size=page_size)
    # A row is key, change type, destination id, [PostgreSQL: the rest of the change columns], then the values.
    first = 3 if outbox else len(CHANGE_COLUMNS)
    # Which columns need converting for JSON is learnt from each column's first non-null value (a column's
    # values share one type), so the common row costs one dict(zip(...)). A page is turned into records in
    # one comprehension, then cut into batches.
    unknown = set(range(len(names)))
    converted: list[int] = []
    records: list[Record] = []
    pending: list[Pending] = []
    start = 0
    for rows in pages:
        for index in sorted(unknown):
            value = next((row[first + index] for row in rows if row[first + index] is not None), None)
            if value is not None:
                unknown.discard(index)
                if value.__class__ not in PLAIN_TYPES:
                    converted.append(index)
        records += [
            Record(
                row[0],
                {}
                if row[1] == "removed"
                else _fields(names, row[first:], converted)
                if converted
                else dict(zip(names, row[first:], strict=True)),
                operations[row[1]],  # type: ignore[arg-type]  # only kinds with an operation are selected
                row[2],
            )
            for row in rows
        ]
        if not outbox:
            pending += [Pending(row[3], row[4], int(row[5] or 0), row[6] != "new") for row in rows]
        # These records live until their window is committed: the garbage collector need not traverse them.
        gc.freeze()
        taken = 0
        while len(records) - taken >= batch_size:
            end = taken + batch_size
            yield Batch(records[taken:end], start, None if outbox else pending[taken:end])
            start, taken = start + batch_size, end
        records, pending = records[taken:], pending[taken:]
    if records:
        yield Batch(records, start, None if outbox else pending)


def _fields(names: list[str], values: Sequence[Any], converted: list[int]) -> dict[str, Any]:
    """A row's fields when some columns need converting for JSON (timestamps, decimals)."""
    fields = dict(zip(names, values, strict=True))
    for index in converted:
        fields[names[index]] = _plain(values[index])
    return fields


def _outbox_pages(
    warehouse: Warehouse, sync: SyncConfig, selected_rows: str, params: list[str], page_size: int, values: int
) -> Iterator[list[tuple[Any, ...]]]:
    """DuckDB: the rows to send are numbered into outbox__<sync> once, then read a page at a time in short
    queries on the sync's own connection. A reader left open through the run would pin every row version the
    run writes meanwhile in memory, and hold the whole sorted result besides. The outbox stays until the run
    ends: the journal and the commit read from it by position."""
    outbox = state.outbox_table(sync)
    warehouse.execute(
        f"create or replace table {outbox} as select row_number() over (order by change_type, record_key) as position, "
        f"* from ({selected_rows}) as rows_to_send order by position",
        params,
    )
    warehouse.commit()
    # The diff and the outbox, two large set operations, had more memory; sending holds Python rows besides.
    warehouse.cap_memory(DUCKDB_MEMORY_LIMIT)
    total = int(warehouse.query(f"select count(*) from {outbox}")[0][0])
    columns = ", ".join(
        ["record_key", "change_type", "destination_id", *(f"value_{n}" for n in range(values))]
    )
    for start in range(0, total, page_size):
        yield warehouse.query(
            f"select {columns} from {outbox} where position > ? and position <= ? order by position",
            (start, start + page_size),
        )


def _windows(batches: Iterator[Batch], batch_size: int) -> Iterator[list[Batch]]:
    """Batches grouped into windows of 1, 2, 4, ... batches, at most WINDOW_ROWS rows (and one batch) each."""
    most = max(1, WINDOW_ROWS // batch_size)
    wanted = 1
    window: list[Batch] = []
    for batch in batches:
        window.append(batch)
        if len(window) == wanted:
            yield window
            window = []
            wanted = min(wanted * 2, most)
    if window:
        yield window


SNAPSHOT_COLUMNS = [
    "record_key",
    "confirmed_hash",
    "attempted_hash",
    "status",
    "attempts",
    "last_error",
    "destination_id",
]


def _with_rows(
    warehouse: Warehouse,
    statement: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    before: Sequence[Any] = (),
    after: Sequence[Any] = (),
) -> None:
    """Run `statement` once for all `rows`: `{rows}` in it becomes a subquery of them (one bound text array per
    column); `before` and `after` are the parameters on either side of it."""
    if not rows:
        return
    arrays = [[None if row[i] is None else str(row[i]) for row in rows] for i in range(len(columns))]
    warehouse.execute(statement.format(rows=warehouse.rows_subquery(columns)), [*before, *arrays, *after])


def _plain(value: Any) -> Any:
    """JSON-friendly values: timestamps and decimals as text or numbers."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value


PLAIN_TYPES = (str, int, float, bool)


# The keys a statement updates lie between the least and the greatest key of its outbox rows: said as constants,
# DuckDB skips the snapshot's row groups outside that range (rows are appended in key order, so a window's keys
# are mostly in a few row groups) instead of scanning every row of the sync's snapshot for each window.
KEY_RANGE = "snapshots.record_key >= ? and snapshots.record_key <= ?"


def _key_range(warehouse: Warehouse, sync: SyncConfig, first: int, last: int) -> list[Any]:
    """The least and the greatest key of the outbox rows first + 1 .. last (compared as DuckDB compares them)."""
    low, high = warehouse.query(
        f"select min(record_key), max(record_key) from {state.outbox_table(sync)} where position > ? and position <= ?",
        (first, last),
    )[0]
    return [low, high]


def _journal_intent(warehouse: Warehouse, sync: SyncConfig, window: list[Batch]) -> None:
    """Before a window is sent, mark its rows pending (committed): if the run dies after the destination applied
    them but before their confirmation, the next run still knows they may be there (a mirror removes them when
    they left the model meanwhile). The last confirmed state is kept. Keys new to the snapshot are inserted,
    known ones updated: no deletes, and the key index changes only for new keys. On DuckDB both statements read
    the window's rows from the outbox by position; on PostgreSQL they are bound as arrays."""
    snapshots = f"{state.SCHEMA}.snapshots"
    now = _now()
    with warehouse.transaction():
        if window[0].pending is None:
            outbox = state.outbox_table(sync)
            positions = [window[0].start, window[-1].end]
            keys = _key_range(warehouse, sync, *positions)
            warehouse.execute(
                f"insert into {snapshots} (sync_name, updated_at, record_key, attempted_hash, status, attempts, "
                "destination_id, confirmed_hash, last_error) select ?, ?, o.record_key, o.row_hash, 'pending', "
                f"o.attempts, o.destination_id, null, null from {outbox} as o "
                "where o.position > ? and o.position <= ? and o.previous_status = 'new'",
                [sync.name, now, *positions],
            )
            warehouse.execute(
                f"update {snapshots} set updated_at = ?, attempted_hash = o.row_hash, status = 'pending', "
                f"last_error = null from {outbox} as o where o.position > ? and o.position <= ? "
                "and o.previous_status <> 'new' and snapshots.sync_name = ? and snapshots.record_key = o.record_key "
                f"and {KEY_RANGE}",
                [now, *positions, sync.name, *keys],
            )
            return
        items = [
            (record, item)
            for batch in window
            for record, item in zip(batch.records, batch.pending or [], strict=True)
        ]
        _with_rows(
            warehouse,
            f"insert into {snapshots} (sync_name, updated_at, record_key, attempted_hash, status, attempts, "
            "destination_id, confirmed_hash, last_error) select ?, ?, b.record_key, b.attempted_hash, 'pending', "
            "cast(b.attempts as integer), b.destination_id, null, null from {rows} as b",
            ["record_key", "attempted_hash", "attempts", "destination_id"],
            [
                (record.key, item.row_hash, item.attempts, record.destination_id)
                for record, item in items
                if not item.tracked
            ],
            before=[sync.name, now],
        )
        _with_rows(
            warehouse,
            f"update {snapshots} set updated_at = ?, attempted_hash = b.attempted_hash, status = 'pending', "
            "last_error = null from {rows} as b where snapshots.sync_name = ? and snapshots.record_key = b.record_key",
            ["record_key", "attempted_hash"],
            [(record.key, item.row_hash) for record, item in items if item.tracked],
            before=[now],
            after=[sync.name],
        )


class _Outcomes:
    """The results of settled batches sorted out for the commit: which rows were confirmed, with any
    destination id the destination assigned, and which were rejected."""

    def __init__(self, settled: list[tuple[Batch, BatchResult]]) -> None:
        self.confirmed = 0
        self.removing = False
        self.keeping = False
        # Per row of the settled batches, in order: a destination id the destination assigned or changed.
        self.new_ids: list[str | None] = []
        self.any_new_id = False
        # Rows not to confirm: rejected, or given no result (they stay pending and are sent again next run).
        self.unsettled: list[int] = []
        self.rejected: list[tuple[int, Record, RecordResult]] = []
        for batch, result in settled:
            self._add(batch, result)

    def _add(self, batch: Batch, result: BatchResult) -> None:
        records = batch.records
        count = len(records)
        operations = {record.operation for record in records}
        self.removing = self.removing or bool(operations & REMOVING)
        self.keeping = self.keeping or bool(operations - REMOVING)
        results = result.results
        if (
            len(results) == count
            and all(outcome.ok for outcome in results)
            and [outcome.key for outcome in results] == [record.key for record in records]
        ):
            # The common case, in comprehensions: every record confirmed, answered in the order sent.
            self.confirmed += count
            given = [outcome.destination_id or None for outcome in results]
            known = [record.destination_id for record in records]
            if given == known:
                self.new_ids += [None] * count
            else:
                self.new_ids += [new if new != old else None for new, old in zip(given, known, strict=True)]
                self.any_new_id = True
            return
        ids: list[str | None] = [None] * count
        answered = bytearray(count)
        index: dict[str, int] | None = None
        for at, outcome in enumerate(result.results):
            # Destinations answer in the order they were sent, as a rule: look the key up only when not.
            if at >= count or records[at].key != outcome.key:
                if index is None:
                    index = {record.key: n for n, record in enumerate(records)}
                found = index.get(outcome.key)
                if found is None:
                    continue
                at = found
            record = records[at]
            answered[at] = 1
            destination_id = outcome.destination_id or None
            if outcome.ok:
                self.confirmed += 1
                if destination_id is not None and destination_id != record.destination_id:
                    ids[at] = destination_id
                    self.any_new_id = True
            else:
                self.rejected.append((batch.start + at, record, outcome))
                self.unsettled.append(batch.start + at + 1)
        if answered.count(0):
            self.unsettled += [batch.start + n + 1 for n, done in enumerate(answered) if not done]
        self.new_ids += ids


def _commit_batches(
    warehouse: Warehouse,
    sync: SyncConfig,
    run_id: str,
    settled: list[tuple[Batch, BatchResult]],
    deferred: bool = False,
) -> tuple[int, int]:
    """One transaction for the results of one or more batches: confirmed rows advance the snapshot, rejected
    rows are recorded for retry (their last confirmed state is kept, so a mirror still removes them if they
    leave the model). Every row was journaled, so this updates rows in place (and deletes confirmed removals).
    With `deferred` (a destination whose writes land in finish_run) confirmed rows are only marked accepted;
    _apply_accepted makes them synced once finish_run succeeded, and a run that dies first resends them."""
    if settled[0][0].pending is None:
        return _commit_outbox(warehouse, sync, run_id, settled, deferred)
    by_key = {
        record.key: (record, item)
        for batch, _ in settled
        for record, item in zip(batch.records, batch.pending or [], strict=True)
    }
    outcomes = [outcome for _, result in settled for outcome in result.results]
    confirmed = []
    removed = []
    rejected = []
    rejected_rows = []
    for outcome in outcomes:
        record, item = by_key[outcome.key]
        destination_id = outcome.destination_id or record.destination_id
        if outcome.ok:
            if record.operation in REMOVING:
                removed.append((outcome.key,))
            else:
                confirmed.append((outcome.key, destination_id))
            continue
        rejected.append((record, outcome))
        rejected_rows.append(
            (
                outcome.key,
                item.confirmed_hash,
                item.row_hash,
                "rejected",
                item.attempts + 1,
                outcome.error,
                destination_id,
            )
        )
    snapshots = f"{state.SCHEMA}.snapshots"
    now = _now()
    with warehouse.transaction():
        # The journal set attempted_hash to the hash that was sent: a confirmed row's confirmed hash becomes it.
        _with_rows(
            warehouse,
            f"update {snapshots} set updated_at = ?, {_confirm_sql(deferred)}, "
            "last_error = null, destination_id = b.destination_id "
            "from {rows} as b where snapshots.sync_name = ? and snapshots.record_key = b.record_key",
            ["record_key", "destination_id"],
            confirmed,
            before=[now],
            after=[sync.name],
        )
        _with_rows(
            warehouse,
            f"update {snapshots} set updated_at = ?, confirmed_hash = b.confirmed_hash, "
            "attempted_hash = b.attempted_hash, status = b.status, attempts = cast(b.attempts as integer), "
            "last_error = b.last_error, destination_id = b.destination_id "
            "from {rows} as b where snapshots.sync_name = ? and snapshots.record_key = b.record_key",
            SNAPSHOT_COLUMNS,
            rejected_rows,
            before=[now],
            after=[sync.name],
        )
        _with_rows(
            warehouse,
            (
                f"update {snapshots} set status = 'accepted_removal' where sync_name = ? and record_key in "
                "(select b.record_key from {rows} as b)"
                if deferred
                else f"delete from {snapshots} where sync_name = ? and record_key in (select b.record_key from {{rows}} as b)"
            ),
            ["record_key"],
            removed,
            before=[sync.name],
        )
        _record_rejects(warehouse, sync, run_id, [(record, outcome) for record, outcome in rejected])
    return len(outcomes) - len(rejected), len(rejected)


def _confirm_sql(deferred: bool) -> str:
    return (
        "status = 'accepted'"
        if deferred
        else "confirmed_hash = attempted_hash, status = 'synced', attempts = 0"
    )


def _record_rejects(
    warehouse: Warehouse, sync: SyncConfig, run_id: str, rejected: list[tuple[Record, RecordResult]]
) -> None:
    if not rejected:
        return
    batch_rows = warehouse.rows_subquery(["record_key", "operation", "error"])
    warehouse.execute(
        f"insert into {state.SCHEMA}.rejects select ?, ?, b.record_key, b.operation, b.error, ? from {batch_rows} as b",
        [
            run_id,
            sync.name,
            _now(),
            [outcome.key for _, outcome in rejected],
            [record.operation.value for record, _ in rejected],
            [outcome.error for _, outcome in rejected],
        ],
    )


def _commit_outbox(
    warehouse: Warehouse,
    sync: SyncConfig,
    run_id: str,
    settled: list[tuple[Batch, BatchResult]],
    deferred: bool,
) -> tuple[int, int]:
    """_commit_batches on DuckDB: the settled batches are the outbox rows first + 1 .. last, so the confirmed
    rows are updated (or deleted) set-wise from the outbox by position, less the few that were not confirmed;
    only destination ids the destination assigned are bound, as one array in position order."""
    outcomes = _Outcomes(settled)
    first, last = settled[0][0].start, settled[-1][0].end
    outbox = state.outbox_table(sync)
    snapshots = f"{state.SCHEMA}.snapshots"
    operations = OPERATIONS[sync.mode]
    removing = [kind for kind, operation in operations.items() if operation in REMOVING]
    keeping = [kind for kind, operation in operations.items() if operation and operation not in REMOVING]
    now = _now()
    keys = _key_range(warehouse, sync, first, last)

    def confirmed_rows(kinds: list[str], joined: str = "") -> str:
        """The outbox rows (`o`) of these kinds in the settled range that were confirmed; parameters: those of
        `joined`, then confirmed_params(kinds)."""
        placeholders = ", ".join("?" for _ in kinds)
        return (
            f"from {outbox} as o {joined} where o.position > ? and o.position <= ? "
            f"and o.change_type in ({placeholders}) and o.position not in (select unnest(?::bigint[]))"
        )

    def confirmed_params(kinds: list[str]) -> list[Any]:
        return [first, last, *kinds, outcomes.unsettled]

    with warehouse.transaction():
        # The journal set attempted_hash to the hash that was sent: a confirmed row's confirmed hash becomes it.
        if outcomes.keeping and keeping and outcomes.any_new_id:
            # The ids the destination assigned, one per settled row in position order (null: unchanged).
            ids = (
                "left join (select unnest(range(?, ?)) as position, unnest(?::varchar[]) as destination_id) as ids "
                "on ids.position = o.position"
            )
            warehouse.execute(
                f"update {snapshots} set updated_at = ?, {_confirm_sql(deferred)}, last_error = null, "
                "destination_id = coalesce(b.destination_id, snapshots.destination_id) "
                f"from (select o.record_key, ids.destination_id {confirmed_rows(keeping, ids)}) as b "
                f"where snapshots.sync_name = ? and snapshots.record_key = b.record_key and {KEY_RANGE}",
                [now, first + 1, last + 1, outcomes.new_ids, *confirmed_params(keeping), sync.name, *keys],
            )
        elif outcomes.keeping and keeping:
            warehouse.execute(
                f"update {snapshots} set updated_at = ?, {_confirm_sql(deferred)}, last_error = null "
                f"from (select o.record_key {confirmed_rows(keeping)}) as b "
                f"where snapshots.sync_name = ? and snapshots.record_key = b.record_key and {KEY_RANGE}",
                [now, *confirmed_params(keeping), sync.name, *keys],
            )
        if outcomes.removing and removing:
            change = (
                f"update {snapshots} set status = 'accepted_removal'"
                if deferred
                else f"delete from {snapshots}"
            )
            warehouse.execute(
                f"{change} where sync_name = ? and {KEY_RANGE} "
                f"and record_key in (select o.record_key {confirmed_rows(removing)})",
                [sync.name, *keys, *confirmed_params(removing)],
            )
        if outcomes.rejected:
            # A rejected row keeps its last confirmed state; its attempt is counted and its error recorded.
            warehouse.execute(
                f"update {snapshots} set updated_at = ?, confirmed_hash = b.confirmed_hash, "
                "attempted_hash = b.row_hash, status = 'rejected', attempts = b.attempts + 1, "
                "last_error = b.error, destination_id = coalesce(b.new_id, b.destination_id) "
                "from (select o.record_key, o.confirmed_hash, o.row_hash, o.attempts, o.destination_id, r.error, r.new_id "
                f"from {outbox} as o join (select unnest(?::bigint[]) as position, unnest(?::varchar[]) as error, "
                "unnest(?::varchar[]) as new_id) as r on r.position = o.position) as b "
                f"where snapshots.sync_name = ? and snapshots.record_key = b.record_key and {KEY_RANGE}",
                [
                    now,
                    [position + 1 for position, _, _ in outcomes.rejected],
                    [outcome.error for _, _, outcome in outcomes.rejected],
                    [outcome.destination_id or None for _, _, outcome in outcomes.rejected],
                    sync.name,
                    *keys,
                ],
            )
            _record_rejects(
                warehouse, sync, run_id, [(record, outcome) for _, record, outcome in outcomes.rejected]
            )
    return outcomes.confirmed, len(outcomes.rejected)


def _apply_accepted(warehouse: Warehouse, sync: SyncConfig) -> None:
    """After finish_run succeeded: what the destination accepted has landed."""
    snapshots = f"{state.SCHEMA}.snapshots"
    with warehouse.transaction():
        warehouse.execute(
            f"update {snapshots} set confirmed_hash = attempted_hash, status = 'synced', attempts = 0, updated_at = ? "
            "where sync_name = ? and status = 'accepted'",
            (_now(), sync.name),
        )
        warehouse.execute(
            f"delete from {snapshots} where sync_name = ? and status = 'accepted_removal'", (sync.name,)
        )


# A large run makes millions of small objects, and a window's records, fields and results stay alive until the
# window is committed: with CPython's default collector settings each window is promoted to the oldest
# generation and traversed again and again by full collections (about 4 s of a 1M-row run). While a run goes on,
# each page of records is frozen once built (gc.freeze: never traversed; freed by reference counting as usual;
# they hold no reference cycles) and young collections run every SENDING_GC_ALLOCATIONS net allocations instead of
# 700. The last run to end unfreezes and restores the thresholds.
SENDING_GC_ALLOCATIONS = 50_000
_gc_lock = threading.Lock()
_gc_runs = 0
_gc_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], SENDING_GC_ALLOCATIONS), *_gc_saved[1:])
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()


def run_sync(
    warehouse: Warehouse,
    sync: SyncConfig,
    allow_mass_change: bool = False,
    dry_run: bool = False,
    only_rejected: bool = False,
    destination: Destination | None = None,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunSummary:
    """Run (or plan, with dry_run) one sync. Raises SyncError when refused, PartialFailure when rows were rejected."""
    destination = destination or make_destination(sync)
    _, fields = check_columns(warehouse, sync)
    state.ensure_state(warehouse)
    batch_size = min(
        destination.capabilities.max_batch_size, getattr(destination, "batch_size", lambda: 10**9)()
    )
    with (
        sync_lock(warehouse, sync.name),
        warehouse.memory_capped(DUCKDB_DIFF_MEMORY_LIMIT),
        _fewer_collections(),
    ):
        run_id = uuid.uuid4().hex
        # Forget requests go first and whatever the mode: see reverse_etl.sync.forget.
        forgotten = (
            ForgetSummary()
            if dry_run
            else forget_suppressed(warehouse, sync, destination, run_id, batch_size)
        )
        diff = state.compute_diff(warehouse, sync, fields)
        summary = RunSummary(sync_name=sync.name, run_id=run_id, diff=diff, forgotten=forgotten)
        guard_blast_radius(sync, diff, allow_mass_change)
        if dry_run:
            for batch in _batches(warehouse, sync, fields, batch_size, only_rejected):
                summary.planned_requests += destination.plan_batch(batch.records)
                summary.sent += len(batch.records)
            if warehouse.kind == "duckdb":
                warehouse.execute(f"drop table if exists {state.outbox_table(sync)}")
                warehouse.commit()
            summary.status = "planned"
            return summary
        warehouse.execute(
            f"insert into {state.SCHEMA}.runs (run_id, sync_name, started_at, status, model_rows, added, changed, removed, invalid) "
            "values (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            (
                summary.run_id,
                sync.name,
                _now(),
                diff.model_rows,
                diff.added,
                diff.changed,
                diff.removed,
                diff.invalid,
            ),
        )
        warehouse.commit()
        error: str | None = None
        try:
            deferred = destination.capabilities.applies_at_finish
            destination.begin_run(sync.mode, previously_synced=diff.previously_synced)

            def settle(sending: list[tuple[Batch, Future[BatchResult]]]) -> None:
                """Wait for a window's sends, in order, and commit what came back in one transaction; a send
                that failed is raised after the batches before it are committed."""
                settled: list[tuple[Batch, BatchResult]] = []
                failure: BaseException | None = None
                for batch, future in sending:
                    try:
                        settled.append((batch, future.result()))
                    except BaseException as error:  # noqa: BLE001 - raised below, after the commit
                        failure = error
                        break
                if settled:
                    confirmed, rejected = _commit_batches(warehouse, sync, summary.run_id, settled, deferred)
                    summary.confirmed += confirmed
                    summary.rejected += rejected
                    for batch, _ in settled:
                        summary.sent += len(batch.records)
                        if progress:
                            progress(len(batch.records))
                if failure is not None:
                    raise failure

            # Two stages, a window at a time: while one window's batches are with the destination, the
            # previous window's results are committed and the next window is journaled. Sends stay one at a
            # time, in order.
            sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"send-{sync.name}")
            send_failed = threading.Event()

            def send(records: list[Record]) -> BatchResult:
                # After a failed send nothing queued behind it goes out: those rows stay pending for next run.
                if send_failed.is_set():
                    raise CancelledError("not sent: an earlier batch failed")
                try:
                    return destination.write_batch(records)
                except BaseException:
                    send_failed.set()
                    raise

            in_flight: list[tuple[Batch, Future[BatchResult]]] = []
            try:
                with warehouse.checkpoints_deferred():
                    batches = _batches(warehouse, sync, fields, batch_size, only_rejected)
                    for window in _windows(batches, batch_size):
                        _journal_intent(warehouse, sync, window)
                        sending: list[tuple[Batch, Future[BatchResult]]] = []
                        for batch in window:
                            sending.append((batch, sender.submit(send, batch.records)))
                            if should_stop and should_stop():
                                # Graceful stop: what is confirmed is committed; the rest is sent next run
                                # (journaled rows that were not sent stay pending, as after a crash).
                                summary.status = "interrupted"
                                break
                        previous, in_flight = in_flight, sending
                        settle(previous)
                        if summary.status == "interrupted":
                            break
                    previous, in_flight = in_flight, []
                    settle(previous)
            finally:
                sender.shutdown(wait=True, cancel_futures=True)
            destination.finish_run(sync.mode, success=summary.status != "interrupted")
            if deferred:
                _apply_accepted(warehouse, sync)
            if summary.status != "interrupted":
                _forget_removed(warehouse, sync)
        except Exception as failure:
            error = str(failure)
            summary.status = "failed"
            raise
        finally:
            if warehouse.kind == "duckdb":
                # The outbox holds copies of model rows: it does not outlive the run (even a stopped one).
                warehouse.execute(f"drop table if exists {state.outbox_table(sync)}")
            if summary.status not in ("failed", "interrupted"):
                summary.status = (
                    "partial" if summary.rejected or diff.invalid or forgotten.rejected else "success"
                )
            warehouse.execute(
                f"update {state.SCHEMA}.runs set finished_at = ?, status = ?, confirmed = ?, rejected = ?, error = ? where run_id = ?",
                (_now(), summary.status, summary.confirmed, summary.rejected, error, summary.run_id),
            )
            warehouse.commit()
    if summary.status == "partial":
        raise PartialFailure(summary.describe(), summary=summary)
    return summary


def _forget_removed(warehouse: Warehouse, sync: SyncConfig) -> None:
    """Rows gone from the model in a mode that does not remove them: the sync stops tracking them."""
    if OPERATIONS[sync.mode]["removed"] is None:
        with warehouse.transaction():
            warehouse.execute(
                f"delete from {state.SCHEMA}.snapshots where sync_name = ? and record_key in "
                f"(select record_key from {state.changes_table(sync)} where change_type = 'removed')",
                (sync.name,),
            )
