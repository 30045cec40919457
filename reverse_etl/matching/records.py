"""The records to match, read from the warehouse into an in-memory DuckDB table `records` (Splink's DuckDB
backend works on it): one row per record of every configured source, its matching columns normalized the
same way for every source (lower-case trimmed text, ISO dates, compact postal codes, digit-only phones).
Every record read also has its content hash (of its raw matching columns, computed in the warehouse) and its
change time (a source's `changed_at` as text, null without one) in the table `hashes`; an incremental run reads
only the records whose hash changed (reverse_etl.matching.incremental).
A source row with none of its mapped columns filled is no record to match: it is neither hashed nor kept, so
the orders without a name (most of them) cost a run nothing."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from reverse_etl.errors import ConfigError
from reverse_etl.matching import links as link_table
from reverse_etl.matching.config import WHERE, MatchingConfig, MatchSource
from reverse_etl.warehouse import Warehouse, quote

UNIQUE_ID = "source_table || '|' || record_id"
# The column types a `changed_at` may have (information_schema's data_type on DuckDB and PostgreSQL, a Spark
# column's simple type name): a time.
CHANGE_TIME_TYPE = re.compile(
    r"^(date|timestamp( ?\(\d\))?( with(out)? time zone)?|timestamptz|timestamp_(s|ms|ns|ntz))$", re.I
)

# How each matching column is normalized, as DuckDB SQL over the raw text `value`.
NORMALIZE = {
    "first_name": "nullif(lower(trim({v})), '')",
    "last_name": "nullif(lower(trim({v})), '')",
    "city": "nullif(lower(trim({v})), '')",
    "street": "nullif(regexp_replace(lower(trim({v})), '[[:space:]]+', ' ', 'g'), '')",
    "postal_code": "nullif(upper(regexp_replace({v}, '[^A-Za-z0-9]', '', 'g')), '')",
    "phone": "nullif(regexp_replace({v}, '[^0-9]', '', 'g'), '')",
    "date_of_birth": "strftime(try_cast(trim({v}) as date), '%Y-%m-%d')",
}


# Each open warehouse's catalog (table name -> [(schema, column, data type)], in column order) of the source models and
# the matching schema's tables, read in one query the first time a run asks, and its source selects. A run (one
# Warehouse) reads the catalog before it writes anything, so it finds the tables as they were when it started.
_CATALOGS: weakref.WeakKeyDictionary[Warehouse, dict[str, list[tuple[str, str, str]]]] = (
    weakref.WeakKeyDictionary()
)
_SELECTS: weakref.WeakKeyDictionary[Warehouse, dict[str, str]] = weakref.WeakKeyDictionary()


def catalog(warehouse: Warehouse, config: MatchingConfig) -> dict[str, list[tuple[str, str, str]]]:
    """The source models' and the matching schema's tables' (schema, column, data type) by table name: one catalog
    query per run (on a busy machine each costs a round trip; a run used to make eight)."""
    if warehouse not in _CATALOGS:
        models = sorted({source.model for source in config.sources})
        marks = ", ".join("?" for _ in models)
        # DuckDB: its own catalog function, the rows information_schema.columns gives (a view joining several
        # catalog functions) at a tenth of the time, for the warehouse's database only.
        statement = (
            "select table_name, schema_name, column_name, data_type from duckdb_columns() "  # noqa: S608 - bound values
            f"where database_name = current_database() and (table_name in ({marks}) or schema_name = ?) "
            "order by schema_name, table_name, column_index"
            if warehouse.kind == "duckdb"
            else "select table_name, table_schema, column_name, data_type from information_schema.columns "  # noqa: S608
            f"where table_name in ({marks}) or table_schema = ? "
            "order by table_schema, table_name, ordinal_position"
        )
        rows = warehouse.query(statement, (*models, link_table.SCHEMA))
        found: dict[str, list[tuple[str, str, str]]] = {}
        for table, schema, column, data_type in rows:
            found.setdefault(str(table), []).append((str(schema), str(column), str(data_type)))
        _CATALOGS[warehouse] = found
    return _CATALOGS[warehouse]


def matching_columns(warehouse: Warehouse, config: MatchingConfig, table: str) -> list[str]:
    """The columns of the matching schema's table `table` when the run started."""
    return [
        column
        for schema, column, _ in catalog(warehouse, config).get(table, [])
        if schema == link_table.SCHEMA
    ]


