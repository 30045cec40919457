"""`cdp match` on the spark target: the records are read from the Spark staging models (each source's select,
its content hash included, runs in Spark), scored as on every warehouse in the in-process DuckDB, and the
matching tables are Spark tables, written as a new generation and published at once
(reverse_etl.matching.spark_generations). An incremental run finds the new, changed and removed records in
Spark (their hashes against the published matching.scored_records) and copies, inside Spark, the current
generation's rows less those of the replaced records into the new one, beside the new rows.

The run lock is the state store's (reverse_etl.spark.state_store_target: the sync state of the spark target),
taken before anything is read: a lock file of its DuckDB file, or a PostgreSQL advisory lock
(spark_lock_warehouse)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import duckdb

from reverse_etl.errors import ConfigError, WarehouseError
from reverse_etl.matching import incremental
from reverse_etl.matching import links as link_table
from reverse_etl.matching.config import MatchingConfig, MatchSource
from reverse_etl.matching.records import (
    checked_change_time,
    load_rows,
    new_memory,
    one_schema,
    source_rows_sql,
    source_select_sql,
)
from reverse_etl.matching.spark_generations import (
    LINK_COLUMNS,
    PARTITIONED,
    TABLES,
    SparkGenerations,
    relation,
    spark_lock_warehouse,
    table_columns,
)
from reverse_etl.project import Target
from reverse_etl.sync.spark_model import spark_quote
from reverse_etl.warehouse import utc_now

if TYPE_CHECKING:
    from reverse_etl.matching.run import Written

__all__ = ["SparkTables", "spark_lock_warehouse"]


class SparkTables(SparkGenerations):
    """The matching tables of the spark target; implements run.MatchTables. It keeps no scoring statements
    (reverse_etl.matching.statements): each incremental run generates them."""

    keeps_statements = False

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._selects: dict[str, str] = {}
        self._types: dict[str, dict[str, str]] = {}

    def _source_rows(self, config: MatchingConfig, source: MatchSource) -> str:
        """The source's rows (records.source_rows_sql) in Spark SQL."""
        if source.model not in self._selects:
            try:
                schemas = [
                    database.name
                    for database in self.session.catalog.listDatabases()
                    if self.session.catalog.tableExists(f"{database.name}.{source.model}")
                ]
            except Exception as error:  # noqa: BLE001 - see _sql
                raise self._failure(error) from error
            model = f"{spark_quote(one_schema(source.model, schemas))}.{spark_quote(source.model)}"
            types = {name.lower(): kind for name, kind in self._sql(f"select * from {model}").dtypes}  # noqa: S608
            self._types[source.model] = types
            self._selects[source.model] = source_rows_sql(
                config, source, schemas[0], types, spark_quote, "string"
            )
        return self._selects[source.model]

    def _source_select(self, config: MatchingConfig, source: MatchSource) -> str:
        return source_select_sql(config, source, self._source_rows(config, source), spark_quote, "string")

    def load_records(self, config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> int:
        rows: list[tuple[Any, ...]] = []
        for source in config.sources:
            try:
                for row in self._sql(self._source_select(config, source)).toLocalIterator():
                    rows.append((source.model, *row))
            except (WarehouseError, ConfigError):
                raise
            except Exception as error:  # noqa: BLE001 - see _sql
                raise self._failure(error) from error
        return load_rows(config, memory, rows, "records")

    def delta(self, config: MatchingConfig, version: str) -> incremental.Delta | None:
        """As incremental.delta, computed in Spark against the published matching.scored_records."""
        if set(self.current()) != set(TABLES) or not self._exists(incremental.STATE):
            return None
        kept = relation(incremental.STATE)
        if self._rows(f"select distinct scoring_version from {kept}") != [(version,)]:  # noqa: S608
            return None
        backend = incremental.Backend(
            query=self._rows,
            quote=spark_quote,
            text="string",
            state=kept,
            source_rows=lambda source: self._source_rows(config, source),
            change_time_type=lambda source: checked_change_time(source, self._types_of(config, source)),
        )
        return incremental.changes(backend, config)

    def _types_of(self, config: MatchingConfig, source: MatchSource) -> dict[str, str]:
        """The source model's column types by lower-case name (read with its rows' select)."""
        self._source_rows(config, source)
        return self._types[source.model]

    def mates(self, config: MatchingConfig) -> incremental.MatesReader:
        def read(keys: incremental.BlockKeys) -> list[tuple[Any, ...]]:
            columns = ", ".join(
                f"kept.{spark_quote(name)}" for name in ["source_table", "record_id", *config.columns]
            )
            selects = []
            for index, (rule, values) in enumerate(keys):
                view = self._view(
                    f"cdp_match_block_{index}",
                    list(zip(*values, strict=True)),
                    ", ".join(f"{spark_quote(name)} string" for name in rule),
                )
                joined = " and ".join(
                    f"kept.{spark_quote(name)} = wanted.{spark_quote(name)}" for name in rule
                )
                selects.append(
                    f"select {columns} from {relation(incremental.STATE)} as kept join {view} as wanted on {joined}"  # noqa: S608
                )
            return self._rows(" union ".join(selects))

        return read

    def statements(self, config: MatchingConfig, version: str) -> None:
        return None

    def scratch(self, incremental_run: bool) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return new_memory()

    def write(self, written: Written, memory: duckdb.DuckDBPyConnection) -> None:
        """The new generation of every table the run changes, then published at once (_publish)."""
        try:
            self._write(written, memory)
        finally:
            self.drop_views()

    def _write(self, written: Written, memory: duckdb.DuckDBPyConnection) -> None:
        current = self.current()
        self._prepare(current)
        generation = self.new_generation()
        replaced = written.replaced if current else None
        published = dict(current)
        now = f"{utc_now():%Y-%m-%d %H:%M:%S.%f}"
        links = self._view(
            "cdp_match_new_links",
            [
                (
                    *[getattr(link, name) for name in LINK_COLUMNS[:-2]],
                    link.fired_levels,
                    written.model_version,
                )
                for link in written.links
            ],
            ", ".join(f"{spark_quote(name)} {kind}" for name, kind in TABLES[link_table.TABLE][:-1]),
        )
        new_links = f"select {table_columns(link_table.TABLE)} from (select *, cast(? as timestamp) as scored_at from {links})"  # noqa: S608
        if replaced is None:
            self._insert(link_table.TABLE, generation, new_links, [now])
            published[link_table.TABLE] = generation
        elif replaced or written.links:
            gone = self._ids("cdp_match_replaced", replaced)
            kept = self._kept(
                link_table.TABLE,
                current,
                gone,
                ["source_table_l", "record_id_l"],
                ["source_table_r", "record_id_r"],
            )
            self._insert(link_table.TABLE, generation, f"{kept} union all {new_links}", [now])
            published[link_table.TABLE] = generation
        digest = self._write_groups(written, current, published, generation)
        self._write_state(written, memory, current, published, generation)
        self._insert(
            link_table.GROUPS_VERSION,
            generation,
            "select ?, ?, cast(? as timestamp), ?",
            [
                link_table.fingerprint(written.model_version, written.config.threshold, digest),
                written.model_version,
                now,
                str(digest),
            ],
        )
        published[link_table.GROUPS_VERSION] = generation
        self._publish(published)

    def _strong_links(
        self, generation: str, threshold: float, among: set[str] | None
    ) -> list[link_table.ScoredLink]:
        where = ""
        if among is not None:
            ids = self._ids("cdp_match_among", among)
            where = (
                f" and (concat(source_table_l, '|', record_id_l) in (select unique_id from {ids})"  # noqa: S608
                f" or concat(source_table_r, '|', record_id_r) in (select unique_id from {ids}))"
            )
        rows = self._rows(
            "select source_table_l, record_id_l, source_table_r, record_id_r, match_probability, match_weight "  # noqa: S608
            f"from {relation(link_table.TABLE + PARTITIONED)} where generation = '{generation}' "
            f"and match_probability >= ?{where}",
            [threshold],
        )
        return [
            link_table.ScoredLink(
                str(row[0]), str(row[1]), str(row[2]), str(row[3]), float(row[4]), float(row[5]), ""
            )
            for row in rows
        ]

    def _write_groups(
        self, written: Written, current: dict[str, str], published: dict[str, str], generation: str
    ) -> int:
        """The groups as links_table.write_links forms them (all again, or only those the run can change);
        their digest."""
        threshold = written.config.threshold
        last = None
        if written.replaced is not None and current:
            kept = self._rows(f"select * from {relation(link_table.GROUPS_VERSION)}")  # noqa: S608
            last = link_table.kept_digest(kept, written.model_version, threshold)
        if last is None:
            strong = (
                written.links
                if written.replaced is None or not current
                else self._strong_links(published[link_table.TABLE], threshold, None)
            )
            rows = link_table.group_rows(link_table.match_groups(strong, threshold))
            self._insert(link_table.GROUPS, generation, self._rows_select(link_table.GROUPS, rows))
            published[link_table.GROUPS] = generation
            return link_table.rows_digest(rows)
        touched = link_table.touched_records(written.links, threshold, written.replaced or set())
        if not touched:
            return last
        ids = self._ids("cdp_match_touched", touched)
        groups = relation(link_table.GROUPS)
        members = [
            (str(source_table), str(record_id), str(group))
            for source_table, record_id, group in self._rows(
                f"select source_table, record_id, match_group from {groups} where match_group in "  # noqa: S608
                f"(select match_group from {groups} where concat(source_table, '|', record_id) in (select unique_id from {ids}))"
            )
        ]
        regrouped = touched | {f"{source_table}|{record_id}" for source_table, record_id, _ in members}
        strong = self._strong_links(published[link_table.TABLE], threshold, regrouped)
        rows = link_table.group_rows(link_table.match_groups(strong, threshold))
        gone = self._ids("cdp_match_regrouped", regrouped)
        old = self._kept(link_table.GROUPS, current, gone, ["source_table", "record_id"])
        self._insert(
            link_table.GROUPS, generation, f"{old} union all {self._rows_select(link_table.GROUPS, rows)}"
        )
        published[link_table.GROUPS] = generation
        return link_table.updated_digest(last, members, rows)

    def _write_state(
        self,
        written: Written,
        memory: duckdb.DuckDBPyConnection,
        current: dict[str, str],
        published: dict[str, str],
        generation: str,
    ) -> None:
        """matching.scored_records: the records read this run, and (incremental) the current ones not replaced."""
        kept = incremental.kept_records(written.config, written.scoring_version, memory, written.normalized)
        retimed = written.retimed or {}
        if (
            written.replaced is not None
            and current
            and not written.replaced
            and not kept.num_rows
            and not retimed
        ):
            return
        values = {name: kept.column(name).to_pylist() for name in kept.column_names}
        names = [name for name, _ in TABLES[incremental.STATE]]
        rows = list(zip(*[values.get(name, [None] * kept.num_rows) for name in names], strict=True))
        new_rows = self._rows_select(incremental.STATE, rows)
        if written.replaced is None or not current:
            self._insert(incremental.STATE, generation, new_rows)
        else:
            gone = self._ids("cdp_match_replaced", written.replaced)
            old = self._kept(incremental.STATE, current, gone, ["source_table", "record_id"])
            if retimed:
                old = self._retimed(old, retimed)
            self._insert(incremental.STATE, generation, f"{old} union all {new_rows}")
        published[incremental.STATE] = generation

    def _retimed(self, old: str, retimed: dict[str, str]) -> str:
        """SQL for the kept rows `old` with the new change time of the `retimed` records (as incremental.save
        updates them in a warehouse)."""
        view = self._view("cdp_match_retimed", sorted(retimed.items()), "unique_id string, changed_at string")
        columns = ", ".join(
            "case when retimed.unique_id is null then old.changed_at else retimed.changed_at end as changed_at"
            if name == "changed_at"
            else f"old.{spark_quote(name)}"
            for name, _ in TABLES[incremental.STATE]
        )
        return (
            f"select {columns} from ({old}) as old left join {view} as retimed "  # noqa: S608 - quoted names
            "on retimed.unique_id = concat(old.source_table, '|', old.record_id)"
        )

    def counts(self, config: MatchingConfig, incremental_run: bool) -> tuple[int, int, int]:
        any_column = " or ".join(f"{spark_quote(name)} is not null" for name in config.columns)
        links, above, records = self._rows(
            "select count(*), count(case when match_probability >= ? then 1 end), "  # noqa: S608 - quoted names
            f"(select count(*) from {relation(incremental.STATE)} where {any_column}) from {relation(link_table.TABLE)}",
            [config.threshold],
        )[0]
        return int(links), int(above), int(records)
