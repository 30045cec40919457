"""Load the generated tables into Spark: each table goes through Arrow into a new Spark table under a loading
name, and only when every table is written are the old ones replaced (plain Spark tables have no
transactions; a failure while writing leaves the previous tables in place)."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from reverse_etl.generator.schema import (
    GROUND_TRUTH_COLUMNS,
    GROUND_TRUTH_SCHEMA,
    GROUND_TRUTH_TABLE,
    RAW_SCHEMA,
    RAW_TABLES,
    Columns,
)
from reverse_etl.spark import spark_session

LOADING_SUFFIX = "__loading"


def _spark_type(kind: str) -> str:
    return {"varchar": "string"}.get(kind, kind)


def load_spark(
    memory: duckdb.DuckDBPyConnection,
    select_list: Callable[[Columns], str],
    after_table_loaded: Callable[[str], None],
) -> None:
    spark = spark_session()
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    tables: list[tuple[str, str, Columns, str]] = [
        (RAW_SCHEMA, table, columns, f"gen_{table}") for table, columns in RAW_TABLES.items()
    ]
    tables.append((GROUND_TRUTH_SCHEMA, GROUND_TRUTH_TABLE, GROUND_TRUTH_COLUMNS, "gen_ground_truth"))
    for schema in (RAW_SCHEMA, GROUND_TRUTH_SCHEMA):
        spark.sql(f"create database if not exists `{schema}`")
    written: list[tuple[str, str]] = []
    try:
        for schema, table, columns, source in tables:
            reader = memory.cursor()  # a cursor of its own: the generator's connection may hold a result
            try:
                arrow = reader.sql(f"select {select_list(columns)} from {source}").to_arrow_table()
            finally:
                reader.close()
            schema_ddl = ", ".join(f"`{name}` {_spark_type(kind)}" for name, kind in columns)
            frame = spark.createDataFrame(arrow, schema=schema_ddl)
            loading = f"`{schema}`.`{table}{LOADING_SUFFIX}`"
            spark.sql(f"drop table if exists {loading}")
            frame.coalesce(1).write.format("parquet").saveAsTable(f"{schema}.{table}{LOADING_SUFFIX}")
            written.append((schema, table))
    except BaseException:
        for schema, table in written:
            spark.sql(f"drop table if exists `{schema}`.`{table}{LOADING_SUFFIX}`")
        raise
    for schema, table in written:
        spark.sql(f"drop table if exists `{schema}`.`{table}`")
        spark.sql(f"alter table `{schema}`.`{table}{LOADING_SUFFIX}` rename to `{schema}`.`{table}`")
        if schema == RAW_SCHEMA:
            after_table_loaded(table)
