"""Incremental scoring. matching.scored_records keeps, for every record the last run read, its content hash
(of its raw matching columns, computed in the warehouse), its normalized matching columns and the scoring
version the run used (the model file's version, the blocking rules, the matching columns and sources, and the
lowest probability kept). A run with the same scoring version finds the new, changed and removed records in
the warehouse (their hashes against the kept ones: only their ids come back), reads only the new and changed
records, and takes from matching.scored_records the records that share a block with one of them (equal on
every column of a blocking rule). It scores the changed records against those and themselves (one Splink
link-only run); the links of unchanged records stay as they are, those of changed and removed records are
replaced. A pair's probability depends only on its two records and the model, and every pair a full run
would block with a changed record has its other record in one of those blocks, so the links are those of a
full run. Anything else (no state, another scoring version, `--full`, training) is a full run."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from reverse_etl.matching import links as link_table
from reverse_etl.matching.config import MatchingConfig
from reverse_etl.matching.records import current_select, load_rows, matching_columns
from reverse_etl.warehouse import Warehouse, quote

STATE = "scored_records"
KEYS = ["source_table", "record_id", "content_hash", "scoring_version"]
# What the kept state means; a new layout gives a new scoring version, so an old state means a full run.
STATE_LAYOUT = 3


@dataclass
class Delta:
    """What changed since the last run: records to score (new or changed), with their raw rows as the
    comparison of hashes read them, and records whose links go."""

    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def replaced(self) -> set[str]:
        return self.changed | self.removed


def scoring_version(config: MatchingConfig, model_version: str) -> str:
    """What a link's score and the kept state depend on besides the records; a change means a full run."""
    sources = [[source.model, source.record_id, sorted(source.columns.items())] for source in config.sources]
    basis = json.dumps(
        [
            STATE_LAYOUT,
            model_version,
            config.blocking_rules,
            link_table.kept_from(config),
            config.columns,
            sources,
        ]
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:12]


def delta(warehouse: Warehouse, config: MatchingConfig, version: str) -> Delta | None:
    """The records to score since the last run with scoring `version`; None when a full run is needed."""
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"
    known = [name.lower() for name in matching_columns(warehouse, config, STATE)]
    if known != [*KEYS, *config.columns] or not matching_columns(warehouse, config, link_table.TABLE):
        return None
    versions = warehouse.query(f"select distinct scoring_version from {table}")  # noqa: S608
    if versions != [(version,)]:
        return None
    # The changed records come back whole (source_table, record_id, content_hash, raw columns), so they are not
    # read again; a removed one comes back as its kept ids and a null hash.
    current = ", ".join(f"current_records.{quote(name)}" for name in config.columns)
    rows = warehouse.query(
        "select coalesce(current_records.source_table, kept.source_table), "  # noqa: S608 - quoted names
        f"coalesce(current_records.record_id, kept.record_id), current_records.content_hash, {current} "
        f"from ({current_select(warehouse, config)}) as current_records full outer join {table} as kept "
        "on kept.source_table = current_records.source_table and kept.record_id = current_records.record_id "
        "where kept.content_hash is distinct from current_records.content_hash",
        [source.model for source in config.sources],
    )
    return delta_of(rows)


def delta_of(rows: list[tuple[Any, ...]]) -> Delta:
    """The delta from the compared rows: (source_table, record_id, current hash or null when removed, raw
    matching columns)."""
    result = Delta()
    for row in rows:
        if row[2] is None:
            result.removed.add(f"{row[0]}|{row[1]}")
        else:
            result.changed.add(f"{row[0]}|{row[1]}")
            result.rows.append(row)
    return result


# Block keys: (the columns of a blocking rule, one list of the changed records' values per column).
BlockKeys = list[tuple[list[str], list[list[Any]]]]
# Reads the kept records (rows of matching.scored_records, its columns in order) equal to one of the keys.
MatesReader = Callable[[BlockKeys], Iterable[tuple[Any, ...]]]


