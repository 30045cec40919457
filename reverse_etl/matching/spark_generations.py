"""The publishing mechanics of `cdp match` on the spark target (reverse_etl.matching.spark_tables): plain
Spark tables have no DELETE, MERGE or transactions, so a run never changes what a reader sees in place.

Each table readers know (matching.record_links, scored_records, record_groups, record_groups_version) is a view
of one generation of a table partitioned by generation (matching.<table>_generations); one more view,
matching.match_generation, names each table's current generation. A run writes the new generation of each
table it changes as new partitions, then publishes them all with one metastore statement, the `create or
replace view` of matching.match_generation. A run killed before that statement leaves the last run's tables
visible and unchanged (its partly written partitions are named by no view, and the next run removes them,
registered or not); killed after it, the new ones. The previous generation is kept until the next run starts,
so a reader that began before the switch finishes on the rows it started with."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from reverse_etl.errors import WarehouseError
from reverse_etl.matching import incremental
from reverse_etl.matching import links as link_table
from reverse_etl.matching.config import COMPARED_COLUMNS
from reverse_etl.project import Target
from reverse_etl.spark import SparkStatements
from reverse_etl.sync.spark_model import spark_quote
from reverse_etl.warehouse import Warehouse, utc_now

SCHEMA = link_table.SCHEMA
POINTER = "match_generation"
PARTITIONED = "_generations"
LINK_COLUMNS = [*link_table.TEXT_COLUMNS[:4], *link_table.NUMBER_COLUMNS, *link_table.TEXT_COLUMNS[4:]]
# Each table readers see, with its columns and Spark types. scored_records has a column for every matching
# column (null when not configured): its layout does not change with the configuration.
TABLES: dict[str, list[tuple[str, str]]] = {
    link_table.TABLE: [
        *[(name, "double" if name in link_table.NUMBER_COLUMNS else "string") for name in LINK_COLUMNS],
        ("scored_at", "timestamp"),
    ],
    incremental.STATE: [(name, "string") for name in [*incremental.KEYS, *COMPARED_COLUMNS]],
    link_table.GROUPS: [("source_table", "string"), ("record_id", "string"), ("match_group", "string")],
    link_table.GROUPS_VERSION: [
        ("fingerprint", "string"),
        ("model_version", "string"),
        ("written_at", "timestamp"),
        ("groups_digest", "string"),
    ],
}
GENERATION = re.compile(r"^g[0-9a-f]+$")


def spark_lock_warehouse() -> Warehouse:
    """The warehouse holding the spark target's `cdp match` lock: its state store."""
    from reverse_etl.spark import state_store_target

    return Warehouse(state_store_target())


def relation(table: str) -> str:
    return f"{SCHEMA}.{spark_quote(table)}"


def table_schema(table: str) -> str:
    return ", ".join(f"{spark_quote(name)} {kind}" for name, kind in TABLES[table])


def table_columns(table: str) -> str:
    return ", ".join(spark_quote(name) for name, _ in TABLES[table])


