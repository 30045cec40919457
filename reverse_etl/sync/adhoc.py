"""Ad-hoc SQL for quick audiences: accepted only when it is one SELECT that reads tables of the warehouse and
calls only allow-listed functions (reverse_etl.sync.adhoc_allowed). No DDL or DML anywhere (not in a CTE
either), no SELECT INTO, no locking clause, no second statement, no table functions, no catalog or system
relations, no schema-qualified calls, no parameters.

What runs is not the text as written but sqlglot's rendering of the checked tree, without comments, checked
again: a string, comment or quoting rule that sqlglot and the warehouse read differently cannot hide a call.
It runs in a read-only transaction of its own that is rolled back, with a timeout; its rows are copied, a page
at a time, into the sync's table cdp_sync."query__<sync>" (state.relation_sql), which the diff reads."""

from __future__ import annotations

import os
import re
from contextlib import closing

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from reverse_etl.errors import ConfigError, WarehouseError
from reverse_etl.sync import state
from reverse_etl.sync.adhoc_allowed import TYPES, function_allowed, function_name
from reverse_etl.sync.config import SyncConfig
from reverse_etl.warehouse import SIMPLE_NAME, Warehouse, quote

DIALECTS = ("duckdb", "postgres")
TIMEOUT_VARIABLE = "CDP_QUERY_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 300.0
PAGE_ROWS = 10_000
# A column type the query table may declare: a plain type name from the warehouse itself, with at most a
# precision and array brackets. Anything else (structs, enums, maps) is kept as text.
PLAIN_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\d+(, ?\d+)?\))?(\[\d*\])*$")

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
    exp.Commit,
    exp.Rollback,
    exp.Attach,
    exp.Detach,
    exp.Lock,
    exp.Describe,
    exp.Execute,
)
# Relations no segment reads: catalogs, system views, and the sync service's own state.
SYSTEM_NAMES = frozenset({"information_schema", "pg_catalog", "system", "temp", "cdp_sync"})
SYSTEM_PREFIXES = ("pg_", "duckdb_", "sqlite_", "pragma_")
# Bare words PostgreSQL evaluates as functions of the session, though sqlglot may read them as columns.
SESSION_WORDS = frozenset(
    {
        "user",
        "current_user",
        "session_user",
        "current_role",
        "system_user",
        "current_catalog",
        "current_schema",
    }
)


