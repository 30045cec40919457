"""Generate the demo tables in an in-memory DuckDB, then replace the target's raw tables in one transaction
(DuckDB: CREATE OR REPLACE from the in-memory tables; PostgreSQL: COPY), so a failure leaves the previous
tables untouched."""

from __future__ import annotations

import io
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from reverse_etl.errors import ConfigError, WarehouseError
from reverse_etl.generator.memory import available_bytes, check_fits
from reverse_etl.generator.schema import (
    GROUND_TRUTH_COLUMNS,
    GROUND_TRUTH_SCHEMA,
    GROUND_TRUTH_TABLE,
    RAW_SCHEMA,
    RAW_TABLES,
    Columns,
)
from reverse_etl.project import Target, connect

GENERATE_SQL = Path(__file__).with_name("generate.sql")
MAX_PEOPLE = 20_000_000
# The latest event time of reproducible tables (tests, benchmarks, `cdp generate --end-date 2026-06-30`).
FIXED_END = datetime(2026, 6, 30, 23, 0, 0)
# No row is loaded later than this unless `received_by` says so: late events keep their full delay.
UNBOUNDED = datetime(9999, 12, 31)
# order_items belong to their order's person; every other raw table has its own ground-truth rows.
GROUND_TRUTH_SOURCES = [table for table in RAW_TABLES if table != "order_items"]


@dataclass
class GenerateSummary:
    people: int
    seed: int
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0
    load_seconds: float = 0.0
    end_at: datetime = FIXED_END

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def quote(name: str) -> str:
    """Quote an identifier for DuckDB and PostgreSQL alike."""
    return '"' + name.replace('"', '""') + '"'


def _select_list(columns: Columns) -> str:
    return ", ".join(f"cast({quote(name)} as {kind}) as {quote(name)}" for name, kind in columns)


def _ground_truth_query() -> str:
    parts = [
        f"select '{table}' as source_table, cast({quote(RAW_TABLES[table][0][0])} as varchar) as record_id, "
        f"'person_' || p as person_id from gen_{table}"
        for table in GROUND_TRUTH_SOURCES
    ]
    return " union all ".join(parts)


