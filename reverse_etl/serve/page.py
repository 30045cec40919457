"""What the status page and /api/status show: per sync state, rejects, recent runs, identity health, the
scheduler's log, and whether the warehouse is available, busy (another process holds it) or unreadable."""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

from reverse_etl.errors import CdpError, WarehouseError
from reverse_etl.project import Target
from reverse_etl.secrets import redact_all
from reverse_etl.serve.health import busy_reason, one_line
from reverse_etl.serve.scheduler import Scheduler
from reverse_etl.sync.config import SyncConfig
from reverse_etl.sync.service import history_rows, reject_rows, status_rows
from reverse_etl.warehouse import Warehouse

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin-bottom:2rem}"
    "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f2f2f2}h1{font-size:1.4rem}"
    "#warehouse-state{padding:.5rem .8rem;border:1px solid #c90;background:#fff4d6}"
)
# The page's only resource is its inline style: the Content-Security-Policy allows exactly that text.
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
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
    document: dict[str, Any] = {"syncs": status_rows(warehouse, syncs)}
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
        document["identity_health"] = None
    finally:
        warehouse.close()
    # Errors were masked when stored; state written by an earlier version may still carry a secret.
    return redact_all(document)


def _state_banner(state: dict[str, Any] | None) -> str:
    if not state or state.get("state") in {None, "ok", "unchecked"}:
        return ""
    escape = html.escape
    parts = [
        f"<strong>warehouse {escape(str(state['state']))}</strong>: {escape(str(state.get('reason', '')))}"
    ]
    if state.get("since"):
        parts.append(f"since {escape(str(state['since']))} UTC")
    if state.get("waiting"):
        parts.append("waiting to run: " + escape(", ".join(state["waiting"])))
    if state.get("next_attempt"):
        parts.append(f"next attempt {escape(str(state['next_attempt']))} UTC")
    return f'<p id="warehouse-state">{"; ".join(parts)}</p>'


def render_page(document: dict[str, Any]) -> str:
    escape = html.escape
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{escape(str(row[key]) if row[key] is not None else '')}</td>" for key in COLUMNS)
        + "</tr>"
        for row in document["syncs"]
    )
    rejects = "".join(
        f"<tr><td>{escape(row['sync'])}</td><td>{escape(str(reject['record_key']))}</td><td>{reject['attempts']}</td>"
        f"<td>{escape(str(reject['error']))}</td></tr>"
        for row in document["syncs"]
        for reject in row["rejects"]
    )
    health = document.get("identity_health")
    health_rows = (
        "".join(f"<tr><td>{escape(k)}</td><td>{v:,.0f}</td></tr>" for k, v in health.items())
        if health
        else "<tr><td>identity graph not built</td></tr>"
    )
    log = "".join(f"<li>{escape(line)}</li>" for line in document.get("log", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cdp status</title>
<style>{STYLE}</style></head>
<body><h1>cdp status &mdash; {escape(document["warehouse"])}</h1>{_state_banner(document.get("warehouse_state"))}
<h2>Syncs</h2><table id="syncs"><tr><th>sync</th><th>model</th><th>destination</th><th>mode</th><th>schedule</th>
<th>synced rows</th><th>rejected rows</th><th>last run</th><th>status</th></tr>{rows}</table>
<h2>Rejected rows</h2><table id="rejects"><tr><th>sync</th><th>record</th><th>attempts</th><th>error</th></tr>{rejects}</table>
<h2>Identity health</h2><table id="identity">{health_rows}</table>
<h2>Scheduler log</h2><ul>{log}</ul></body></html>"""
