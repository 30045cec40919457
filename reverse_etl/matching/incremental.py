"""Incremental scoring. matching.scored_records keeps, for every record the last run read, its content hash
(of its raw matching columns, computed in the warehouse), its change time (the source's `changed_at`, when it
has one), its normalized matching columns and the scoring version the run used (the model file's version, the
blocking rules, the matching columns and sources, and the lowest probability kept). A run with the same
scoring version finds the new, changed and removed records where they are (`_source_delta`, the same SQL on
every backend: by hash, or by id and change time and then by hash; only those rows come back), reads only the new and changed records, and
takes from matching.scored_records the records that share a block with one of them (equal on every column of
a blocking rule). It scores the changed records against those and themselves (Splink's link-only statements,
generated once per scoring version: reverse_etl.matching.statements); the
links of unchanged records stay as they are, those of changed and removed records are replaced. A pair's
probability depends only on its two records and the model, and every pair a full run would block with a
changed record has its other record in one of those blocks, so the links are those of a full run. Anything
else (no state, another scoring version, `--full`, training) is a full run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from reverse_etl.matching import links as link_table
from reverse_etl.matching import statements as scoring_statements
from reverse_etl.matching.config import MatchingConfig, MatchSource
from reverse_etl.matching.records import (
    UNIQUE_ID,
    change_time_type,
    content_hash,
    load_rows,
    matching_columns,
    source_rows,
    source_select_sql,
    text_type,
)
from reverse_etl.warehouse import Warehouse, quote

STATE = "scored_records"
KEYS = ["source_table", "record_id", "content_hash", "changed_at", "scoring_version"]
# What the kept state means; a new layout gives a new scoring version, so an old state means a full run.
STATE_LAYOUT = 4
# At most this many candidate records of a source are read by id in one query (bound parameters).
LOOKUP = 5000


@dataclass
class Delta:
    """What changed since the last run: records to score (new or changed), with their raw rows as the
    comparison read them, records whose links go, records whose content is the same but whose change time
    moved (`retimed`: the new time by record, kept so they are not read again next run), and the changed
    records no run kept (`new`: they have no kept row and no link to delete)."""

    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    retimed: dict[str, str] = field(default_factory=dict)
    new: set[str] = field(default_factory=set)

    @property
    def replaced(self) -> set[str]:
        return self.changed | self.removed

    @property
    def stale(self) -> set[str]:
        """The replaced records that have kept rows and links (those go)."""
        return self.replaced - self.new


def scoring_version(config: MatchingConfig, model_version: str) -> str:
    """What a link's score and the kept state depend on besides the records; a change means a full run."""
    sources = [
        [source.model, source.record_id, sorted(source.columns.items()), source.changed_at]
        for source in config.sources
    ]
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
    return changes(warehouse_backend(warehouse, config), config)


@dataclass(frozen=True)
class Backend:
    """How the delta's queries run where the records and the kept state are: a DuckDB or PostgreSQL warehouse
    (warehouse_backend) or Spark (reverse_etl.matching.spark_tables). The SQL is the same; only the quoting,
    the text type and the relations differ."""

    query: Callable[[str, list[Any]], list[tuple[Any, ...]]]
    quote: Callable[[str], str]
    text: str
    # The kept matching.scored_records (its published rows).
    state: str
    # The source's rows (records.source_rows_sql) and its change time's data type (records.checked_change_time).
    source_rows: Callable[[MatchSource], str]
    change_time_type: Callable[[MatchSource], str]


def warehouse_backend(warehouse: Warehouse, config: MatchingConfig) -> Backend:
    return Backend(
        query=warehouse.query,
        quote=quote,
        text=text_type(warehouse),
        state=f"{quote(link_table.SCHEMA)}.{quote(STATE)}",
        source_rows=lambda source: source_rows(warehouse, config, source),
        change_time_type=lambda source: change_time_type(warehouse, config, source),
    )


