"""`cdp match`: read the configured records, train the model when asked (or when there is none), score the
blocked pairs of the new and changed records (or of all of them on a full run: reverse_etl.matching.incremental)
and write the links and groups tables. With vars.cdp_matching.enabled false it drops them, so nothing stale is
left for a reader. One run per warehouse at a time: a second one is refused (RunLocked, exit code 5) while the
first holds the match lock (reverse_etl.sync.lock.run_lock), so two runs never interleave their reads and writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from reverse_etl.errors import RunLocked
from reverse_etl.matching import incremental
from reverse_etl.matching import links as link_table
from reverse_etl.matching import model as splink_model
from reverse_etl.matching.config import MatchingConfig
from reverse_etl.matching.records import load_records
from reverse_etl.project import Target
from reverse_etl.sync.lock import run_lock
from reverse_etl.warehouse import Warehouse, quote


@dataclass
class MatchSummary:
    enabled: bool
    records: int = 0
    links: int = 0
    above_threshold: int = 0
    threshold: float = 0.0
    model_version: str = ""
    trained: bool = False
    full: bool = True
    scored_records: int = 0
    train_seconds: float = 0.0
    score_seconds: float = 0.0

    def describe(self) -> str:
        if not self.enabled:
            return "fuzzy matching is off (vars.cdp_matching.enabled: false): the matching tables are dropped"
        trained = f", trained in {self.train_seconds:.1f}s" if self.trained else ""
        scope = (
            "all of them (a full run)"
            if self.full
            else f"{self.scored_records:,} new or changed against the others (an incremental run)"
        )
        return (
            f"matched {self.records:,} records with model {self.model_version}{trained}, scoring {scope}: "
            f"{self.links:,} scored pairs in matching.record_links, {self.above_threshold:,} at or above the "
            f"threshold {self.threshold} (scored in {self.score_seconds:.1f}s)"
        )


def run_match(
    target: Target, config: MatchingConfig, train: bool = False, full: bool = False
) -> MatchSummary:
    """Match the configured records; `full` scores every record even when an incremental run would do."""
    warehouse = Warehouse(target)
    try:
        with match_lock(warehouse):
            return _match(warehouse, config, train, full)
    finally:
        warehouse.close()


@contextmanager
def match_lock(warehouse: Warehouse) -> Iterator[None]:
    """The warehouse's one `cdp match` at a time; RunLocked at once when another run holds it (no waiting: a
    scheduler runs the next one)."""
    refused = RunLocked(
        f"cdp match is already running on this warehouse (target {warehouse.target.name}: another run holds "
        "its lock); nothing was done, try again when it ends"
    )
    with run_lock(warehouse, "cdp_match", "cdp-match", refused):
        yield


def _match(warehouse: Warehouse, config: MatchingConfig, train: bool, full: bool) -> MatchSummary:
    if not config.enabled:
        with warehouse.transaction():
            warehouse.execute(f"drop table if exists {quote(link_table.SCHEMA)}.{quote(link_table.TABLE)}")
            incremental.drop(warehouse)
        return MatchSummary(enabled=False)
    summary = MatchSummary(enabled=True, threshold=config.threshold)
    changes = None
    if not (train or full) and config.model_file.exists():
        summary.model_version = splink_model.version(config.model_file)
        version = incremental.scoring_version(config, summary.model_version)
        changes = incremental.delta(warehouse, config, version)
    memory = duckdb.connect(":memory:")
    try:
        if changes is None:
            summary.records = load_records(warehouse, config, memory)
            if train or not config.model_file.exists():
                started = time.perf_counter()
                splink_model.train(config, memory)
                summary.trained, summary.train_seconds = True, time.perf_counter() - started
            summary.model_version = splink_model.version(config.model_file)
            version = incremental.scoring_version(config, summary.model_version)
        model = splink_model.load(config)
        started = time.perf_counter()
        if changes is None:
            scored = link_table.score(config, model, memory)
        else:
            scored = incremental.score_changed(warehouse, config, model, memory, changes)
        summary.score_seconds = time.perf_counter() - started
        replaced = None if changes is None else changes.replaced
        summary.full = changes is None
        summary.scored_records = summary.records if changes is None else len(changes.changed)
        with warehouse.transaction():
            link_table.write_links(warehouse, scored, summary.model_version, config.threshold, replaced)
            incremental.save(
                warehouse,
                config,
                version,
                memory,
                "records" if changes is None else "changed_records",
                replaced,
                None if changes is None else changes.retimed,
            )
    finally:
        memory.close()
    # The counts in one round trip; an incremental run also counts the records kept (it read only its changes).
    table = f"{quote(link_table.SCHEMA)}.{quote(link_table.TABLE)}"
    kept = incremental.records_kept_select(config) if changes is not None else "null"
    summary.links, summary.above_threshold, records = warehouse.query(
        f"select count(*), count(case when match_probability >= ? then 1 end), ({kept}) from {table}",  # noqa: S608
        (config.threshold,),
    )[0]
    if changes is not None:
        summary.records = int(records)
    return summary
