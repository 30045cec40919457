"""Ad-hoc SQL for quick audiences: accepted only when it is one read-only SELECT that reads tables of the
warehouse (no DDL or DML, no second statement, no table functions, no function that touches files,
the network or the server)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from reverse_etl.errors import ConfigError
from reverse_etl.warehouse import SIMPLE_NAME

WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Merge,
    exp.Copy,
    exp.Into,
    exp.TruncateTable,
    exp.Set,
    exp.Pragma,
    exp.Use,
    exp.Transaction,
)
FORBIDDEN_FUNCTIONS = {
    "read_csv",
    "read_csv_auto",
    "read_parquet",
    "read_json",
    "read_json_auto",
    "read_ndjson",
    "read_text",
    "read_blob",
    "parquet_scan",
    "csv_scan",
    "json_scan",
    "sniff_csv",
    "glob",
    "iceberg_scan",
    "delta_scan",
    "postgres_scan",
    "postgres_query",
    "sqlite_scan",
    "mysql_query",
    "query",
    "query_table",
    "getenv",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "lo_import",
    "lo_export",
    "dblink",
    "dblink_exec",
    "pg_sleep",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "set_config",
    "copy",
    "current_setting",
}


def checked_query(text: str, dialect: str, where: str) -> str:
    """The query, unchanged, or a ConfigError naming what makes it unsafe."""
    try:
        statements = [statement for statement in sqlglot.parse(text, read=dialect) if statement is not None]
    except sqlglot.errors.ParseError as error:
        raise ConfigError(f"{where}: the query does not parse: {str(error).splitlines()[0]}") from error
    if len(statements) != 1:
        raise ConfigError(f"{where}: the query must be exactly one SELECT statement, found {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise ConfigError(f"{where}: only a SELECT is allowed, found {statement.key.upper()}")
    for node in statement.walk():
        if isinstance(node, WRITES):
            raise ConfigError(f"{where}: only reads are allowed, found {node.key.upper()}")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in FORBIDDEN_FUNCTIONS:
                raise ConfigError(f"{where}: function {name} is not allowed in a sync query")
        if isinstance(node, exp.Table):
            if not isinstance(node.this, exp.Identifier):
                raise ConfigError(
                    f"{where}: table functions are not allowed ({node.this.sql(dialect=dialect)})"
                )
            for part in (node.name, node.db, node.catalog):
                if part and not SIMPLE_NAME.match(part):
                    raise ConfigError(f"{where}: table names must be plain identifiers, found {part!r}")
    return text
