"""The one interface the run protocol keeps its state through. A store is chosen once per run by the kind of
warehouse (STORES); each backend is one module. What is the same on every backend (the run record, rejects,
rows the destination accepted at finish, rows a mode forgets) is written here once, in portable SQL; the
backends differ in how the rows to send are read, and how a window is journaled and committed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from reverse_etl.destinations.base import BatchResult, Record, RecordResult
from reverse_etl.errors import ConfigError
from reverse_etl.secrets import redact
from reverse_etl.sync import state
from reverse_etl.sync.modes import OPERATIONS, kinds_sent, removes
from reverse_etl.sync.records import CHANGE_COLUMNS, Batch, to_records
from reverse_etl.sync.run import Run, RunSummary
from reverse_etl.warehouse import Warehouse, quote, utc_now

SNAPSHOTS = f"{state.SCHEMA}.snapshots"
RUNS = f"{state.SCHEMA}.runs"
INTERRUPTED = "interrupted"


class StateStore(ABC):
    """Where one run journals, commits and records what it did."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.warehouse: Warehouse = run.warehouse
        self.sync = run.sync

    # What differs per backend.

    @abstractmethod
    def pages(
        self, selected_rows: str, params: list[Any], page_size: int
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[Any] | None]]:
        """The rows to send, a page at a time, in (change type, key) order: each row is key, change type,
        destination id, then what the store keeps (up to `first_value`), then the model's values; with each
        page, the store's per-row bookkeeping for Batch.pending (or None)."""

    #: Where the model's values start in a row of pages().
    first_value: int

    @abstractmethod
    def journal(self, window: list[Batch]) -> None:
        """Before a window is sent, mark its rows pending (committed), keeping their last confirmed state."""

    @abstractmethod
    def commit(self, settled: list[tuple[Batch, BatchResult]], deferred: bool) -> tuple[int, int]:
        """One transaction for the results of settled batches; returns (confirmed, rejected)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Drop what the run kept only while it ran (it ends however the run ends)."""

    # What every backend shares.

    def batches(self) -> Iterator[Batch]:
        """The diff's rows this run sends, as destination-sized batches of Records."""
        run = self.run
        kinds = kinds_sent(self.sync.mode)
        if not kinds:
            return iter(())
        # The model's values are named value_<n> in the rows to send, so no model column can clash with a change column.
        values_sql = ", ".join(
            f"model.{quote(column)} as value_{n}" for n, column in enumerate(run.fields.values())
        )
        placeholders = ", ".join("?" for _ in kinds)
        rejected_only = " and change.previous_status = 'rejected'" if run.options.only_rejected else ""
        selected_rows = (
            f"select {', '.join('change.' + column for column in CHANGE_COLUMNS)}, {values_sql} "
            f"from {state.changes_table(self.sync)} as change "
            f"left join {run.relation} as model "
            f"on cast(model.{quote(self.sync.primary_key)} as varchar) = change.record_key "
            f"and change.change_type <> 'removed' "
            f"where change.change_type in ({placeholders}){rejected_only}"
        )
        pages = self.pages(selected_rows, kinds, max(run.batch_size, 10_000))
        return to_records(
            pages, list(run.fields), OPERATIONS[self.sync.mode], self.first_value, run.batch_size
        )

    def close_abandoned_runs(self) -> int:
        """Runs of this sync still marked running were cut off (the process was killed): the caller holds the
        sync's lock, so none of them is alive. They are marked interrupted; their rows were journaled pending
        and are sent again."""
        with self.warehouse.transaction():
            count = int(
                self.warehouse.query(
                    f"select count(*) from {RUNS} where sync_name = ? and status = 'running'",
                    (self.sync.name,),
                )[0][0]
            )
            if count:
                self.warehouse.execute(
                    f"update {RUNS} set status = ?, finished_at = coalesce(finished_at, ?), error = coalesce(error, ?) "
                    "where sync_name = ? and status = 'running'",
                    (
                        INTERRUPTED,
                        utc_now(),
                        "the process running this sync ended before the run finished (killed or crashed); "
                        "its unconfirmed rows were sent again by the next run",
                        self.sync.name,
                    ),
                )
        return count

    def begin(self, summary: RunSummary) -> None:
        diff = summary.diff
        self.warehouse.execute(
            f"insert into {RUNS} (run_id, sync_name, started_at, status, model_rows, added, changed, removed, "
            "invalid, fingerprint, notes) values (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
            (
                summary.run_id,
                self.sync.name,
                utc_now(),
                diff.model_rows,
                diff.added,
                diff.changed,
                diff.removed,
                diff.invalid,
                diff.fingerprint,
                redact("\n".join(summary.notes())) or None,
            ),
        )
        self.warehouse.commit()

    def end(self, summary: RunSummary, error: str | None) -> None:
        self.warehouse.execute(
            f"update {RUNS} set finished_at = ?, status = ?, confirmed = ?, rejected = ?, dropped = ?, error = ?, "
            "notes = ? where run_id = ?",
            (
                utc_now(),
                summary.status,
                summary.confirmed,
                summary.rejected,
                sum(summary.dropped.values()),
                redact(error),
                redact("\n".join(summary.notes())) or None,
                summary.run_id,
            ),
        )
        self.warehouse.commit()

    def record_rejects(self, rejected: Sequence[tuple[Record, RecordResult]]) -> None:
        """Inside the commit's transaction: each rejected row with its (redacted) error."""
        if not rejected:
            return
        batch_rows = self.warehouse.rows_subquery(["record_key", "operation", "error"])
        self.warehouse.execute(
            f"insert into {state.SCHEMA}.rejects select ?, ?, b.record_key, b.operation, b.error, ? from {batch_rows} as b",
            [
                self.run.run_id,
                self.sync.name,
                utc_now(),
                [outcome.key for _, outcome in rejected],
                [record.operation.value for record, _ in rejected],
                [redact(outcome.error) for _, outcome in rejected],
            ],
        )

    def apply_accepted(self) -> None:
        """After finish_run succeeded: what the destination accepted has landed."""
        with self.warehouse.transaction():
            self.warehouse.execute(
                f"update {SNAPSHOTS} set confirmed_hash = attempted_hash, status = 'synced', attempts = 0, "
                "updated_at = ? where sync_name = ? and status = 'accepted'",
                (utc_now(), self.sync.name),
            )
            self.warehouse.execute(
                f"delete from {SNAPSHOTS} where sync_name = ? and status = 'accepted_removal'",
                (self.sync.name,),
            )

    def forget_removed(self) -> None:
        """Rows gone from the model in a mode that does not remove them: the sync stops tracking them."""
        if removes(self.sync.mode):
            return
        with self.warehouse.transaction():
            self.warehouse.execute(
                f"delete from {SNAPSHOTS} where sync_name = ? and record_key in "
                f"(select record_key from {state.changes_table(self.sync)} where change_type = 'removed')",
                (self.sync.name,),
            )


def confirm_sql(deferred: bool) -> str:
    """How a confirmed row's snapshot changes: synced now, or accepted until finish_run applies it."""
    return (
        "status = 'accepted'"
        if deferred
        else "confirmed_hash = attempted_hash, status = 'synced', attempts = 0"
    )


def open_store(run: Run) -> StateStore:
    """The state store for this run's warehouse."""
    from reverse_etl.sync.store.duckdb import DuckDBStore
    from reverse_etl.sync.store.postgres import PostgresStore

    stores: dict[str, type[StateStore]] = {"duckdb": DuckDBStore, "postgres": PostgresStore}
    store = stores.get(run.warehouse.kind)
    if store is None:
        raise ConfigError(
            f"no sync state store for a {run.warehouse.kind} warehouse; use one of {', '.join(stores)}"
        )
    return store(run)