def changes(backend: Backend, config: MatchingConfig) -> Delta:
    """The records to score, removed and retimed since the last run (its state is in `backend`)."""
    result = Delta()
    for row in (row for source in config.sources for row in _source_delta(backend, config, source)):
        source_table, record_id, content, changed_at, kept_content, kept_changed_at = row[:6]
        unique_id = f"{source_table}|{record_id}"
        if content is None:
            result.removed.add(unique_id)
        elif content != kept_content:
            result.changed.add(unique_id)
            if kept_content is None:
                result.new.add(unique_id)
            result.rows.append((source_table, record_id, content, changed_at, *row[6:]))
        elif changed_at != kept_changed_at:
            result.retimed[unique_id] = changed_at
    return result


def _source_delta(backend: Backend, config: MatchingConfig, source: MatchSource) -> list[tuple[Any, ...]]:
    """The source's records that may have changed since the last run: source_table, record_id, content hash
    (null when removed), change time, kept hash and change time, raw matching columns.

    Without a `changed_at` every row is hashed and compared with its kept hash. With one, a row is hashed only
    when its record is new or removed (its id alone tells: a late row with an old time is found too), when its
    change time differs from the kept one (earlier or later: a writer's clock behind is no matter), when it is
    at or after the last run's high-water mark (the latest change time it read, inclusive: a row updated in
    the same tick after that run read it), or when it has no change time. A row updated in place whose change
    time stays the same and before the mark is the one change not seen (docs/identity.md, Fuzzy matching)."""
    text, q = backend.text, backend.quote
    kept = f"(select record_id, content_hash, changed_at from {backend.state} where source_table = ?)"  # noqa: S608 - quoted names
    columns = ", ".join(f"current_records.{q(name)}" for name in config.columns)
    rows = backend.source_rows(source)
    if source.changed_at is None:
        return backend.query(
            f"select cast(? as {text}), coalesce(current_records.record_id, kept.record_id), "  # noqa: S608
            "current_records.content_hash, current_records.changed_at, kept.content_hash, kept.changed_at, "
            f"{columns} from ({source_select_sql(config, source, rows, q, text)}) as current_records "
            f"full outer join {kept} as kept on kept.record_id = current_records.record_id "
            "where kept.content_hash is distinct from current_records.content_hash",
            [source.model, source.model],
        )
    time_type = backend.change_time_type(source)
    mark = f"(select max(cast(changed_at as {time_type})) from {backend.state} where source_table = ?)"  # noqa: S608
    # The ids and change times alone are joined with the kept ones (no value is carried through the join of
    # every row), the kept time (text) cast back to the source's type: compared as the same instant, and
    # cheaper than casting every current time to text (docs/benchmarks.md, "Incremental matching: sixth
    # round"). The few candidates are then read with their values by id, at most LOOKUP at a time. (A long
    # `in` list still scans the view: "Incremental matching: fourth round".)
    candidates = {
        str(record_id): (content, changed_at)
        for record_id, content, changed_at in backend.query(
            "select coalesce(current_times.record_id, kept.record_id), kept.content_hash, kept.changed_at "  # noqa: S608
            f"from (select record_id, changed_at from ({rows}) as source_rows) as current_times "
            f"full outer join {kept} as kept on kept.record_id = current_times.record_id "
            "where kept.record_id is null or current_times.record_id is null or current_times.changed_at is null "
            f"or cast(kept.changed_at as {time_type}) is distinct from current_times.changed_at "
            f"or current_times.changed_at >= {mark}",
            [source.model, source.model],
        )
    }
    found: list[tuple[Any, ...]] = []
    wanted = sorted(candidates)
    for start in range(0, len(wanted), LOOKUP):
        ids = wanted[start : start + LOOKUP]
        for record_id, content, changed_at, *values in backend.query(
            f"select current_records.record_id, {content_hash(source, 'current_records', q, text)}, "  # noqa: S608
            f"cast(current_records.changed_at as {text}), {columns} from ({rows}) as current_records "
            f"where current_records.record_id in ({', '.join('?' for _ in ids)})",
            list(ids),
        ):
            kept_content, kept_changed_at = candidates.pop(str(record_id))
            found.append(
                (source.model, record_id, content, changed_at, kept_content, kept_changed_at, *values)
            )
    # A candidate not found is a removed record (kept, no current row).
    nothing = [None] * len(config.columns)
    found.extend(
        (source.model, record_id, None, None, *kept, *nothing) for record_id, kept in candidates.items()
    )
    return found


