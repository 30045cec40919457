"""dbt's partial-parse file, kept per warehouse.

dbt saves what it parsed in `partial_parse.msgpack` and parses only the changed files next time, but only if
the profile's connection is the one the file was written for: a DuckDB path or a PostgreSQL database name is
part of it, and so are the command line's `--vars`. A process that alternates between warehouses (the
scheduler building one project for several targets, the test suite, an engineer switching `--target`) paid a
full parse of the project on every switch. Each warehouse's file is kept beside dbt's own and put back before
dbt runs for that warehouse again; dbt still checks it in full (files, profile, vars) and parses again
whatever it no longer matches, so a kept file can only save work, never change a result."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARSE_FILE = "partial_parse.msgpack"
KEPT_FOLDER = "partial_parse_by_warehouse"
# The warehouses a process switches between are few; older files are removed (about 2 MB each).
KEEP_AT_MOST = 12


def _copy(source: Path, destination: Path) -> None:
    """Copy through a temporary name, so a reader never sees half a file."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}")
    shutil.copyfile(source, temporary)
    os.replace(temporary, destination)


def warehouse_key(connection: str, args: list[str]) -> str:
    """Which warehouse (and command line vars) a parse was for; never the password (connection is the
    target's printable description)."""
    variables = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--vars"]
    return hashlib.sha256("\0".join([connection, *variables]).encode()).hexdigest()[:16]


@contextmanager
def kept_per_warehouse(target_folder: Path, key: str) -> Iterator[None]:
    """Run dbt with this warehouse's last parse in place, and keep what dbt leaves for next time."""
    live = target_folder / PARSE_FILE
    kept = target_folder / KEPT_FOLDER / f"{key}.msgpack"
    try:
        if kept.is_file():
            _copy(kept, live)
    except OSError:
        pass  # no kept parse: dbt parses the project in full, as it would anyway
    try:
        yield
    finally:
        try:
            if live.is_file():
                _copy(live, kept)
                _forget_oldest(kept.parent)
        except OSError:
            pass


def _forget_oldest(folder: Path) -> None:
    files = sorted(folder.glob("*.msgpack"), key=lambda path: path.stat().st_mtime, reverse=True)
    for path in files[KEEP_AT_MOST:]:
        path.unlink(missing_ok=True)
