"""Rows to send, as the engine handles them: pages of change rows turned into Records, Records cut into
destination-sized batches and batches grouped into windows, and a window's results sorted out for the commit."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from reverse_etl.destinations.base import BatchResult, Operation, Record, RecordResult
from reverse_etl.sync.modes import REMOVING

# Rows are journaled and committed a window at a time: the first window is one batch, each next one twice as
# many, up to WINDOW_ROWS. Small runs and slow destinations commit early and often; large runs pay two
# small transactions per window instead of two per batch.
WINDOW_ROWS = 20_000

# The columns of a change row before the model's values.
CHANGE_COLUMNS = [
    "record_key",
    "change_type",
    "destination_id",
    "row_hash",
    "confirmed_hash",
    "attempts",
    "previous_status",
]
PLAIN_TYPES = (str, int, float, bool)


class Batch(NamedTuple):
    """Records on their way out, numbered start + 1 .. start + len(records) in the run. `pending` is what the
    state store must write back for each record, when the store keeps it in memory (None when it reads it
    back from the warehouse by position)."""

    records: list[Record]
    start: int
    pending: list[Any] | None = None

    @property
    def end(self) -> int:
        return self.start + len(self.records)


def to_records(
    pages: Iterable[tuple[list[tuple[Any, ...]], list[Any] | None]],
    names: list[str],
    operations: dict[str, Operation | None],
    first: int,
    batch_size: int,
) -> Iterator[Batch]:
    """Pages of change rows (key, change type, destination id, ..., then the values from column `first`),
    each with the store's per-row bookkeeping or None, as batches of Records. Which columns need converting
    for JSON is learnt from each column's first non-null value (a column's values share one type), so the
    common row costs one dict(zip(...))."""
    unknown = set(range(len(names)))
    converted: list[int] = []
    records: list[Record] = []
    pending: list[Any] = []
    keeps_pending = False
    start = 0
    for rows, extra in pages:
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
        if extra is not None:
            keeps_pending = True
            pending += extra
        # These records live until their window is committed: the garbage collector need not traverse them.
        gc.freeze()
        taken = 0
        while len(records) - taken >= batch_size:
            end = taken + batch_size
            yield Batch(records[taken:end], start, pending[taken:end] if keeps_pending else None)
            start, taken = start + batch_size, end
        records, pending = records[taken:], pending[taken:]
    if records:
        yield Batch(records, start, pending if keeps_pending else None)


def _fields(names: list[str], values: Sequence[Any], converted: list[int]) -> dict[str, Any]:
    """A row's fields when some columns need converting for JSON (timestamps, decimals)."""
    fields = dict(zip(names, values, strict=True))
    for index in converted:
        fields[names[index]] = _plain(values[index])
    return fields


def _plain(value: Any) -> Any:
    """JSON-friendly values: timestamps and decimals as text or numbers."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value


def windows(batches: Iterator[Batch], batch_size: int) -> Iterator[list[Batch]]:
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


class Outcomes:
    """The results of settled batches sorted out for the commit: which rows were confirmed, with any
    destination id the destination assigned, and which were rejected."""

    def __init__(self, settled: list[tuple[Batch, BatchResult]]) -> None:
        self.confirmed = 0
        self.removing = False
        self.keeping = False
        # Per row of the settled batches, in order: a destination id the destination assigned or changed.
        self.new_ids: list[str | None] = []
        self.any_new_id = False
        # Rows not to confirm (1-based positions): rejected, or given no result (sent again next run).
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