# Block keys: (the columns of a blocking rule, one list of the changed records' values per column).
BlockKeys = list[tuple[list[str], list[list[Any]]]]
# Reads the kept records equal to one of the keys: source_table, record_id and the matching columns (only the
# columns scoring needs, not the kept hashes, times and versions: the union dedupes narrower rows).
KeysReader = Callable[[BlockKeys], Iterable[tuple[Any, ...]]]


@dataclass(frozen=True)
class KeptInMemory:
    """The kept records as memory's own connection reads them (`table`, qualified by its database): a DuckDB
    warehouse whose instance memory is attached to (run.WarehouseTables.scratch)."""

    table: str


MatesReader = KeysReader | KeptInMemory


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


def warehouse_mates(warehouse: Warehouse, config: MatchingConfig) -> KeysReader:
    """The kept records of `warehouse`'s matching.scored_records sharing a block key (one query: a union of one
    join per rule). A DuckDB warehouse's incremental run reads them in its scratch database instead
    (KeptInMemory, _select_block_mates)."""
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"
    kept = ", ".join(f"kept.{quote(name)}" for name in ["source_table", "record_id", *config.columns])

    def read(keys: BlockKeys) -> Iterable[tuple[Any, ...]]:
        joins, params = [], []
        for rule, columns in keys:
            joined = " and ".join(f"kept.{quote(name)} = wanted.{quote(name)}" for name in rule)
            joins.append(
                f"select {kept} from {table} as kept join {warehouse.rows_subquery(rule)} as wanted on {joined}"  # noqa: S608
            )
            params.extend(columns)
        return warehouse.query(" union ".join(joins), params)

    return read


def _load_block_mates(
    read_mates: MatesReader, config: MatchingConfig, memory: duckdb.DuckDBPyConnection, replaced: set[str]
) -> None:
    """memory's table `records`: the changed records and the kept ones sharing a block with one of them (each
    once, the replaced ones left out: their current rows are among the changed records or gone)."""
    names = ["source_table", "record_id", *config.columns]
    if isinstance(read_mates, KeptInMemory):
        _select_block_mates(read_mates.table, config, memory, replaced)
        return
    rows = list(read_mates(block_keys(config, memory)))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    memory.register(
        "mates",
        pa.table(
            {name: pa.array(column, type=pa.string()) for name, column in zip(names, columns, strict=True)}
        ),
    )
    try:
        memory.execute(
            "create or replace table records as select * from changed_records union all "  # noqa: S608 - quoted names
            f"select * from (select distinct on (source_table, record_id) {UNIQUE_ID} as unique_id, "
            f"{', '.join(map(quote, names))} from mates) as mates "
            "where unique_id not in (select unnest(?::varchar[]))",
            [sorted(replaced)],
        )
    finally:
        memory.unregister("mates")