def schema_of(warehouse: Warehouse, config: MatchingConfig, model: str) -> str:
    """The schema holding the relation dbt built for `model`; a ConfigError when there is none or several."""
    return one_schema(model, sorted({schema for schema, _, _ in catalog(warehouse, config).get(model, [])}))


def one_schema(model: str, schemas: list[str]) -> str:
    """The one schema of `schemas` holding `model`; a ConfigError when there is none or several."""
    if len(schemas) != 1:
        found = (
            "not built yet; run `cdp dbt build --select staging` first"
            if not schemas
            else "in several schemas"
        )
        raise ConfigError(f"dbt_project.yml: vars.cdp_matching: model {model} is {found}")
    return schemas[0]


def source_select(warehouse: Warehouse, config: MatchingConfig, source: MatchSource) -> str:
    """The source's record id, its content hash, its change time and its matching columns as text (null where
    unmapped), for its rows with at least one mapped column filled."""
    return source_select_sql(
        config, source, source_rows(warehouse, config, source), quote, text_type(warehouse)
    )


def text_type(warehouse: Warehouse) -> str:
    return "varchar" if warehouse.kind == "duckdb" else "text"


def source_select_sql(
    config: MatchingConfig, source: MatchSource, rows: str, quote_name: Callable[[str], str], text: str
) -> str:
    """source_select over the source's `rows` (source_rows_sql) for a backend whose identifiers `quote_name`
    quotes and whose text type is `text`."""
    columns = "".join(f", {quote_name(name)}" for name in config.columns)
    return (
        f"select record_id, {content_hash(source, 'source_rows', quote_name, text)} as content_hash, "  # noqa: S608 - quoted names
        f"cast(changed_at as {text}) as changed_at{columns} from ({rows}) as source_rows"
    )


def content_hash(
    source: MatchSource, relation: str, quote_name: Callable[[str], str] = quote, text: str = "text"
) -> str:
    """SQL for the md5 of a source row's mapped matching columns (text, as `source_rows` selects them) in
    `relation`. Each value as its length, ':' and itself, or '-' when null: no two different rows concatenate
    alike. The columns in name order, so the hash does not depend on the configuration's order."""
    values = [f"{quote_name(relation)}.{quote_name(name)}" for name in sorted(source.columns)]
    return (
        "md5("
        + " || ".join(f"coalesce(cast(length({value}) as {text}) || ':' || {value}, '-')" for value in values)
        + ")"
    )


def source_rows(warehouse: Warehouse, config: MatchingConfig, source: MatchSource) -> str:
    """SQL for the source's rows with at least one mapped column filled: record_id, changed_at (as the source
    has it, null without one) and the matching columns as text (null where unmapped)."""
    key = repr((source, config.columns))
    known = _SELECTS.setdefault(warehouse, {})
    if key not in known:
        schema = schema_of(warehouse, config, source.model)
        types = {name.lower(): data_type for _, name, data_type in catalog(warehouse, config)[source.model]}
        known[key] = source_rows_sql(config, source, schema, types, quote, text_type(warehouse))
    return known[key]


def change_time_type(warehouse: Warehouse, config: MatchingConfig, source: MatchSource) -> str:
    """The data type of the source's `changed_at` column, a date or timestamp type (a ConfigError else)."""
    found = {
        name.lower(): data_type for _, name, data_type in catalog(warehouse, config).get(source.model, [])
    }
    return checked_change_time(source, found)