def block_keys(config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> BlockKeys:
    """For each blocking rule, the distinct values of its columns among memory's changed records."""
    keys: BlockKeys = []
    for rule in config.blocking_rules:
        present = " and ".join(f"{quote(name)} is not null" for name in rule)
        found = memory.sql(
            f"select distinct {', '.join(map(quote, rule))} from changed_records where {present}"  # noqa: S608
        )
        keys.append(
            (rule, [list(column) for column in zip(*found.fetchall(), strict=True)] or [[] for _ in rule])
        )
    return keys


def warehouse_mates(warehouse: Warehouse) -> MatesReader:
    """The kept records of `warehouse`'s matching.scored_records sharing a block key (one query)."""
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"

    def read(keys: BlockKeys) -> Iterable[tuple[Any, ...]]:
        selects, params = [], []
        for rule, columns in keys:
            joined = " and ".join(f"kept.{quote(name)} = wanted.{quote(name)}" for name in rule)
            selects.append(
                f"select kept.* from {table} as kept join {warehouse.rows_subquery(rule)} as wanted on {joined}"  # noqa: S608
            )
            params.extend(columns)
        return warehouse.query(" union ".join(selects), params)

    return read


def _load_block_mates(
    read_mates: MatesReader, config: MatchingConfig, memory: duckdb.DuckDBPyConnection, replaced: set[str]
) -> None:
    """memory's table `records`: the changed records and the kept ones sharing a block with one of them."""
    names = ["source_table", "record_id", *config.columns]
    values: dict[str, list[Any]] = {name: [] for name in names}
    seen: set[tuple[Any, Any]] = set()
    for row in read_mates(block_keys(config, memory)):
        source_table, record_id = row[0], row[1]
        if f"{source_table}|{record_id}" in replaced or (source_table, record_id) in seen:
            continue
        seen.add((source_table, record_id))
        for name, value in zip(names, [source_table, record_id, *row[len(KEYS) :]], strict=True):
            values[name].append(value)
    memory.register(
        "mates", pa.table({name: pa.array(column, type=pa.string()) for name, column in values.items()})
    )
    try:
        memory.execute(
            "create or replace table records as select * from changed_records union all "  # noqa: S608 - quoted names
            f"select source_table || '|' || record_id as unique_id, {', '.join(map(quote, names))} from mates"
        )
    finally:
        memory.unregister("mates")


def score_changed(
    read_mates: MatesReader,
    config: MatchingConfig,
    model: dict[str, Any],
    memory: duckdb.DuckDBPyConnection,
    changes: Delta,
) -> list[link_table.ScoredLink]:
    """Read the changed records, find their block mates (`read_mates`: warehouse_mates, or the Spark
    tables'), and score the pairs with at least one changed
    record: the changed records linked against themselves and their mates (one Splink link-only run under the
    model's blocking rules), without a record's pair with itself and with each pair of two changed records
    once."""
    from splink import DuckDBAPI, Linker

    if not load_rows(config, memory, changes.rows, "changed_records"):
        return []
    _load_block_mates(read_mates, config, memory, changes.replaced)
    api = DuckDBAPI(connection=memory)
    across = copy.deepcopy(model)
    across["link_type"] = "link_only"
    # The model file was checked against the configuration when loaded (model.load) and the tables are built
    # here with its columns: Splink's settings validation (a fixed cost per run) would find nothing.
    linker = Linker(
        [api.register("changed_records"), api.register("records")],
        across,
        log_level=logging.WARNING,
        validate_settings=False,
    )
    scored = {
        link_table.pair(link): link
        for link in link_table.predict(linker, config, model)
        if (link.source_table_l, link.record_id_l) != (link.source_table_r, link.record_id_r)
    }
    return sorted(scored.values(), key=link_table.pair)


def save(
    warehouse: Warehouse,
    config: MatchingConfig,
    version: str,
    memory: duckdb.DuckDBPyConnection,
    normalized: str,
    replaced: set[str] | None = None,
) -> None:
    """Keep the records read this run (memory's `hashes`, their normalized columns from its table
    `normalized`): all of them (`replaced` None: the state is rewritten), or the `replaced` ones."""
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"
    names = [*KEYS, *config.columns]
    if replaced is None:
        warehouse.execute(f"drop table if exists {table}")
        warehouse.execute(f"create table {table} ({', '.join(f'{quote(name)} {text}' for name in names)})")
    elif replaced:
        warehouse.execute(
            f"delete from {table} where source_table || '|' || record_id in "  # noqa: S608
            f"(select unique_id from {warehouse.rows_subquery(['unique_id'])} as replaced)",
            [sorted(replaced)],
        )
    kept = kept_records(config, version, memory, normalized)
    if not kept.num_rows:
        return
    if warehouse.kind == "duckdb":
        # A DuckDB warehouse takes the Arrow table as it is: no Python object per value on a full run.
        warehouse.connection.register("kept_records", kept)
        try:
            warehouse.execute(f"insert into {table} select * from kept_records")  # noqa: S608 - quoted names
        finally:
            warehouse.connection.unregister("kept_records")
        return
    warehouse.execute(
        f"insert into {table} select * from {warehouse.rows_subquery(names)} as batch",  # noqa: S608
        [kept.column(name).to_pylist() for name in names],
    )


def kept_records(
    config: MatchingConfig, version: str, memory: duckdb.DuckDBPyConnection, normalized: str
) -> pa.Table:
    """The rows to keep for the records read this run (memory's `hashes`, their normalized columns from its
    table `normalized`): KEYS, then the matching columns."""
    columns = ", ".join(f"{quote(normalized)}.{quote(name)}" for name in config.columns)
    kept = memory.sql(
        "select split_part(hashes.unique_id, '|', 1) as source_table, "  # noqa: S608 - quoted names
        "substr(hashes.unique_id, strpos(hashes.unique_id, '|') + 1) as record_id, hashes.content_hash, "
        f"{columns} from hashes left join {quote(normalized)} using (unique_id)"
    ).to_arrow_table()
    return kept.add_column(3, "scoring_version", pa.array([version] * kept.num_rows, type=pa.string()))


def records_kept_select(config: MatchingConfig) -> str:
    """SQL counting the kept records that have a matching column (the records matched)."""
    any_column = " or ".join(f"{quote(name)} is not null" for name in config.columns)
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"
    return f"select count(*) from {table} where {any_column}"  # noqa: S608 - quoted names


def drop(warehouse: Warehouse) -> None:
    warehouse.execute(f"drop table if exists {quote(link_table.SCHEMA)}.{quote(STATE)}")
