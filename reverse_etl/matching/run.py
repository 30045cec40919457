"""`cdp match`: read the configured records, train the model when asked (or when there is none), score the
blocked pairs of the new and changed records (or of all of them on a full run: reverse_etl.matching.incremental)
and write the links and groups tables. With vars.cdp_matching.enabled false it drops them, so nothing stale is
left for a reader. One run per warehouse at a time: a second one is refused (RunLocked, exit code 5) while the
first holds the match lock (reverse_etl.sync.lock.run_lock), so two runs never interleave their reads and writes.
The tables live in the warehouse (WarehouseTables) or, on the spark target, in Spark tables published at once
by one metastore statement (reverse_etl.matching.spark_tables)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

import duckdb

from reverse_etl.errors import RunLocked
from reverse_etl.matching import incremental
from reverse_etl.matching import links as link_table
from reverse_etl.matching import model as splink_model
from reverse_etl.matching import statements as scoring_statements
from reverse_etl.matching.config import MatchingConfig
from reverse_etl.matching.records import load_records, new_memory
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


class MatchTables(Protocol):
    """Where a run reads the records and keeps the matching tables: a DuckDB or PostgreSQL warehouse
    (WarehouseTables, one transaction per run) or Spark (reverse_etl.matching.spark_tables)."""

    def drop(self) -> None: ...

    def scratch(self, incremental_run: bool) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The run's in-memory DuckDB database (`memory`: the records read, Splink's tables), closed after."""

    def delta(self, config: MatchingConfig, version: str) -> incremental.Delta | None: ...

    def load_records(self, config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> int: ...

    def mates(self, config: MatchingConfig) -> incremental.MatesReader: ...

    def statements(self, config: MatchingConfig, version: str) -> scoring_statements.Statements | None:
        """The scoring statements kept for `version` (None: none kept, or these tables keep none)."""

    # Whether write keeps Written.statements for the next incremental runs.
    keeps_statements: bool

    def write(self, written: Written, memory: duckdb.DuckDBPyConnection) -> None: ...

    def counts(self, config: MatchingConfig, incremental_run: bool) -> tuple[int, int, int]: ...


@dataclass
class Written:
    """What a run writes: the scored links, the model and scoring versions, the records replaced (None: a
    full run, every table written again), the kept records whose change time alone moved (`retimed`: the
    new time by record, incremental.Delta) and the scoring statements to keep (None: those kept stay)."""

    links: list[link_table.ScoredLink]
    model_version: str
    scoring_version: str
    config: MatchingConfig
    replaced: set[str] | None
    retimed: dict[str, str] | None = None
    statements: scoring_statements.Statements | None = None
    # The replaced records with kept rows and links (incremental.Delta.stale; None: all of them).
    stale: set[str] | None = None

    @property
    def normalized(self) -> str:
        """memory's table of the normalized records read this run."""
        return "records" if self.replaced is None else "changed_records"


# The in-memory database an incremental run attaches to a DuckDB warehouse (WarehouseTables.scratch).
SCRATCH = "cdp_match_scratch"


class WarehouseTables:
    """The matching tables of a DuckDB or PostgreSQL warehouse, written in one transaction."""

    keeps_statements = True

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        # The warehouse's database while an incremental run's scratch database is attached (scratch).
        self._home: str | None = None

    def drop(self) -> None:
        with self.warehouse.transaction():
            self.warehouse.execute(
                f"drop table if exists {quote(link_table.SCHEMA)}.{quote(link_table.TABLE)}"
            )
            incremental.drop(self.warehouse)
            scoring_statements.drop(self.warehouse)

    @contextmanager
    def scratch(self, incremental_run: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """On DuckDB, an incremental run works in an in-memory database attached to the warehouse's own instance,
        on a connection of its own: starting a second DuckDB instance (and its threads) costs 0.05-0.2 s of wall
        time on a busy machine (docs/benchmarks.md, "Incremental matching: seventh round"). Its statements name
        their tables unqualified, so they stay in that database. A full run keeps an instance of its own:
        Splink's linker looks its tables' columns up by name in information_schema, which would see the
        warehouse's tables too."""
        if self.warehouse.kind != "duckdb" or not incremental_run:
            with new_memory() as memory:
                yield memory
            return
        memory = self.warehouse.connection.cursor()
        try:
            home = memory.execute("select current_database()").fetchall()[0][0]
            self._home = str(home)
            memory.execute(f"attach ':memory:' as {SCRATCH}")
            memory.execute(f"use {SCRATCH}")
            yield memory
            # After a failure the database stays attached until the warehouse is closed (run_match).
            memory.execute(f"use {quote(home)}")
            memory.execute(f"detach {SCRATCH}")
        finally:
            self._home = None
            memory.close()

    def delta(self, config: MatchingConfig, version: str) -> incremental.Delta | None:
        return incremental.delta(self.warehouse, config, version)

    def load_records(self, config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> int:
        return load_records(self.warehouse, config, memory)

    def mates(self, config: MatchingConfig) -> incremental.MatesReader:
        """Within an incremental run's scratch database on DuckDB, memory reads the kept records itself."""
        if self._home is not None:
            return incremental.KeptInMemory(
                f"{quote(self._home)}.{quote(link_table.SCHEMA)}.{quote(incremental.STATE)}"
            )
        return incremental.warehouse_mates(self.warehouse, config)

    def statements(self, config: MatchingConfig, version: str) -> scoring_statements.Statements | None:
        return scoring_statements.kept(self.warehouse, config, version)

    def write(self, written: Written, memory: duckdb.DuckDBPyConnection) -> None:
        with self.warehouse.transaction():
            link_table.write_links(
                self.warehouse,
                written.links,
                written.model_version,
                written.config.threshold,
                written.replaced,
                written.stale,
            )
            incremental.save(
                self.warehouse,
                written.config,
                written.scoring_version,
                memory,
                written.normalized,
                written.replaced,
                written.retimed,
                written.stale,
            )
            if written.statements:
                scoring_statements.keep(self.warehouse, written.scoring_version, written.statements)

    def counts(self, config: MatchingConfig, incremental_run: bool) -> tuple[int, int, int]:
        """Links, links at or above the threshold, and (an incremental run) the records kept, in one round trip."""
        table = f"{quote(link_table.SCHEMA)}.{quote(link_table.TABLE)}"
        kept = incremental.records_kept_select(config) if incremental_run else "null"
        links, above, records = self.warehouse.query(
            f"select count(*), count(case when match_probability >= ? then 1 end), ({kept}) from {table}",  # noqa: S608
            (config.threshold,),
        )[0]
        return int(links), int(above), int(records or 0)


def run_match(
    target: Target, config: MatchingConfig, train: bool = False, full: bool = False
) -> MatchSummary:
    """Match the configured records; `full` scores every record even when an incremental run would do."""
    if target.type == "spark":
        from reverse_etl.matching.spark_tables import SparkTables, spark_lock_warehouse

        store = spark_lock_warehouse()
        try:
            with match_lock(store, target.name):
                return _match(SparkTables(target), config, train, full)
        finally:
            store.close()
    warehouse = Warehouse(target)
    try:
        with match_lock(warehouse):
            return _match(WarehouseTables(warehouse), config, train, full)
    finally:
        warehouse.close()


@contextmanager
def match_lock(warehouse: Warehouse, target_name: str | None = None) -> Iterator[None]:
    """The warehouse's one `cdp match` at a time; RunLocked at once when another run holds it (no waiting: a
    scheduler runs the next one). The spark target's lock is its state store's (`warehouse`)."""
    refused = RunLocked(
        f"cdp match is already running on this warehouse (target {target_name or warehouse.target.name}: "
        "another run holds its lock); nothing was done, try again when it ends"
    )
    with run_lock(warehouse, "cdp_match", "cdp-match", refused):
        yield


def _match(tables: MatchTables, config: MatchingConfig, train: bool, full: bool) -> MatchSummary:
    if not config.enabled:
        tables.drop()
        return MatchSummary(enabled=False)
    summary = MatchSummary(enabled=True, threshold=config.threshold)
    changes = None
    if not (train or full) and config.model_file.exists():
        summary.model_version = splink_model.version(config.model_file)
        version = incremental.scoring_version(config, summary.model_version)
        changes = tables.delta(config, version)
    with tables.scratch(changes is not None) as memory:
        if changes is None:
            summary.records = tables.load_records(config, memory)
            if train or not config.model_file.exists():
                started = time.perf_counter()
                splink_model.train(config, memory)
                summary.trained, summary.train_seconds = True, time.perf_counter() - started
            summary.model_version = splink_model.version(config.model_file)
            version = incremental.scoring_version(config, summary.model_version)
        model = splink_model.load(config)
        started = time.perf_counter()
        kept = None if changes is None else tables.statements(config, version)
        if changes is None:
            scored = link_table.score(config, model, memory)
        else:
            plan = kept or scoring_statements.generate(config, model)
            scored = incremental.score_changed(tables.mates(config), config, model, memory, changes, plan)
        summary.score_seconds = time.perf_counter() - started
        # A full run starts a scoring version: it generates the statements its incremental runs execute.
        keep = None
        if tables.keeps_statements and not kept:
            keep = plan if changes is not None else scoring_statements.generate(config, model)
        summary.full = changes is None
        summary.scored_records = summary.records if changes is None else len(changes.changed)
        replaced = None if changes is None else changes.replaced
        retimed, stale = (None, None) if changes is None else (changes.retimed, changes.stale)
        tables.write(
            Written(scored, summary.model_version, version, config, replaced, retimed, keep, stale), memory
        )
    summary.links, summary.above_threshold, records = tables.counts(config, changes is not None)
    if changes is not None:
        summary.records = records
    return summary
