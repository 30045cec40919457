"""The BI copy: the schemas BI users read, copied out of the DuckDB warehouse into a file of their own.

DuckDB lets one process write a database file, and a process that has it open (even read-only) keeps the
writer out, so a BI tool reading cdp.duckdb would stop dbt builds and syncs. After each successful build the
customer-360 schemas are copied into cdp_bi.duckdb next to the warehouse, which BI tools open read-only. The
copy is written to a temporary file in the same folder and renamed over the old one, so a reader sees the old
copy or the new one, never half of one; a reader that has the old file open keeps reading it.

PostgreSQL needs none of this: its readers see the last committed data while builds and syncs write (MVCC)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from reverse_etl.errors import ConfigError, WarehouseError
from reverse_etl.project import Target
from reverse_etl.warehouse import Warehouse, quote, utc_now

# The schemas of dbt_project.yml that BI users read: the marts, the segments and the identity tables.
BI_SCHEMAS = ("marts", "segments", "identity")
PATH_ENV = "CDP_BI_DUCKDB_PATH"
ALIAS = "cdp_bi_publish"


@dataclass(frozen=True)
class Published:
    path: Path
    tables: int
    rows: int
    seconds: float

    def describe(self) -> str:
        return (
            f"published {self.tables} tables ({self.rows:,} rows) of {', '.join(BI_SCHEMAS)} "
            f"to {self.path} in {self.seconds:.2f}s"
        )


def bi_path(target: Target) -> Path:
    """$CDP_BI_DUCKDB_PATH, else <warehouse name>_bi.duckdb beside the warehouse file."""
    configured = os.environ.get(PATH_ENV)
    warehouse_file = Path(target.path).resolve()
    path = (
        Path(configured).resolve()
        if configured
        else warehouse_file.with_name(f"{warehouse_file.stem}_bi.duckdb")
    )
    if path == warehouse_file:
        raise ConfigError(f"{PATH_ENV}={configured} is the warehouse itself; name another file")
    if not path.parent.is_dir():
        raise ConfigError(f"{PATH_ENV}={configured}: folder {path.parent} does not exist")
    return path


def publish(warehouse: Warehouse) -> Published | None:
    """Copy every table and view of BI_SCHEMAS (views as tables) in one read transaction, so the copy is one
    consistent state of the warehouse. None on PostgreSQL, where BI users read the warehouse itself."""
    if warehouse.kind != "duckdb":
        return None
    started = time.perf_counter()
    final = bi_path(warehouse.target)
    if Path(f"{final}.wal").exists():
        raise WarehouseError(
            f"{final}.wal exists: a process opened the published copy for writing; BI tools must open "
            f"{final.name} read-only (close that process, then publish again)"
        )
    markers = ", ".join("?" for _ in BI_SCHEMAS)
    tables = warehouse.query(
        "select table_schema, table_name from information_schema.tables "  # noqa: S608 - markers only
        f"where table_catalog = current_database() and table_schema in ({markers}) order by 1, 2",
        BI_SCHEMAS,
    )
    if not tables:
        raise WarehouseError(
            f"nothing to publish: {warehouse.target.describe()} has no tables in {', '.join(BI_SCHEMAS)}; "
            "run `cdp build` first"
        )
    catalog = quote(str(warehouse.query("select current_database()")[0][0]))
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    for leftover in final.parent.glob(f".{final.name}.*.tmp"):
        _remove(leftover)  # a publish that died; none can be running, as it would hold the warehouse
    rows = 0
    warehouse.execute(f"attach ? as {ALIAS}", [str(temporary)])
    try:
        with warehouse.transaction():
            for schema in sorted({schema for schema, _ in tables}):
                warehouse.execute(f"create schema {ALIAS}.{quote(schema)}")
            for schema, table in tables:
                name = f"{quote(schema)}.{quote(table)}"
                warehouse.execute(f"create table {ALIAS}.{name} as select * from {catalog}.{name}")  # noqa: S608
                rows += int(warehouse.query(f"select count(*) from {ALIAS}.{name}")[0][0])  # noqa: S608
            warehouse.execute(
                f"create table {ALIAS}.main.cdp_published as select ?::timestamp as published_at, "
                "?::varchar as source, ?::integer as tables",
                [utc_now(), warehouse.target.describe(), len(tables)],
            )
        warehouse.execute(f"detach {ALIAS}")
        os.replace(temporary, final)
    except BaseException:
        try:
            warehouse.execute(f"detach database if exists {ALIAS}")
        finally:
            _remove(temporary)
        raise
    _sync_folder(final.parent)
    return Published(final, len(tables), rows, time.perf_counter() - started)


def publish_and_describe(target: Target) -> str:
    """`cdp publish`: one line saying what was published, or why PostgreSQL needs no copy."""
    from reverse_etl.serve.health import busy_error  # the serve package imports this module

    warehouse = Warehouse(target)
    try:
        published = publish(warehouse)
    except WarehouseError as error:
        raise busy_error(target, error) from error
    finally:
        warehouse.close()
    if published is None:
        return (
            f"nothing to publish on {target.describe()}: PostgreSQL readers see the last committed data while "
            "builds and syncs write (MVCC); point BI tools at the warehouse"
        )
    return published.describe()


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}.wal")):
        leftover.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (DuckDB already synced the file's contents when it detached)."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
