"""What the overview page and /api/v1/status show: per sync state, rejects, recent runs, identity health, the
scheduler's log, and whether the warehouse is available, busy (another process holds it) or unreadable. Read in
one read-only transaction: a warehouse where no sync ran yet is shown as such, and nothing is created."""

from __future__ import annotations

from typing import Any

from reverse_etl.errors import CdpError, WarehouseError
from reverse_etl.project import Target
from reverse_etl.secrets import redact_all
from reverse_etl.serve.health import busy_reason, one_line
from reverse_etl.serve.scheduler import Scheduler
from reverse_etl.sync import state
from reverse_etl.sync.config import SyncConfig
from reverse_etl.sync.service import history_rows, reject_rows, status_rows
from reverse_etl.warehouse import Warehouse

COLUMNS = (
    "sync",
    "model",
    "destination",
    "mode",
    "schedule",
    "synced_rows",
    "pending_rejects",
    "last_run_at",
    "last_status",
)


def _config_rows(syncs: dict[str, SyncConfig]) -> list[dict[str, Any]]:
    """The syncs as declared, when their state cannot be read."""
    return [
        {
            "sync": name,
            "model": sync.model,
            "destination": sync.destination,
            "mode": sync.mode.value,
            "schedule": sync.schedule,
            **{key: None for key in COLUMNS[5:]},
            "rejects": [],
            "runs": [],
        }
        for name, sync in sorted(syncs.items())
    ]


def _read(warehouse: Warehouse, syncs: dict[str, SyncConfig]) -> dict[str, Any]:
    # One read-only transaction, never committed (closing the connection rolls it back): a page writes nothing.
    warehouse.execute(
        "set transaction read only" if warehouse.kind == "postgres" else "begin transaction read only"
    )
    # False on a warehouse where no sync ran yet: the page says so, and the state is created by the first run.
    document: dict[str, Any] = {"sync_state": state.exists(warehouse), "syncs": status_rows(warehouse, syncs)}
    for row in document["syncs"]:
        row["rejects"] = [
            {"record_key": key, "attempts": attempts, "error": error}
            for key, attempts, error in reject_rows(warehouse, str(row["sync"]), limit=10)
        ]
        row["runs"] = [
            {
                "run_id": r[0],
                "started_at": str(r[1]),
                "status": r[3],
                "confirmed": r[8],
                "rejected": r[9],
                "error": r[11],
                "dropped": r[12],
                "notes": r[13],
            }
            for r in history_rows(warehouse, str(row["sync"]), limit=5)
        ]
    try:
        health = warehouse.query(
            "select measure, measure_value from identity.identity_health order by measure"
        )
        document["identity_health"] = {measure: value for measure, value in health}
    except CdpError:
        document["identity_health"] = None
    return document


def status_document(
    target: Target, syncs: dict[str, SyncConfig], scheduler: Scheduler | None = None
) -> dict[str, Any]:
    """The scheduler's view, plus what the warehouse says now; a warehouse that cannot be read leaves the
    declared syncs without counts and says why, instead of failing the page."""
    scheduled = scheduler.status() if scheduler else {"warehouse_state": None, "log": []}
    document: dict[str, Any] = {"warehouse": target.describe(), **scheduled}
    warehouse = Warehouse(target)
    try:
        document.update(_read(warehouse, syncs))
    except WarehouseError as error:
        reason = busy_reason(error)
        document["warehouse_state"] = {
            **(document["warehouse_state"] or {}),
            "state": "busy" if reason else "unavailable",
            "reason": reason or one_line(error),
        }
        document["syncs"] = _config_rows(syncs)
        document["sync_state"] = None
        document["identity_health"] = None
    finally:
        warehouse.close()
    # Errors were masked when stored; state written by an earlier version may still carry a secret.
    return redact_all(document)