def run_time() -> datetime:
    """Now in UTC, to the second, without a zone (raw timestamps are UTC without a zone)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def build_in_memory(
    people: int,
    seed: int,
    threads: int | None = None,
    offline_share: float = 0.0,
    end_at: datetime = FIXED_END,
    received_by: datetime | None = None,
) -> duckdb.DuckDBPyConnection:
    """Run the generator SQL; returns the in-memory connection holding gen_<table> tables. Events end at
    `end_at` (every time is relative to it); no row is received after `received_by` when given."""
    memory = duckdb.connect(":memory:")
    if threads:
        memory.execute(f"set threads = {int(threads)}")
    memory.execute("set variable cdp_end = ?::timestamp", [end_at])
    memory.execute("set variable cdp_received_by = ?::timestamp", [received_by or UNBOUNDED])
    memory.execute("set variable cdp_seed = ?", [seed])
    memory.execute("set variable cdp_people = ?", [people])
    memory.execute("set variable cdp_offline_share = ?", [float(offline_share)])
    for statement in GENERATE_SQL.read_text().split(";\n"):
        if statement.strip() and not all(
            line.strip().startswith("--") or not line.strip() for line in statement.splitlines()
        ):
            memory.execute(statement)
    memory.execute(f"create or replace table gen_ground_truth as {_ground_truth_query()}")
    return memory


def _count(memory: duckdb.DuckDBPyConnection, table: str) -> int:
    row = memory.execute(f"select count(*) from {quote(table)}").fetchone()
    return int(row[0]) if row else 0


def _load_duckdb(memory: duckdb.DuckDBPyConnection, target: Target) -> None:
    connect(target).close()  # names an unwritable or missing path before any work is replaced
    try:
        memory.execute("attach ? as cdp_target", [target.path])
    except duckdb.Error as error:
        raise WarehouseError(f"cannot open DuckDB file {target.path}: {error}") from error
    try:
        memory.execute("begin transaction")
        for schema in (RAW_SCHEMA, GROUND_TRUTH_SCHEMA):
            memory.execute(f"create schema if not exists cdp_target.{quote(schema)}")
        for table, columns in RAW_TABLES.items():
            memory.execute(
                f"create or replace table cdp_target.{quote(RAW_SCHEMA)}.{quote(table)} as "
                f"select {_select_list(columns)} from gen_{table}"
            )
            _after_table_loaded(table)
        memory.execute(
            f"create or replace table cdp_target.{quote(GROUND_TRUTH_SCHEMA)}.{quote(GROUND_TRUTH_TABLE)} as "
            f"select {_select_list(GROUND_TRUTH_COLUMNS)} from gen_ground_truth"
        )
        memory.execute("commit")
    except BaseException:
        memory.execute("rollback")
        raise
    finally:
        memory.execute("detach cdp_target")


def _pg_type(kind: str) -> str:
    return {"double": "double precision", "varchar": "text"}.get(kind, kind)


def _replace_pg_table(cursor: Any, schema: str, table: str, columns: Columns, csv_path: Path) -> None:
    cursor.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    )
    existing = [row[0] for row in cursor.fetchall()]
    wanted = [name for name, _ in columns]
    qualified = f"{quote(schema)}.{quote(table)}"
    if existing and existing != wanted:
        cursor.execute(f"drop table {qualified} cascade")
        existing = []
    if existing:
        # Truncate rather than drop: views built on these tables (staging) stay in place.
        cursor.execute(f"truncate table {qualified}")
    else:
        definition = ", ".join(f"{quote(name)} {_pg_type(kind)}" for name, kind in columns)
        cursor.execute(f"create table {qualified} ({definition})")
    column_list = ", ".join(quote(name) for name in wanted)
    with csv_path.open("rb") as handle:
        cursor.copy_expert(
            f"copy {qualified} ({column_list}) from stdin with (format csv, header true)", handle
        )


def _load_postgres(memory: duckdb.DuckDBPyConnection, target: Target) -> None:
    connection = connect(target)
    try:
        with tempfile.TemporaryDirectory(prefix="cdp-generate-") as folder:
            exports: list[tuple[str, str, Columns, Path]] = []
            for table, columns in RAW_TABLES.items():
                path = Path(folder) / f"{table}.csv"
                memory.execute(
                    f"copy (select {_select_list(columns)} from gen_{table}) to '{path}' (header, delimiter ',')"
                )
                exports.append((RAW_SCHEMA, table, columns, path))
            truth_path = Path(folder) / "ground_truth.csv"
            memory.execute(
                f"copy (select {_select_list(GROUND_TRUTH_COLUMNS)} from gen_ground_truth) to '{truth_path}' (header)"
            )
            exports.append((GROUND_TRUTH_SCHEMA, GROUND_TRUTH_TABLE, GROUND_TRUTH_COLUMNS, truth_path))
            with connection.cursor() as cursor:
                for schema in (RAW_SCHEMA, GROUND_TRUTH_SCHEMA):
                    cursor.execute(f"create schema if not exists {quote(schema)}")
                for schema, table, columns, path in exports:
                    _replace_pg_table(cursor, schema, table, columns, path)
                    _after_table_loaded(table)
            connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def _after_table_loaded(table: str) -> None:
    """A seam for tests that interrupt a load half-way; does nothing in normal runs."""


def generate(
    target: Target,
    people: int = 2000,
    seed: int = 42,
    threads: int | None = None,
    offline_share: float = 0.0,
    end_at: datetime = FIXED_END,
    received_by: datetime | None = None,
) -> GenerateSummary:
    """Generate `people` people's raw records and replace the target's raw and ground-truth tables.
    `offline_share` of known people also get one offline record (a CRM contact, a store receipt or a support
    call) with no email or phone, only their name, date of birth and address, with typos and gaps.
    Events span the two years before `end_at` (default FIXED_END: the same seed gives the same tables);
    `received_by` caps load times, for data dated up to now whose late events must not arrive in the future
    (`cdp generate` and `cdp demo` pass now for both)."""
    if not isinstance(offline_share, (int, float)) or not 0 <= offline_share <= 1:
        raise ConfigError(f"--offline-share must be between 0 and 1, got {offline_share!r}")
    if not isinstance(people, int) or people < 1:
        raise ConfigError(f"--people must be a positive whole number, got {people!r}")
    if people > MAX_PEOPLE:
        raise ConfigError(f"--people {people} is above the supported {MAX_PEOPLE:,}")
    check_fits(people, available_bytes())
    connect(target).close()  # an unreachable or unwritable warehouse is named before any work is done
    started = time.perf_counter()
    memory = build_in_memory(people, seed, threads, offline_share, end_at, received_by)
    summary = GenerateSummary(people=people, seed=seed, target=target.describe(), end_at=end_at)
    summary.generate_seconds = time.perf_counter() - started
    for table in RAW_TABLES:
        summary.rows[table] = _count(memory, f"gen_{table}")
    loaded = time.perf_counter()
    try:
        if target.type == "duckdb":
            _load_duckdb(memory, target)
        elif target.type == "spark":
            from reverse_etl.generator.spark_load import load_spark

            load_spark(memory, _select_list, _after_table_loaded)
        else:
            _load_postgres(memory, target)
    finally:
        memory.close()
    summary.load_seconds = time.perf_counter() - loaded
    return summary


def describe(summary: GenerateSummary) -> str:
    out = io.StringIO()
    out.write(f"generated {summary.people:,} people (seed {summary.seed}) into {summary.target}\n")
    out.write(f"  events up to {summary.end_at:%Y-%m-%d %H:%M:%S} UTC\n")
    for table, rows in summary.rows.items():
        out.write(f"  raw.{table:<18} {rows:>12,}\n")
    out.write(
        f"  {'total':<22} {summary.total_rows:>12,} rows in {summary.generate_seconds + summary.load_seconds:.1f} s"
        f" (generate {summary.generate_seconds:.1f} s, load {summary.load_seconds:.1f} s)"
    )
    return out.getvalue()
