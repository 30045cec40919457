"""One run of one sync: what it was asked to do, what it works with, and what it did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reverse_etl.destinations.base import Destination
from reverse_etl.http import HttpRequest
from reverse_etl.sync.config import SyncConfig
from reverse_etl.sync.forget import ForgetSummary
from reverse_etl.sync.state import Diff
from reverse_etl.sync.state import relation_sql as state_relation_sql
from reverse_etl.warehouse import Warehouse

if TYPE_CHECKING:
    from reverse_etl.sync.spark_model import SparkModel


@dataclass(frozen=True)
class RunOptions:
    allow_mass_change: bool = False
    # Plan only: diff and build the requests, send nothing, change no state.
    dry_run: bool = False
    # Send only the rows rejected before (retry-rejects).
    only_rejected: bool = False
    # Called with the number of rows of each batch once its results are committed.
    progress: Callable[[int], None] | None = None
    # Asked after each batch is queued: True stops the run gracefully (what is confirmed is committed).
    should_stop: Callable[[], bool] | None = None


@dataclass
class RunSummary:
    sync_name: str
    run_id: str
    diff: Diff
    sent: int = 0
    confirmed: int = 0
    rejected: int = 0
    skipped: int = 0
    status: str = "success"
    planned_requests: list[HttpRequest] = field(default_factory=list)
    forgotten: ForgetSummary = field(default_factory=ForgetSummary)
    # Identifier values the destination could not use, by reason (their rows went out with the rest).
    dropped: Counter[str] = field(default_factory=Counter)

    def notes(self) -> list[str]:
        """What the operator should know beyond the counts."""
        d = self.diff
        notes = []
        if d.resend.reason and d.changed:
            notes.append(f"resend: {d.resend.reason}")
        if d.duplicate_keys:
            shown = ", ".join(d.duplicate_examples[:5])
            more = ", ..." if len(d.duplicate_examples) > 5 else ""
            notes.append(f"{d.duplicate_keys:,} rows share a key and were not sent (keys: {shown}{more})")
        if d.null_keys:
            notes.append(
                "1 row has no key and was not sent"
                if d.null_keys == 1
                else f"{d.null_keys:,} rows have no key and were not sent"
            )
        if self.dropped:
            notes.append(
                "dropped identifiers: "
                + ", ".join(f"{reason} {count:,}" for reason, count in sorted(self.dropped.items()))
            )
        return notes

    def describe(self) -> str:
        d = self.diff
        forgotten = (
            f"; forgotten {self.forgotten.confirmed:,} (still queued {self.forgotten.rejected:,})"
            if self.forgotten.confirmed or self.forgotten.rejected
            else ""
        )
        notes = "".join(f"\n  {note}" for note in self.notes())
        return (
            f"{self.sync_name}: {d.model_rows:,} model rows; added {d.added:,}, changed {d.changed:,}, removed {d.removed:,}"
            f" (retries {d.retries:,}); sent {self.sent:,}, confirmed {self.confirmed:,}, rejected {self.rejected:,},"
            f" skipped {self.skipped:,}, invalid keys {d.invalid:,}{forgotten} -> {self.status}{notes}"
        )


@dataclass
class Run:
    """Everything one run works with, handed around as one object."""

    warehouse: Warehouse
    sync: SyncConfig
    destination: Destination
    # Destination field -> model column.
    fields: dict[str, str]
    batch_size: int
    run_id: str
    options: RunOptions = field(default_factory=RunOptions)
    # A model in Spark: the diff runs there and its rows to act on are copied into this warehouse (the state store).
    model: SparkModel | None = None

    @property
    def relation(self) -> str:
        """Where the batches read the model's values: the model itself, or the rows copied from Spark."""
        return self.model.rows_table if self.model is not None else state_relation_sql(self.sync)
