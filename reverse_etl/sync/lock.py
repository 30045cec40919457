"""One run per sync at a time. PostgreSQL: a session advisory lock (released by the server when the
process dies). DuckDB: an OS file lock beside the database file (released by the kernel on exit)."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from reverse_etl.errors import SyncError
from reverse_etl.warehouse import Warehouse


def _lock_number(sync_name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"cdp_sync:{sync_name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def sync_lock(warehouse: Warehouse, sync_name: str) -> Iterator[None]:
    refused = SyncError(
        f"sync {sync_name} is already running (another run holds its lock); try again when it ends"
    )
    if warehouse.kind == "postgres":
        number = _lock_number(sync_name)
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
    path = f"{warehouse.target.path}.{sync_name}.lock"
    handle = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise refused from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)
