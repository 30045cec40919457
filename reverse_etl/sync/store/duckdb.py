"""The state store on DuckDB: the rows to send are numbered into cdp_sync.outbox__<sync> once, and the journal
and the commit read what they write back from the outbox, in SQL, by position."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reverse_etl.destinations.base import BatchResult
from reverse_etl.secrets import redact
from reverse_etl.sync import state
from reverse_etl.sync.modes import OPERATIONS, REMOVING
from reverse_etl.sync.records import Batch, Outcomes
from reverse_etl.sync.store import SNAPSHOTS, StateStore, confirm_sql
from reverse_etl.warehouse import DUCKDB_MEMORY_LIMIT, utc_now

# The keys a statement updates lie between the least and the greatest key of its outbox rows: said as constants,
# DuckDB skips the snapshot's row groups outside that range (rows are appended in key order, so a window's keys
# are mostly in a few row groups) instead of scanning every row of the sync's snapshot for each window.
KEY_RANGE = "snapshots.record_key >= ? and snapshots.record_key <= ?"


class DuckDBStore(StateStore):
    first_value = 3

    @property
    def outbox(self) -> str:
        return state.outbox_table(self.sync)

    def pages(
        self, selected_rows: str, params: list[Any], page_size: int
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[Any] | None]]:
        """The rows to send are numbered into the outbox once, then read a page at a time in short queries on
        the sync's own connection. A reader left open through the run would pin every row version the run
        writes meanwhile in memory, and hold the whole sorted result besides."""
        warehouse = self.warehouse
        warehouse.execute(
            f"create or replace table {self.outbox} as select row_number() over (order by change_type, record_key) "
            f"as position, * from ({selected_rows}) as rows_to_send order by position",
            params,
        )
        warehouse.commit()
        # The diff and the outbox, two large set operations, had more memory; sending holds Python rows besides.
        warehouse.cap_memory(DUCKDB_MEMORY_LIMIT)
        total = int(warehouse.query(f"select count(*) from {self.outbox}")[0][0])
        columns = ", ".join(
            [
                "record_key",
                "change_type",
                "destination_id",
                *(f"value_{n}" for n in range(len(self.run.fields))),
            ]
        )
        for start in range(0, total, page_size):
            rows = warehouse.query(
                f"select {columns} from {self.outbox} where position > ? and position <= ? order by position",
                (start, start + page_size),
            )
            yield rows, None

    def close(self) -> None:
        # The outbox holds copies of model rows: it does not outlive the run (even a stopped one).
        self.warehouse.execute(f"drop table if exists {self.outbox}")
        self.warehouse.commit()

    def _key_range(self, first: int, last: int) -> list[Any]:
        """The least and the greatest key of the outbox rows first + 1 .. last (compared as DuckDB compares them)."""
        low, high = self.warehouse.query(
            f"select min(record_key), max(record_key) from {self.outbox} where position > ? and position <= ?",
            (first, last),
        )[0]
        return [low, high]

    def journal(self, window: list[Batch]) -> None:
        """New keys are inserted, known ones updated: no deletes, and the key index changes only for new keys."""
        positions = [window[0].start, window[-1].end]
        with self.warehouse.transaction():
            keys = self._key_range(*positions)
            self.warehouse.execute(
                f"insert into {SNAPSHOTS} (sync_name, updated_at, record_key, attempted_hash, status, attempts, "
                "destination_id, confirmed_hash, last_error) select ?, ?, o.record_key, o.row_hash, 'pending', "
                f"o.attempts, o.destination_id, null, null from {self.outbox} as o "
                "where o.position > ? and o.position <= ? and o.previous_status = 'new'",
                [self.sync.name, utc_now(), *positions],
            )
            self.warehouse.execute(
                f"update {SNAPSHOTS} set updated_at = ?, attempted_hash = o.row_hash, status = 'pending', "
                f"last_error = null from {self.outbox} as o where o.position > ? and o.position <= ? "
                "and o.previous_status <> 'new' and snapshots.sync_name = ? and snapshots.record_key = o.record_key "
                f"and {KEY_RANGE}",
                [utc_now(), *positions, self.sync.name, *keys],
            )

    def commit(self, settled: list[tuple[Batch, BatchResult]], deferred: bool) -> tuple[int, int]:
        """The settled batches are the outbox rows first + 1 .. last, so the confirmed rows are updated (or
        deleted) set-wise from the outbox by position, less the few that were not confirmed; only destination
        ids the destination assigned are bound, as one array in position order."""
        outcomes = Outcomes(settled)
        first, last = settled[0][0].start, settled[-1][0].end
        outbox = self.outbox
        operations = OPERATIONS[self.sync.mode]
        removing = [kind for kind, operation in operations.items() if operation in REMOVING]
        keeping = [kind for kind, operation in operations.items() if operation and operation not in REMOVING]
        timestamp = utc_now()
        warehouse = self.warehouse

        def confirmed_rows(kinds: list[str], joined: str = "") -> str:
            """The outbox rows (`o`) of these kinds in the settled range that were confirmed; parameters: those
            of `joined`, then confirmed_params(kinds)."""
            placeholders = ", ".join("?" for _ in kinds)
            return (
                f"from {outbox} as o {joined} where o.position > ? and o.position <= ? "
                f"and o.change_type in ({placeholders}) and o.position not in (select unnest(?::bigint[]))"
            )

        def confirmed_params(kinds: list[str]) -> list[Any]:
            return [first, last, *kinds, outcomes.unsettled]

        with warehouse.transaction():
            keys = self._key_range(first, last)
            # The journal set attempted_hash to the hash that was sent: a confirmed row's confirmed hash becomes it.
            if outcomes.keeping and keeping and outcomes.any_new_id:
                # The ids the destination assigned, one per settled row in position order (null: unchanged).
                ids = (
                    "left join (select unnest(range(?, ?)) as position, unnest(?::varchar[]) as destination_id) "
                    "as ids on ids.position = o.position"
                )
                warehouse.execute(
                    f"update {SNAPSHOTS} set updated_at = ?, {confirm_sql(deferred)}, last_error = null, "
                    "destination_id = coalesce(b.destination_id, snapshots.destination_id) "
                    f"from (select o.record_key, ids.destination_id {confirmed_rows(keeping, ids)}) as b "
                    f"where snapshots.sync_name = ? and snapshots.record_key = b.record_key and {KEY_RANGE}",
                    [
                        timestamp,
                        first + 1,
                        last + 1,
                        outcomes.new_ids,
                        *confirmed_params(keeping),
                        self.sync.name,
                        *keys,
                    ],
                )
            elif outcomes.keeping and keeping:
                warehouse.execute(
                    f"update {SNAPSHOTS} set updated_at = ?, {confirm_sql(deferred)}, last_error = null "
                    f"from (select o.record_key {confirmed_rows(keeping)}) as b "
                    f"where snapshots.sync_name = ? and snapshots.record_key = b.record_key and {KEY_RANGE}",
                    [timestamp, *confirmed_params(keeping), self.sync.name, *keys],
                )
            if outcomes.removing and removing:
                change = (
                    f"update {SNAPSHOTS} set status = 'accepted_removal'"
                    if deferred
                    else f"delete from {SNAPSHOTS}"
                )
                warehouse.execute(
                    f"{change} where sync_name = ? and {KEY_RANGE} "
                    f"and record_key in (select o.record_key {confirmed_rows(removing)})",
                    [self.sync.name, *keys, *confirmed_params(removing)],
                )
            if outcomes.rejected:
                # A rejected row keeps its last confirmed state; its attempt is counted and its error recorded.
                warehouse.execute(
                    f"update {SNAPSHOTS} set updated_at = ?, confirmed_hash = b.confirmed_hash, "
                    "attempted_hash = b.row_hash, status = 'rejected', attempts = b.attempts + 1, "
                    "last_error = b.error, destination_id = coalesce(b.new_id, b.destination_id) "
                    "from (select o.record_key, o.confirmed_hash, o.row_hash, o.attempts, o.destination_id, r.error, "
                    f"r.new_id from {outbox} as o join (select unnest(?::bigint[]) as position, "
                    "unnest(?::varchar[]) as error, unnest(?::varchar[]) as new_id) as r on r.position = o.position) as b "
                    f"where snapshots.sync_name = ? and snapshots.record_key = b.record_key and {KEY_RANGE}",
                    [
                        timestamp,
                        [position + 1 for position, _, _ in outcomes.rejected],
                        [redact(outcome.error) for _, _, outcome in outcomes.rejected],
                        [outcome.destination_id or None for _, _, outcome in outcomes.rejected],
                        self.sync.name,
                        *keys,
                    ],
                )
                self.record_rejects([(record, outcome) for _, record, outcome in outcomes.rejected])
        return outcomes.confirmed, len(outcomes.rejected)