def _select_block_mates(
    kept: str, config: MatchingConfig, memory: duckdb.DuckDBPyConnection, replaced: set[str]
) -> None:
    """_load_block_mates in one statement of memory's, reading the kept records (`kept`) itself: one scan, each
    record tested on every blocking rule (an `exists` each), so no key or mate becomes a Python object
    (docs/benchmarks.md, "Incremental matching: seventh round" and "eighth round")."""
    names = ", ".join(quote(name) for name in ["source_table", "record_id", *config.columns])
    tests = " or ".join(
        "exists (select 1 from changed_records as wanted where "  # noqa: S608 - quoted names
        + " and ".join(f"mates.{quote(name)} = wanted.{quote(name)}" for name in rule)
        + ")"
        for rule in config.blocking_rules
    )
    memory.execute(
        "create or replace table records as select * from changed_records union all "  # noqa: S608 - quoted names
        f"select {UNIQUE_ID} as unique_id, {names} from {kept} as mates "
        f"where ({tests}) and {UNIQUE_ID} not in (select unnest(?::varchar[]))",
        [sorted(replaced)],
    )


def score_changed(
    read_mates: MatesReader,
    config: MatchingConfig,
    model: dict[str, Any],
    memory: duckdb.DuckDBPyConnection,
    changes: Delta,
    plan: scoring_statements.Statements,
) -> list[link_table.ScoredLink]:
    """Read the changed records, find their block mates (`read_mates`: warehouse_mates, or the Spark
    tables'), and score the pairs with at least one changed record: the changed records linked against
    themselves and their mates (Splink's link-only statements `plan`, under the model's blocking rules:
    reverse_etl.matching.statements), without a record's pair with itself and with each pair of two changed
    records once."""
    if not load_rows(config, memory, changes.rows, scoring_statements.LEFT):
        return []
    _load_block_mates(read_mates, config, memory, changes.replaced)
    return scoring_statements.execute(plan, memory, model)


def save(
    warehouse: Warehouse,
    config: MatchingConfig,
    version: str,
    memory: duckdb.DuckDBPyConnection,
    normalized: str,
    replaced: set[str] | None = None,
    retimed: dict[str, str] | None = None,
    stale: set[str] | None = None,
) -> None:
    """Keep the records read this run (memory's `hashes`, their normalized columns from its table
    `normalized`): all of them (`replaced` None: the state is rewritten), or the `replaced` ones, whose kept
    rows go first (those of `stale`, the replaced records with kept rows, when given); and the new change
    time of the `retimed` records."""
    text = text_type(warehouse)
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"
    names = [*KEYS, *config.columns]
    if replaced is None:
        warehouse.execute(f"drop table if exists {table}")
        warehouse.execute(f"create table {table} ({', '.join(f'{quote(name)} {text}' for name in names)})")
    elif gone := (replaced if stale is None else stale):
        warehouse.execute(
            f"delete from {table} where source_table || '|' || record_id in "  # noqa: S608
            f"(select unique_id from {warehouse.rows_subquery(['unique_id'])} as replaced)",
            [sorted(gone)],
        )
    if retimed:
        warehouse.execute(
            f"update {table} as kept set changed_at = retimed.changed_at from "  # noqa: S608 - quoted names
            f"{warehouse.rows_subquery(['unique_id', 'changed_at'])} as retimed "
            "where kept.source_table || '|' || kept.record_id = retimed.unique_id",
            [list(retimed), list(retimed.values())],
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
        f"hashes.changed_at, {columns} from hashes left join {quote(normalized)} using (unique_id)"
    ).to_arrow_table()
    return kept.add_column(
        KEYS.index("scoring_version"),
        "scoring_version",
        pa.array([version] * kept.num_rows, type=pa.string()),
    )


def records_kept_select(config: MatchingConfig) -> str:
    """SQL counting the kept records that have a matching column (the records matched)."""
    any_column = " or ".join(f"{quote(name)} is not null" for name in config.columns)
    table = f"{quote(link_table.SCHEMA)}.{quote(STATE)}"
    return f"select count(*) from {table} where {any_column}"  # noqa: S608 - quoted names


def drop(warehouse: Warehouse) -> None:
    warehouse.execute(f"drop table if exists {quote(link_table.SCHEMA)}.{quote(STATE)}")
