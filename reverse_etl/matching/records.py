"""The records to match, read from the warehouse into an in-memory DuckDB table `records` (Splink's DuckDB
backend works on it): one row per record of every configured source, its matching columns normalized the
same way for every source (lower-case trimmed text, ISO dates, compact postal codes, digit-only phones).
Every record read also has its content hash (of its raw matching columns, computed in the warehouse) in the
table `hashes`; an incremental run reads only the records whose hash changed (reverse_etl.matching.incremental).
A source row with none of its mapped columns filled is no record to match: it is neither hashed nor kept, so
the orders without a name (most of them) cost a run nothing."""

from __future__ import annotations

import weakref

import duckdb
import pyarrow as pa

from reverse_etl.errors import ConfigError
from reverse_etl.matching.config import MatchingConfig, MatchSource
from reverse_etl.warehouse import Warehouse, quote

UNIQUE_ID = "source_table || '|' || record_id"

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


def schema_of(warehouse: Warehouse, model: str) -> str:
    """The schema holding the relation dbt built for `model`; a ConfigError when there is none or several."""
    rows = warehouse.query(
        "select table_schema from information_schema.tables where table_name = ? order by table_schema",
        (model,),
    )
    if len(rows) != 1:
        found = (
            "not built yet; run `cdp dbt build --select staging` first" if not rows else "in several schemas"
        )
        raise ConfigError(f"dbt_project.yml: vars.cdp_matching: model {model} is {found}")
    return str(rows[0][0])


# Each open warehouse's source selects, looked up in the catalog once: a run (one Warehouse) asks for them when
# it compares hashes and again when it reads the changed records.
_SELECTS: weakref.WeakKeyDictionary[Warehouse, dict[str, str]] = weakref.WeakKeyDictionary()


def _source_select(warehouse: Warehouse, source: MatchSource, columns: list[str]) -> str:
    """The source's record id, its content hash and its matching columns as text (null where unmapped), for
    its rows with at least one mapped column filled."""
    key = repr((source.model, source.record_id, sorted(source.columns.items()), columns))
    known = _SELECTS.setdefault(warehouse, {})
    if key not in known:
        known[key] = _build_source_select(warehouse, source, columns)
    return known[key]


def _build_source_select(warehouse: Warehouse, source: MatchSource, columns: list[str]) -> str:
    schema = schema_of(warehouse, source.model)
    available = {name.lower() for name in warehouse.columns(schema, source.model)}
    for column in [source.record_id, *source.columns.values()]:
        if column.lower() not in available:
            raise ConfigError(
                f"dbt_project.yml: vars.cdp_matching: column '{column}' does not exist in {source.model}; "
                f"it has {', '.join(sorted(available))}"
            )
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    mapped = [source.columns.get(name) for name in columns]
    # Each value as its length, ':' and itself, or '-' when null: no two different rows concatenate alike.
    values = [f"cast({quote(column)} as {text})" for column in mapped if column]
    hashed = " || ".join(
        f"coalesce(cast(length({value}) as {text}) || ':' || {value}, '-')" for value in values
    )
    parts = [f"cast({quote(source.record_id)} as {text}) as record_id", f"md5({hashed}) as content_hash"]
    for name, source_column in zip(columns, mapped, strict=True):
        parts.append(
            f"cast({quote(source_column)} as {text}) as {quote(name)}"
            if source_column
            else f"cast(null as {text}) as {quote(name)}"
        )
    filled = " or ".join(f"{quote(column)} is not null" for column in mapped if column)
    return f"select {', '.join(parts)} from {quote(schema)}.{quote(source.model)} where {filled}"  # noqa: S608 - quoted names


def current_select(warehouse: Warehouse, config: MatchingConfig) -> str:
    """SQL for every current record of every source: source_table, record_id, content_hash and the raw
    matching columns (one bound parameter per source: its model name)."""
    columns = "".join(f", {quote(name)}" for name in config.columns)
    return " union all ".join(
        f"select cast(? as {'varchar' if warehouse.kind == 'duckdb' else 'text'}) as source_table, record_id, "  # noqa: S608
        f"content_hash{columns} from ({_source_select(warehouse, source, config.columns)}) as {quote(source.model)}"
        for source in config.sources
    )


def load_records(warehouse: Warehouse, config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> int:
    """Fill `memory`'s table `records` (unique_id, source_table, record_id, matching columns) and `hashes`
    (unique_id, content_hash) with every record of every source; the row count of `records`."""
    rows: list[tuple[str | None, ...]] = []
    for source in config.sources:
        for batch in warehouse.stream(_source_select(warehouse, source, config.columns)):
            rows.extend((source.model, *row) for row in batch)
    return load_rows(config, memory, rows, "records")


def load_rows(
    config: MatchingConfig,
    memory: duckdb.DuckDBPyConnection,
    rows: list[tuple[str | None, ...]],
    table: str,
) -> int:
    """Fill `memory`'s table `table` and `hashes` from raw `rows` (source_table, record_id, content_hash,
    the raw matching columns); the row count of `table`. A record whose matching columns are all empty once
    normalized is left out of `table`: there is nothing to compare."""
    names = ["source_table", "record_id", "content_hash", *config.columns]
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
        f"create or replace table hashes as select {UNIQUE_ID} as unique_id, content_hash from raw_records"  # noqa: S608
    )
    memory.execute(
        f"create or replace table {quote(table)} as select * from ("  # noqa: S608 - quoted names, fixed SQL
        f"select {UNIQUE_ID} as unique_id, source_table, record_id, {normalized} "
        f"from raw_records) where {any_column}"
    )
    memory.unregister("raw_records")
    return int(memory.sql(f"select count(*) from {quote(table)}").fetchall()[0][0])  # noqa: S608
