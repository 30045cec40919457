"""The state store on PostgreSQL: the rows to send come through a server-side cursor, and what the journal and
the commit write back for each row travels with its batch (Batch.pending), bound as one array per column."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from reverse_etl.destinations.base import BatchResult
from reverse_etl.secrets import redact
from reverse_etl.sync.modes import REMOVING
from reverse_etl.sync.records import CHANGE_COLUMNS, Batch
from reverse_etl.sync.store import SNAPSHOTS, StateStore, confirm_sql
from reverse_etl.warehouse import utc_now

SNAPSHOT_COLUMNS = [
    "record_key",
    "confirmed_hash",
    "attempted_hash",
    "status",
    "attempts",
    "last_error",
    "destination_id",
]


class Pending(NamedTuple):
    """What the store must write back for one record on its way out."""

    row_hash: str | None
    confirmed_hash: str | None
    attempts: int
    # Whether the sync's snapshot already has a row for this key (the journal updates it rather than inserting).
    tracked: bool


class PostgresStore(StateStore):
    first_value = len(CHANGE_COLUMNS)

    def pages(
        self, selected_rows: str, params: list[Any], page_size: int
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[Any] | None]]:
        statement = f"{selected_rows} order by change.change_type, change.record_key"
        for rows in self.warehouse.stream(statement, params, batch_size=page_size):
            yield rows, [Pending(row[3], row[4], int(row[5] or 0), row[6] != "new") for row in rows]

    def _with_rows(
        self,
        statement: str,
        columns: list[str],
        rows: list[tuple[Any, ...]],
        before: Sequence[Any] = (),
        after: Sequence[Any] = (),
    ) -> None:
        """Run `statement` once for all `rows`: `{rows}` in it becomes a subquery of them (one bound text array
        per column); `before` and `after` are the parameters on either side of it."""
        if not rows:
            return
        arrays = [[None if row[i] is None else str(row[i]) for row in rows] for i in range(len(columns))]
        self.warehouse.execute(
            statement.format(rows=self.warehouse.rows_subquery(columns)), [*before, *arrays, *after]
        )

    def journal(self, window: list[Batch]) -> None:
        items = [
            (record, item)
            for batch in window
            for record, item in zip(batch.records, batch.pending or [], strict=True)
        ]
        timestamp = utc_now()
        with self.warehouse.transaction():
            self._with_rows(
                f"insert into {SNAPSHOTS} (sync_name, updated_at, record_key, attempted_hash, status, attempts, "
                "destination_id, confirmed_hash, last_error) select ?, ?, b.record_key, b.attempted_hash, 'pending', "
                "cast(b.attempts as integer), b.destination_id, null, null from {rows} as b",
                ["record_key", "attempted_hash", "attempts", "destination_id"],
                [
                    (record.key, item.row_hash, item.attempts, record.destination_id)
                    for record, item in items
                    if not item.tracked
                ],
                before=[self.sync.name, timestamp],
            )
            self._with_rows(
                f"update {SNAPSHOTS} set updated_at = ?, attempted_hash = b.attempted_hash, status = 'pending', "
                "last_error = null from {rows} as b where snapshots.sync_name = ? and snapshots.record_key = b.record_key",
                ["record_key", "attempted_hash"],
                [(record.key, item.row_hash) for record, item in items if item.tracked],
                before=[timestamp],
                after=[self.sync.name],
            )

    def commit(self, settled: list[tuple[Batch, BatchResult]], deferred: bool) -> tuple[int, int]:
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
            if outcome.key not in by_key:
                continue
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
                    redact(outcome.error),
                    destination_id,
                )
            )
        timestamp = utc_now()
        with self.warehouse.transaction():
            # The journal set attempted_hash to the hash that was sent: a confirmed row's confirmed hash becomes it.
            self._with_rows(
                f"update {SNAPSHOTS} set updated_at = ?, {confirm_sql(deferred)}, "
                "last_error = null, destination_id = b.destination_id "
                "from {rows} as b where snapshots.sync_name = ? and snapshots.record_key = b.record_key",
                ["record_key", "destination_id"],
                confirmed,
                before=[timestamp],
                after=[self.sync.name],
            )
            self._with_rows(
                f"update {SNAPSHOTS} set updated_at = ?, confirmed_hash = b.confirmed_hash, "
                "attempted_hash = b.attempted_hash, status = b.status, attempts = cast(b.attempts as integer), "
                "last_error = b.last_error, destination_id = b.destination_id "
                "from {rows} as b where snapshots.sync_name = ? and snapshots.record_key = b.record_key",
                SNAPSHOT_COLUMNS,
                rejected_rows,
                before=[timestamp],
                after=[self.sync.name],
            )
            self._with_rows(
                (
                    f"update {SNAPSHOTS} set status = 'accepted_removal' where sync_name = ? and record_key in "
                    "(select b.record_key from {rows} as b)"
                    if deferred
                    else f"delete from {SNAPSHOTS} where sync_name = ? and record_key in (select b.record_key from {{rows}} as b)"
                ),
                ["record_key"],
                removed,
                before=[self.sync.name],
            )
            self.record_rejects(rejected)
        return len(confirmed) + len(removed), len(rejected)
