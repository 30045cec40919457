"""The incremental run's scoring statements: Splink's SQL for the changed records linked against their block
mates (link only, under the model's blocking rules and comparisons, pairs from links.kept_from up). They depend
on the scoring version (the model file, the blocking rules, the columns, the lowest probability kept) and
Splink's version, not on the records, so they are generated once, by a Splink linker over two empty tables of
the same columns, and kept in matching.scoring_statements by the full run that starts a scoring version. An
incremental run executes them as they are, on its `changed_records` and `records` tables, instead of setting up
a linker (settings parsing, a dozen catalog lookups and statements and a few hundred SQL parses: about 0.4 s
per run, whatever the number of records). Splink wrote every statement, so the scores are Splink's; a run
without kept statements (an older state, the spark target) has them generated on the spot."""

from __future__ import annotations

import copy
import logging
from importlib.metadata import version as package_version
from typing import Any

import duckdb

from reverse_etl.matching import links as link_table
from reverse_etl.matching.config import MatchingConfig
from reverse_etl.warehouse import Warehouse, quote

TABLE = "scoring_statements"
# The two tables the statements read: the changed records, and those with their block mates (incremental).
LEFT, RIGHT = "changed_records", "records"
# (the table a statement creates, its select), in the order they run; the last one holds the scored pairs.
Statements = list[tuple[str, str]]


def splink_version() -> str:
    return package_version("splink")


def generate(config: MatchingConfig, model: dict[str, Any]) -> Statements:
    """Splink's statements scoring LEFT's records against RIGHT's, recorded from a prediction over empty tables."""
    from splink import DuckDBAPI, Linker

    class Recording(DuckDBAPI):
        """Splink's DuckDB backend, noting each table it creates and the select that fills it."""

        def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
            super().__init__(connection=connection)
            self.created: Statements = []

        def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
            self.created.append((physical_name, sql))
            return super()._setup_for_execute_sql(sql, physical_name)

    empty = duckdb.connect(":memory:")
    try:
        columns = ", ".join(
            f"cast(null as varchar) as {quote(name)}"
            for name in ["unique_id", "source_table", "record_id", *config.columns]
        )
        for table in (LEFT, RIGHT):
            empty.execute(f"create table {table} as select {columns} limit 0")  # noqa: S608 - fixed names
        api = Recording(empty)
        across = copy.deepcopy(model)
        across["link_type"] = "link_only"
        # The model file was checked against the configuration when loaded (model.load) and the tables have its
        # columns: Splink's settings validation would find nothing.
        linker = Linker(
            [api.register(LEFT), api.register(RIGHT)],
            across,
            log_level=logging.WARNING,
            validate_settings=False,
        )
        predictions = linker.inference.predict(threshold_match_probability=link_table.kept_from(config))
        created = [(name, sql) for name, sql in api.created]
        if not created or created[-1][0] != predictions.physical_name:
            raise RuntimeError("Splink's prediction did not end with the table of scored pairs")
        return created
    finally:
        empty.close()


def execute(
    statements: Statements, memory: duckdb.DuckDBPyConnection, model: dict[str, Any]
) -> list[link_table.ScoredLink]:
    """Run `statements` on `memory` (its LEFT and RIGHT tables) and read the scored pairs; the tables they
    created are dropped again."""
    try:
        for name, sql in statements:
            memory.execute(f"drop table if exists {name}")
            memory.execute(f"create table {name} as {sql}")
        return link_table.scored_links(memory, statements[-1][0], model)
    finally:
        for name, _ in statements:
            memory.execute(f"drop table if exists {name}")


def kept(warehouse: Warehouse, config: MatchingConfig, scoring_version: str) -> Statements | None:
    """The statements kept for `scoring_version` and this Splink version; None when there are none."""
    from reverse_etl.matching.records import matching_columns

    if not matching_columns(warehouse, config, TABLE):
        return None
    rows = warehouse.query(
        f"select table_name, statement from {quote(link_table.SCHEMA)}.{quote(TABLE)} "  # noqa: S608
        "where scoring_version = ? and splink_version = ? order by cast(position as integer)",
        (scoring_version, splink_version()),
    )
    return [(str(name), str(sql)) for name, sql in rows] or None


def keep(warehouse: Warehouse, scoring_version: str, statements: Statements) -> None:
    """Replace the kept statements by `statements` (the caller holds the transaction)."""
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    table = f"{quote(link_table.SCHEMA)}.{quote(TABLE)}"
    names = ["scoring_version", "splink_version", "position", "table_name", "statement"]
    warehouse.execute(f"drop table if exists {table}")
    warehouse.execute(f"create table {table} ({', '.join(f'{name} {text}' for name in names)})")
    warehouse.execute(
        f"insert into {table} select * from {warehouse.rows_subquery(names)} as batch",  # noqa: S608
        [
            [scoring_version] * len(statements),
            [splink_version()] * len(statements),
            [str(position) for position in range(len(statements))],
            [name for name, _ in statements],
            [sql for _, sql in statements],
        ],
    )


def drop(warehouse: Warehouse) -> None:
    warehouse.execute(f"drop table if exists {quote(link_table.SCHEMA)}.{quote(TABLE)}")
