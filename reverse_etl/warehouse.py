"""One small interface over the warehouses the sync service reads and keeps state in (DuckDB, PostgreSQL):
identifier quoting, bound parameters, streaming reads and transactions."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from reverse_etl.errors import ConfigError, WarehouseError
from reverse_etl.project import Target, connect

# The DuckDB memory caps of a sync run (CDP_DUCKDB_MEMORY_LIMIT overrides both): the diff, one large join, gets
# room enough not to spill; sending, when Python holds rows and requests besides, gets less.
DUCKDB_DIFF_MEMORY_LIMIT = "144MB"
DUCKDB_MEMORY_LIMIT = "128MB"
SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(name: str) -> str:
    """Quote one identifier (DuckDB and PostgreSQL share the double-quote rule)."""
    return '"' + name.replace('"', '""') + '"'


def checked_name(name: str, what: str) -> str:
    """Names the service builds SQL around must be plain identifiers: no quotes, dots or semicolons."""
    if not isinstance(name, str) or not SIMPLE_NAME.match(name):
        raise ConfigError(f"{what} '{name}' must be letters, digits and underscores only")
    return name


class Warehouse:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.kind = target.type
        self.marker = "%s" if self.kind == "postgres" else "?"
        self._connection: Any = None

    @property
    def connection(self) -> Any:
        if self._connection is None:
            self._connection = connect(self.target)
        return self._connection

    @contextmanager
    def memory_capped(self, limit: str = DUCKDB_MEMORY_LIMIT) -> Iterator[None]:
        """DuckDB: cap the buffer pool (by default 80% of the machine's memory, and it counts in this process's
        resident memory) while the block runs; past the cap DuckDB spills to a folder beside the database file.
        The setting is the database's, not the connection's, so it is reset to DuckDB's default afterwards
        (dbt may build in this process later). CDP_DUCKDB_MEMORY_LIMIT overrides the cap. PostgreSQL: nothing."""
        if self.kind != "duckdb":
            yield
            return
        self.cap_memory(limit)
        try:
            yield
        finally:
            if self._connection is not None:
                self._connection.execute("reset memory_limit")

    @contextmanager
    def checkpoints_deferred(self) -> Iterator[None]:
        """DuckDB: no automatic checkpoint while the block runs. A sync commits two small transactions a window;
        with DuckDB's default (a checkpoint whenever the write-ahead log passes 16MB) a large run rewrites the
        snapshot table and its key index every few windows. Commits stay durable in the log; the first commit
        after the block checkpoints once. The setting is the database's: reset afterwards. PostgreSQL: nothing."""
        if self.kind != "duckdb":
            yield
            return
        self.connection.execute("set checkpoint_threshold = '1GB'")
        try:
            yield
        finally:
            if self._connection is not None:
                self._connection.execute("reset checkpoint_threshold")

    def cap_memory(self, limit: str) -> None:
        """DuckDB: set the buffer pool's cap now (inside memory_capped, which resets it); PostgreSQL: nothing."""
        if self.kind != "duckdb":
            return
        limit = os.environ.get("CDP_DUCKDB_MEMORY_LIMIT", limit)
        try:
            self.connection.execute("set memory_limit = ?", [limit])
        except Exception as error:
            raise ConfigError(
                f"CDP_DUCKDB_MEMORY_LIMIT: {limit!r} is not a memory size (e.g. 512MB or 2GB): "
                f"{str(error).strip().splitlines()[0]}"
            ) from error

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _cursor(self) -> Any:
        """PostgreSQL: a cursor of the one connection. DuckDB: the connection itself, because a DuckDB
        cursor is a separate connection with a transaction of its own."""
        return self.connection if self.kind == "duckdb" else self.connection.cursor()

    def _failure(self, error: Exception) -> WarehouseError:
        """One line naming the warehouse and what it said; a DuckDB memory cap that was too small says so."""
        message = f"{self.target.describe()}: {str(error).strip().splitlines()[0]}"
        if self.kind == "duckdb" and "Out of Memory" in message:
            message += (
                "; a sync caps DuckDB's memory (128MB while sending, 144MB for the diff by default): "
                "raise CDP_DUCKDB_MEMORY_LIMIT (e.g. 512MB) for a model this large"
            )
        return WarehouseError(message)

    def sql(self, text: str) -> str:
        """Write statements with `?` for parameters; this turns them into the driver's marker."""
        return text.replace("?", self.marker) if self.kind == "postgres" else text

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        cursor = self._cursor()
        try:
            cursor.execute(self.sql(statement), tuple(params))
        except Exception as error:
            self._rollback_quietly()
            raise self._failure(error) from error

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cursor = self._cursor()
        try:
            cursor.executemany(self.sql(statement), [tuple(row) for row in rows])
        except Exception as error:
            self._rollback_quietly()
            raise self._failure(error) from error

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._cursor()
        try:
            cursor.execute(self.sql(statement), tuple(params))
            rows = cursor.fetchall()
            # Both drivers answer a list of tuples: copied only if one ever does not.
            if isinstance(rows, list) and (not rows or isinstance(rows[0], tuple)):
                return rows
            return [tuple(row) for row in rows]
        except Exception as error:
            self._rollback_quietly()
            raise self._failure(error) from error

    def rows_subquery(self, columns: Sequence[str]) -> str:
        """A subquery yielding rows from one bound text array per column (bulk writes without per-row calls)."""
        names = ", ".join(quote(column) for column in columns)
        if self.kind == "postgres":
            arrays = ", ".join("%s::text[]" for _ in columns)
            return f"(select * from unnest({arrays}) as batch_rows({names}))"  # noqa: S608 - quoted names, bound arrays
        arrays = ", ".join(f"unnest(?::varchar[]) as {quote(column)}" for column in columns)
        return f"(select {arrays})"

    def columns(self, schema: str, table: str) -> list[str]:
        rows = self.query(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            (schema, table),
        )
        return [row[0] for row in rows]

    def stream(
        self, statement: str, params: Sequence[Any] = (), batch_size: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Rows in batches from a connection of their own, so memory stays flat and writes can interleave."""
        reader = connect(self.target)
        try:
            if self.kind == "postgres":
                cursor = reader.cursor(name="cdp_stream")
                cursor.itersize = batch_size
            else:
                cursor = reader.cursor()
            cursor.execute(self.sql(statement), tuple(params))
            while True:
                rows = cursor.fetchmany(batch_size)
                if not rows:
                    return
                yield (
                    rows
                    if isinstance(rows, list) and isinstance(rows[0], tuple)
                    else [tuple(row) for row in rows]
                )
        finally:
            reader.close()

    @contextmanager
    def _read_only(self, timeout_seconds: float) -> Iterator[Any]:
        """A connection of its own in a read-only transaction that is always rolled back, so nothing a query run
        in it did can be committed. PostgreSQL bounds each statement (statement_timeout), lock waits and idle
        time by the timeout; DuckDB has no statement timeout, so a timer interrupts the connection."""
        reader = connect(self.target)
        timer: threading.Timer | None = None
        try:
            if self.kind == "postgres":
                cursor = reader.cursor()
                cursor.execute("set transaction read only")
                milliseconds = str(max(1, int(timeout_seconds * 1000)))
                cursor.execute(
                    "select set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true), "
                    "set_config('idle_in_transaction_session_timeout', %s, true)",
                    (milliseconds, milliseconds, milliseconds),
                )
            else:
                # No Python object of this process may stand in for a table name (DuckDB's replacement scans).
                reader.execute("set python_enable_replacements = false")
                reader.execute("begin transaction read only")
                timer = threading.Timer(timeout_seconds, reader.interrupt)
                timer.daemon = True
                timer.start()
            yield reader
        except WarehouseError:
            raise
        except Exception as error:
            raise self._failure(error) from error
        finally:
            if timer is not None:
                timer.cancel()
            try:
                reader.rollback()
            except Exception:  # noqa: BLE001 - an interrupted or failed transaction is gone already
                pass
            reader.close()

    def read_only_columns(self, statement: str, timeout_seconds: float) -> list[tuple[str, Any]]:
        """Name and type of each column a query returns, learnt in a rolled-back read-only transaction (the
        query is asked for no rows). The type is DuckDB's type or PostgreSQL's type oid."""
        with self._read_only(timeout_seconds) as reader:
            cursor = reader.cursor() if self.kind == "postgres" else reader
            cursor.execute(f"select * from ({statement}) as probe limit 0")  # noqa: S608 - a checked query
            cursor.fetchall()
            return [(column[0], column[1]) for column in cursor.description]

    def read_only_stream(
        self, statement: str, timeout_seconds: float, batch_size: int = 10_000
    ) -> Generator[list[tuple[Any, ...]], None, None]:
        """Rows in batches from a rolled-back read-only transaction of their own (see _read_only), so memory stays
        flat; the whole read, not only each statement, ends with a WarehouseError past the timeout."""
        deadline = time.monotonic() + timeout_seconds
        with self._read_only(timeout_seconds) as reader:
            if self.kind == "postgres":
                cursor = reader.cursor(name="cdp_read_only")
                cursor.itersize = batch_size
            else:
                cursor = reader
            cursor.execute(statement)
            while True:
                rows = cursor.fetchmany(batch_size)
                if not rows:
                    return
                if time.monotonic() > deadline:
                    raise WarehouseError(
                        f"{self.target.describe()}: the query ran longer than {timeout_seconds:g} seconds"
                    )
                yield [tuple(row) for row in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("begin") if self.kind == "duckdb" else None
        try:
            yield
        except BaseException:
            self._rollback_quietly()
            raise
        else:
            self.connection.commit()

    def commit(self) -> None:
        self.connection.commit()

    def _rollback_quietly(self) -> None:
        try:
            self.connection.rollback()
        except Exception:  # noqa: BLE001 - nothing to roll back is fine
            pass
