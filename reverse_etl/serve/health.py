"""Is the warehouse readable, and if not, is it only busy? DuckDB lets one process write a file, and a process
that opened it (even read-only, e.g. a BI tool) keeps every other process from opening it for writing."""

from __future__ import annotations

import re
from pathlib import Path

from reverse_etl.errors import WarehouseError
from reverse_etl.project import Target
from reverse_etl.warehouse import Warehouse

LOCK_HELD = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def busy_reason(error: BaseException) -> str | None:
    """One line when the error is DuckDB's file lock held by another process, else None."""
    text = str(error)
    if "Could not set lock on file" not in text:
        return None
    match = LOCK_HELD.search(text)
    holder = f" (PID {match['pid']}, {Path(match['program']).name})" if match else ""
    return f"another process holds the DuckDB file lock{holder}"


def one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def probe(target: Target) -> tuple[str, str]:
    """("ok", ""), ("busy", reason) or ("unreadable", reason), from one trivial query."""
    warehouse = Warehouse(target)
    try:
        warehouse.query("select 1")
    except WarehouseError as error:
        reason = busy_reason(error)
        return ("busy", reason) if reason else ("unreadable", one_line(error))
    finally:
        warehouse.close()
    return "ok", ""


def busy_error(target: Target, error: WarehouseError) -> WarehouseError:
    """For one-shot commands: the lock conflict said plainly, with where BI users should read instead."""
    reason = busy_reason(error)
    if reason is None:
        return error
    return WarehouseError(
        f"warehouse busy: {reason} on {target.path}; try again when it closes, and point BI tools at the "
        "published copy (`cdp publish`, docs/syncs.md)"
    )