def checked_query(text: str, dialect: str, where: str) -> str:
    """The query as it will run (sqlglot's rendering of it, without comments), or a ConfigError naming what
    makes it unsafe. Every sqlglot error is a ConfigError too: a bad query never becomes a traceback."""
    if dialect not in DIALECTS:
        raise ConfigError(f"{where}: ad-hoc queries are supported on {' and '.join(DIALECTS)}, not {dialect}")
    statement = _one_select(text, dialect, where)
    _check_tree(statement, dialect, where)
    try:
        rendered = statement.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as error:
        raise ConfigError(f"{where}: the query cannot be checked: {_first_line(error)}") from error
    # The rendering is what runs: it is checked too, so nothing the renderer added escapes the rules.
    _check_tree(_one_select(rendered, dialect, where), dialect, where)
    return rendered


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _one_select(text: str, dialect: str, where: str) -> exp.Query:
    try:
        parsed = sqlglot.parse(text, read=dialect)
    except SqlglotError as error:
        raise ConfigError(f"{where}: the query does not parse: {_first_line(error)}") from error
    except RecursionError as error:
        raise ConfigError(f"{where}: the query is nested too deeply to check") from error
    statements = [
        statement
        for statement in parsed
        if statement is not None and not isinstance(statement, exp.Semicolon)
    ]
    if len(statements) != 1:
        raise ConfigError(f"{where}: the query must be exactly one SELECT statement, found {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise ConfigError(f"{where}: only a SELECT is allowed, found {statement.key.upper()}")
    return statement


def _check_tree(statement: exp.Query, dialect: str, where: str) -> None:
    for node in statement.walk():
        if isinstance(node, WRITES):
            raise ConfigError(f"{where}: only reads are allowed, found {node.key.upper()}")
        if isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
            raise ConfigError(f"{where}: parameters are not allowed in a sync query ({node.sql(dialect)})")
        if isinstance(node, exp.Table):
            _check_table(node, dialect, where)
        elif isinstance(node, exp.Func):
            if isinstance(node.parent, exp.Dot) and node.parent.expression is node:
                raise ConfigError(
                    f"{where}: schema-qualified functions are not allowed ({node.parent.sql(dialect)})"
                )
            if not function_allowed(node, dialect):
                raise ConfigError(f"{where}: function {function_name(node)} is not allowed in a sync query")
        elif isinstance(node, exp.DataType | exp.ObjectIdentifier):
            _check_type(node, dialect, where)
        elif isinstance(node, exp.Column) and not node.table:
            identifier = node.this
            if (
                isinstance(identifier, exp.Identifier)
                and not identifier.quoted
                and identifier.name.lower() in SESSION_WORDS
            ):
                raise ConfigError(
                    f"{where}: function {identifier.name.lower()} is not allowed in a sync query"
                )


def _check_table(node: exp.Table, dialect: str, where: str) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise ConfigError(f"{where}: table functions are not allowed ({node.this.sql(dialect=dialect)})")
    for part in (node.name, node.db, node.catalog):
        if not part:
            continue
        if not SIMPLE_NAME.match(part):
            raise ConfigError(f"{where}: table names must be plain identifiers, found {part!r}")
        lowered = part.lower()
        if lowered in SYSTEM_NAMES or lowered.startswith(SYSTEM_PREFIXES):
            raise ConfigError(
                f"{where}: catalog and system relations are not allowed in a sync query ({node.sql(dialect)})"
            )


def _check_type(node: exp.DataType | exp.ObjectIdentifier, dialect: str, where: str) -> None:
    if isinstance(node, exp.ObjectIdentifier) or node.this not in TYPES:
        raise ConfigError(f"{where}: type {node.sql(dialect).lower()} is not allowed in a sync query")


def query_timeout() -> float:
    """Seconds an ad-hoc query may run (CDP_QUERY_TIMEOUT_SECONDS, 5 minutes by default)."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 86_400:
        raise ConfigError(f"{TIMEOUT_VARIABLE}: {raw!r} is not a number of seconds between 0 and 86400")
    return seconds


def query_where(sync: SyncConfig) -> str:
    return f"{sync.source_file}: exposures.{sync.name}.meta.cdp_sync.query"


def runnable_query(warehouse: Warehouse, sync: SyncConfig) -> str:
    """The sync's query checked for this warehouse's dialect, or the ConfigError it was refused with at load."""
    if sync.error:
        raise ConfigError(sync.error)
    if not sync.query:
        raise ConfigError(f"{sync.source_file}: exposures.{sync.name}: the sync has no query")
    return checked_query(sync.query, warehouse.kind, query_where(sync))


def query_columns(warehouse: Warehouse, sync: SyncConfig) -> list[str]:
    """The column names the sync's checked query returns (learnt without reading a row)."""
    return [name for name, _ in _described(warehouse, sync, runnable_query(warehouse, sync))]


def materialize_query(warehouse: Warehouse, sync: SyncConfig) -> None:
    """Copy the rows of the sync's query into its table (state.relation_sql) for the diff to read; nothing for a
    model sync. The rows are read in a rolled-back read-only transaction of their own connection, as text, a
    page at a time, and written by the sync's connection in one transaction, cast back to their types."""
    if not sync.query:
        return
    statement = runnable_query(warehouse, sync)
    columns = _described(warehouse, sync, statement)
    names = [name for name, _ in columns]
    text = "text" if warehouse.kind == "postgres" else "varchar"
    table = state.relation_sql(sync)
    reading = (
        "select "
        + ", ".join(f"cast(rows_read.{quote(name)} as {text})" for name in names)
        + f" from ({statement}) as rows_read"  # noqa: S608 - a checked query, quoted names
    )
    writing = (
        f"insert into {table} select "  # noqa: S608 - quoted names, plain types, bound arrays
        + ", ".join(f"cast(page.{quote(name)} as {kind})" for name, kind in columns)
        + f" from {warehouse.rows_subquery(names)} as page"
    )
    try:
        with (
            warehouse.transaction(),
            closing(warehouse.read_only_stream(reading, query_timeout(), PAGE_ROWS)) as pages,
        ):
            warehouse.execute(f"drop table if exists {table}")
            warehouse.execute(
                f"create table {table} ({', '.join(f'{quote(name)} {kind}' for name, kind in columns)})"
            )
            for page in pages:
                warehouse.execute(writing, [list(values) for values in zip(*page, strict=True)])
    except WarehouseError as error:
        raise WarehouseError(f"{query_where(sync)}: {error}{_timeout_hint(error)}") from error


def _described(warehouse: Warehouse, sync: SyncConfig, statement: str) -> list[tuple[str, str]]:
    """(name, column type) of each column the query returns; the type is one the query table can declare."""
    try:
        described = warehouse.read_only_columns(statement, query_timeout())
    except WarehouseError as error:
        raise WarehouseError(f"{query_where(sync)}: {error}{_timeout_hint(error)}") from error
    names = [name for name, _ in described]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(
            f"{query_where(sync)}: the query returns column(s) {', '.join(repeated)} more than once; "
            "give each column a name of its own"
        )
    if warehouse.kind == "postgres":
        rows = warehouse.query(
            "select oid, format_type(oid, null), typnamespace = 'pg_catalog'::regnamespace from pg_type "
            "where oid = any(?)",
            ([int(code) for _, code in described],),
        )
        warehouse.commit()
        known = {oid: name for oid, name, builtin in rows if builtin}
        kinds = [known.get(int(code), "") for _, code in described]
        fallback = "text"
    else:
        kinds = [str(code) for _, code in described]
        fallback = "varchar"
    return [
        (name, kind if PLAIN_TYPE.match(kind) else fallback) for name, kind in zip(names, kinds, strict=True)
    ]


def _timeout_hint(error: WarehouseError) -> str:
    message = str(error).lower()
    if "timeout" in message or "longer than" in message or "interrupt" in message:
        return f"; the query may run {query_timeout():g} seconds: make it faster or raise {TIMEOUT_VARIABLE}"
    return ""