class SparkGenerations(SparkStatements):
    """A Spark session's matching tables as generations: reading and writing them, and publishing."""

    def __init__(self, target: Target) -> None:
        from reverse_etl.spark import spark_session

        self.target = target
        self.session = spark_session()
        self._current: dict[str, str] | None = None
        self._views: set[str] = set()

    @staticmethod
    def new_generation() -> str:
        return f"g{utc_now():%Y%m%d%H%M%S%f}{uuid.uuid4().hex[:6]}"

    def _exists(self, table: str) -> bool:
        try:
            return bool(self.session.catalog.tableExists(f"{SCHEMA}.{table}"))
        except Exception as error:  # noqa: BLE001 - see _sql
            raise self._failure(error) from error

    def _view(self, name: str, rows: list[tuple[Any, ...]], schema: str) -> str:
        """A temporary view of `rows` (a Spark DDL `schema`), named `name`."""
        try:
            self.session.createDataFrame(rows, schema).createOrReplaceTempView(name)
            self._views.add(name)
        except Exception as error:  # noqa: BLE001 - see _sql
            raise self._failure(error) from error
        return name

    def _ids(self, name: str, ids: Iterable[str]) -> str:
        return self._view(name, [(value,) for value in sorted(ids)], "unique_id string")

    def current(self) -> dict[str, str]:
        """Each table's published generation; empty before the first run (or after `enabled: false`)."""
        if self._current is None:
            pointer = f"select * from {relation(POINTER)}"  # noqa: S608 - a quoted name
            found = self._rows(pointer) if self._exists(POINTER) else []
            names = list(TABLES)
            self._current = (
                dict(zip(names, found[0], strict=True)) if found and len(found[0]) == len(names) else {}
            )
            for value in self._current.values():
                self._checked(str(value))
        return self._current

    def _checked(self, generation: str) -> str:
        """A generation's name, which the statements below hold as a literal: only the names runs give."""
        if not GENERATION.match(generation):
            raise WarehouseError(
                f"{self.target.describe()}: {relation(POINTER)} names generation {generation!r}, which no "
                "`cdp match` run wrote; drop the matching schema's tables and run `cdp match --full`"
            )
        return generation

    def _kept(self, table: str, current: dict[str, str], gone: str, *records: list[str]) -> str:
        """SQL for the current generation's rows of `table` without those of the records in view `gone`."""
        anti = "".join(
            f" left anti join {gone} as gone_{index} on gone_{index}.unique_id = "
            f"concat(kept.{spark_quote(source_table)}, '|', kept.{spark_quote(record_id)})"
            for index, (source_table, record_id) in enumerate(records)
        )
        columns = ", ".join(f"kept.{spark_quote(name)}" for name, _ in TABLES[table])
        return (
            f"select {columns} from {relation(table + PARTITIONED)} as kept{anti} "  # noqa: S608 - quoted names
            f"where kept.generation = '{current[table]}'"
        )

    def _insert(self, table: str, generation: str, select: str, params: list[Any] | None = None) -> None:
        self._sql(
            f"insert into {relation(table + PARTITIONED)} partition (generation = '{self._checked(generation)}') "
            f"{select}",
            params,
        )

    def _rows_select(self, table: str, rows: list[tuple[Any, ...]]) -> str:
        return f"select * from {self._view('cdp_match_rows_' + table, rows, table_schema(table))}"  # noqa: S608

    def _prepare(self, current: dict[str, str]) -> None:
        """The schema and the partitioned tables; every generation but the published ones removed (the previous
        run's, and any a killed run left, listed or not)."""
        self._sql(f"create schema if not exists {SCHEMA}")
        for table in TABLES:
            partitioned = relation(table + PARTITIONED)
            if self._exists(table + PARTITIONED) and [
                name
                for name, _ in self._sql(f"select * from {partitioned}").dtypes  # noqa: S608 - quoted name
            ] != [*(name for name, _ in TABLES[table]), "generation"]:
                # Written by a release with another layout (a run then is a full one: incremental.STATE_LAYOUT):
                # the table and its readers' view are made again; they point to this run's generation once
                # it is published.
                self._sql(f"drop view if exists {relation(table)}")
                self._sql(f"drop table {partitioned}")
            self._sql(
                f"create table if not exists {partitioned} ({table_schema(table)}, generation string) "
                "using parquet partitioned by (generation)"
            )
            listed = {row[0].split("=", 1)[1] for row in self._rows(f"show partitions {partitioned}")}
            for old in sorted(listed - {current.get(table)}):
                if GENERATION.match(old):
                    self._sql(f"alter table {partitioned} drop if exists partition (generation = '{old}')")
            self._remove_unlisted(partitioned, {current.get(table)} & listed)

    def _remove_unlisted(self, table: str, keep: set[str | None]) -> None:
        """Remove the folders of the table's location no listed generation owns: partitions a killed write left
        unregistered, and its staging folders."""
        location = self._rows(f"describe table extended {table}")
        path = next(str(row[1]) for row in location if row[0] == "Location")
        try:
            jvm = self.session.sparkContext._jvm
            folder = jvm.org.apache.hadoop.fs.Path(path)
            files = folder.getFileSystem(self.session.sparkContext._jsc.hadoopConfiguration())
            for status in files.listStatus(folder):
                name = status.getPath().getName()
                owned = name.startswith("generation=") and name.split("=", 1)[1] in keep
                if status.isDirectory() and not owned:
                    files.delete(status.getPath(), True)
        except Exception as error:  # noqa: BLE001 - Hadoop's file system errors come through the JVM gateway
            raise self._failure(error) from error

    def _publish(self, published: dict[str, str]) -> None:
        """The commit: one statement switches every table to its new generation. Then the readers' views, the
        first time."""
        pointer = ", ".join(
            f"'{self._checked(published[table])}' as {spark_quote(table)}" for table in TABLES
        )
        self._sql(f"create or replace view {relation(POINTER)} as select {pointer}")
        for table in TABLES:
            self._sql(
                f"create view if not exists {relation(table)} as select {table_columns(table)} "  # noqa: S608
                f"from {relation(table + PARTITIONED)} where generation = (select {spark_quote(table)} from {relation(POINTER)})"
            )
        self._current = published

    def drop_views(self) -> None:
        """The run's temporary views (copies of rows it sent to Spark) end with it."""
        for name in sorted(self._views):
            self.session.catalog.dropTempView(name)
        self._views.clear()

    def drop(self) -> None:
        """`enabled: false`: the readers' views first (a reader finds no table, never a partial one), then the
        generation pointer and the tables."""
        for table in [link_table.GROUPS, link_table.GROUPS_VERSION, link_table.TABLE, incremental.STATE]:
            self._sql(f"drop view if exists {relation(table)}")
        self._sql(f"drop view if exists {relation(POINTER)}")
        for table in TABLES:
            self._sql(f"drop table if exists {relation(table + PARTITIONED)}")
        self._current = {}
