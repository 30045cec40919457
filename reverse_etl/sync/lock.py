"""One run per sync at a time, and one `cdp match` per warehouse (run_lock, the same mechanism). PostgreSQL: a session advisory lock (released by the server when the process
dies). DuckDB: an OS file lock (released by the kernel when the process dies), kept in a folder of the
system's temporary directory named after the database file, so no lock file litters a project checkout
(CDP_LOCK_DIR moves the folder)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from reverse_etl.errors import CdpError, RunLocked
from reverse_etl.warehouse import Warehouse


def _lock_number(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def lock_path(database: str, name: str) -> Path:
    """The lock file `name` of one DuckDB file (a sync's name): the same for every process that opens that file."""
    folder = Path(os.environ.get("CDP_LOCK_DIR") or Path(tempfile.gettempdir()) / "cdp-locks")
    folder.mkdir(parents=True, exist_ok=True)
    database_id = hashlib.sha256(os.path.realpath(database).encode()).hexdigest()[:16]
    return folder / f"{database_id}.{name}.lock"


@contextmanager
def sync_lock(warehouse: Warehouse, sync_name: str) -> Iterator[None]:
    refused = RunLocked(
        f"sync {sync_name} is already running (another run holds its lock); try again when it ends"
    )
    with run_lock(warehouse, f"cdp_sync:{sync_name}", sync_name, refused):
        yield


@contextmanager
def run_lock(warehouse: Warehouse, key: str, file_name: str, refused: CdpError) -> Iterator[None]:
    """Hold the lock `key` (PostgreSQL: an advisory lock of the warehouse's database) or `file_name` (DuckDB: a
    lock file of the database file, taken before the file is opened) while the block runs; `refused` when
    another process holds it. Never waits."""
    if warehouse.kind == "postgres":
        number = _lock_number(key)
        acquired = warehouse.query("select pg_try_advisory_lock(?)", (number,))[0][0]
        warehouse.commit()
        if not acquired:
            raise refused
        try:
            yield
        finally:
            warehouse.query("select pg_advisory_unlock(?)", (number,))
            warehouse.commit()
        return
    # thread_local=False: the lock belongs to the run, which may be released from another thread than took it.
    # No fallback to a lock file's mere existence: that would outlive a killed run and block the next one.
    lock = FileLock(
        lock_path(warehouse.target.path, file_name),
        thread_local=False,
        is_singleton=False,
        fallback_to_soft=False,
    )
    try:
        lock.acquire(timeout=0)
    except Timeout as error:
        raise refused from error
    try:
        yield
    finally:
        lock.release()
