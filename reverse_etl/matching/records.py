"""The records to match, read from the warehouse into an in-memory DuckDB table `records` (Splink's DuckDB
backend works on it): one row per record of every configured source, its matching columns normalized the
same way for every source (lower-case trimmed text, ISO dates, compact postal codes, digit-only phones)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from reverse_etl.errors import ConfigError
from reverse_etl.matching.config import MatchingConfig, MatchSource
from reverse_etl.warehouse import Warehouse, quote

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


def _source_select(warehouse: Warehouse, source: MatchSource, columns: list[str]) -> str:
    schema = schema_of(warehouse, source.model)
    available = {name.lower() for name in warehouse.columns(schema, source.model)}
    for column in [source.record_id, *source.columns.values()]:
        if column.lower() not in available:
            raise ConfigError(
                f"dbt_project.yml: vars.cdp_matching: column '{column}' does not exist in {source.model}; "
                f"it has {', '.join(sorted(available))}"
            )
    text = "varchar" if warehouse.kind == "duckdb" else "text"
    parts = [f"cast({quote(source.record_id)} as {text}) as record_id"]
    for name in columns:
        mapped = source.columns.get(name)
        parts.append(
            f"cast({quote(mapped)} as {text}) as {quote(name)}"
            if mapped
            else f"cast(null as {text}) as {quote(name)}"
        )
    return f"select {', '.join(parts)} from {quote(schema)}.{quote(source.model)}"  # noqa: S608 - quoted names


def load_records(warehouse: Warehouse, config: MatchingConfig, memory: duckdb.DuckDBPyConnection) -> int:
    """Fill `memory`'s table `records` (unique_id, source_table, record_id, matching columns); its row count.
    A record with none of the matching columns is left out: there is nothing to compare."""
    names = ["source_table", "record_id", *config.columns]
    batches: dict[str, list[str | None]] = {name: [] for name in names}
    for source in config.sources:
        for rows in warehouse.stream(_source_select(warehouse, source, config.columns)):
            for row in rows:
                batches["source_table"].append(source.model)
                for name, value in zip(names[1:], row, strict=True):
                    batches[name].append(value)
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in batches.items()})
    memory.register("raw_records", table)
    normalized = ", ".join(
        f"{NORMALIZE[name].format(v=quote(name))} as {quote(name)}" for name in config.columns
    )
    any_column = " or ".join(f"{quote(name)} is not null" for name in config.columns)
    memory.execute(
        f"create or replace table records as select * from ("  # noqa: S608 - quoted names, fixed SQL
        f"select source_table || '|' || record_id as unique_id, source_table, record_id, {normalized} "
        f"from raw_records) where {any_column}"
    )
    memory.unregister("raw_records")
    return int(memory.sql("select count(*) from records").fetchall()[0][0])