def checked_change_time(source: MatchSource, types: dict[str, str]) -> str:
    """The data type of the source's `changed_at` among the model's column `types` (lower-case name -> type
    name as the backend's catalog gives it): a date or timestamp type, a ConfigError else."""
    data_type = types.get(str(source.changed_at).lower(), "")
    if not CHANGE_TIME_TYPE.match(data_type):
        raise ConfigError(
            f"{WHERE}: changed_at '{source.changed_at}' of {source.model} is of type {data_type}; it must be a "
            "date or timestamp column that every insert and update sets (or leave changed_at out)"
        )
    return data_type


def source_rows_sql(
    config: MatchingConfig,
    source: MatchSource,
    schema: str,
    types: dict[str, str],
    quote_name: Callable[[str], str],
    text: str,
) -> str:
    """The source's rows (see source_rows) for a backend whose identifiers `quote_name` quotes and whose text
    type is `text`; a ConfigError when a configured column is not among the model's (`types`: lower-case name
    -> data type) or its change time is not a time."""
    columns = config.columns
    wanted = [source.record_id, *source.columns.values(), *([source.changed_at] if source.changed_at else [])]
    for column in wanted:
        if column.lower() not in types:
            raise ConfigError(
                f"{WHERE}: column '{column}' does not exist in {source.model}; it has {', '.join(sorted(types))}"
            )
    mapped = [source.columns.get(name) for name in columns]
    changed_at = "null"
    if source.changed_at:
        checked_change_time(source, types)
        changed_at = quote_name(source.changed_at)
    parts = [f"cast({quote_name(source.record_id)} as {text}) as record_id", f"{changed_at} as changed_at"]
    for name, source_column in zip(columns, mapped, strict=True):
        parts.append(
            f"cast({quote_name(source_column)} as {text}) as {quote_name(name)}"
            if source_column
            else f"cast(null as {text}) as {quote_name(name)}"
        )
    filled = " or ".join(f"{quote_name(column)} is not null" for column in mapped if column)
    relation = f"{quote_name(schema)}.{quote_name(source.model)}"
    return f"select {', '.join(parts)} from {relation} where {filled}"  # noqa: S608 - quoted names


@contextmanager
def new_memory() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB instance of its own (a run's `memory`), closed after."""
    memory = duckdb.connect(":memory:")
    try:
        yield memory
    finally:
        memory.close()


def load_records(warehouse: Warehouse, config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> int:
    """Fill `memory`'s table `records` (unique_id, source_table, record_id, matching columns) and `hashes`
    (unique_id, content_hash) with every record of every source; the row count of `records`."""
    rows: list[tuple[str | None, ...]] = []
    for source in config.sources:
        for batch in warehouse.stream(source_select(warehouse, config, source)):
            rows.extend((source.model, *row) for row in batch)
    return load_rows(config, memory, rows, "records")


def load_rows(
    config: MatchingConfig,
    memory: duckdb.DuckDBPyConnection,
    rows: list[tuple[str | None, ...]],
    table: str,
) -> int:
    """Fill `memory`'s table `table` and `hashes` from raw `rows` (source_table, record_id, content_hash,
    changed_at, the raw matching columns); the row count of `table`. A record whose matching columns are all empty once
    normalized is left out of `table`: there is nothing to compare."""
    names = ["source_table", "record_id", "content_hash", "changed_at", *config.columns]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrow = pa.table(
        {name: pa.array(list(values), type=pa.string()) for name, values in zip(names, columns, strict=True)}
    )
    memory.register("raw_records", arrow)
    normalized = ", ".join(
        f"{NORMALIZE[name].format(v=quote(name))} as {quote(name)}" for name in config.columns
    )
    any_column = " or ".join(f"{quote(name)} is not null" for name in config.columns)
    memory.execute(
        f"create or replace table hashes as select {UNIQUE_ID} as unique_id, content_hash, changed_at "  # noqa: S608
        "from raw_records"
    )
    memory.execute(
        f"create or replace table {quote(table)} as select * from ("  # noqa: S608 - quoted names, fixed SQL
        f"select {UNIQUE_ID} as unique_id, source_table, record_id, {normalized} "
        f"from raw_records) where {any_column}"
    )
    memory.unregister("raw_records")
    return int(memory.sql(f"select count(*) from {quote(table)}").fetchall()[0][0])  # noqa: S608
