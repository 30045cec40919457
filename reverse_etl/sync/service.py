"""What the CLI and the scheduler call: load the project's syncs, run them, report state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reverse_etl.dbt import run_dbt
from reverse_etl.errors import ConfigError
from reverse_etl.project import Target, project_dir
from reverse_etl.sync import state
from reverse_etl.sync.config import SyncConfig, load_syncs
from reverse_etl.warehouse import Warehouse


def project_syncs(target: Target, root: Path | None = None, reparse: bool = True) -> dict[str, SyncConfig]:
    """The syncs declared in the project, read from a freshly parsed manifest."""
    root = root or project_dir()
    manifest = root / "target" / "manifest.json"
    if reparse or not manifest.exists():
        run_dbt(["parse", "--quiet"], target=target.name, root=root)
    return load_syncs(manifest, target.type)


def pick(syncs: dict[str, SyncConfig], name: str) -> SyncConfig:
    if name not in syncs:
        known = ", ".join(sorted(syncs)) or "none declared"
        raise ConfigError(f"no sync named '{name}' (declared: {known})")
    return syncs[name]


def status_rows(warehouse: Warehouse, syncs: dict[str, SyncConfig]) -> list[dict[str, object]]:
    """Per sync: rows confirmed at the destination, rows waiting on a reject, and the last run. Reads only: on a
    warehouse where no sync ran yet every sync has no rows and no run (nothing is created)."""
    ran = state.exists(warehouse)
    last_columns = ("started_at", "status", "confirmed", "rejected", "error", "dropped", "notes")
    selected = state.runs_select(set(warehouse.columns(state.SCHEMA, "runs")), last_columns) if ran else ""
    rows = []
    for name, sync in sorted(syncs.items()):
        synced, rejected = 0, 0
        last: list[tuple[Any, ...]] = []
        if ran:
            synced, rejected = warehouse.query(
                f"select count(*) filter (where status = 'synced'), count(*) filter (where status = 'rejected') "  # noqa: S608
                f"from {state.SCHEMA}.snapshots where sync_name = ?",
                (name,),
            )[0]
            last = warehouse.query(
                f"select {selected} from {state.SCHEMA}.runs "  # noqa: S608
                "where sync_name = ? order by started_at desc limit 1",
                (name,),
            )
        rows.append(
            {
                "sync": name,
                "model": sync.model,
                "destination": sync.destination,
                "mode": sync.mode.value,
                "schedule": sync.schedule,
                "error": sync.error,
                "synced_rows": int(synced),
                "pending_rejects": int(rejected),
                "last_run_at": str(last[0][0]) if last else None,
                "last_status": last[0][1] if last else None,
                "last_confirmed": last[0][2] if last else None,
                "last_rejected": last[0][3] if last else None,
                # Identifier values the destination could not use in the last run (their rows still went out).
                "last_dropped": last[0][5] if last else None,
                "last_notes": last[0][6] if last else None,
            }
        )
    return rows


def history_rows(warehouse: Warehouse, sync_name: str, limit: int = 20) -> list[tuple[Any, ...]]:
    if not state.exists(warehouse):
        return []
    selected = state.runs_select(set(warehouse.columns(state.SCHEMA, "runs")), state.RUN_COLUMNS)
    return warehouse.query(
        f"select {selected} from {state.SCHEMA}.runs where sync_name = ? "  # noqa: S608
        f"order by started_at desc limit {int(limit)}",
        (sync_name,),
    )


def reject_rows(warehouse: Warehouse, sync_name: str, limit: int = 20) -> list[tuple[object, ...]]:
    if not state.exists(warehouse):
        return []
    return warehouse.query(
        f"select record_key, attempts, last_error from {state.SCHEMA}.snapshots "  # noqa: S608
        f"where sync_name = ? and status = 'rejected' order by record_key limit {int(limit)}",
        (sync_name,),
    )


def last_started(warehouse: Warehouse, sync_name: str):
    """When the sync's latest run started, or None if it never ran."""
    if not state.exists(warehouse):
        return None
    rows = warehouse.query(
        f"select max(started_at) from {state.SCHEMA}.runs where sync_name = ?", (sync_name,)
    )
    return rows[0][0] if rows and rows[0][0] else None
