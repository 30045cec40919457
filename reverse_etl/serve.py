"""`cdp serve`: the long-running scheduler (cron expressions, or "after_dbt" to run right after each
scheduled dbt build) with a small status page and JSON API on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import html
import json
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from croniter import croniter

from reverse_etl.dbt import run_dbt
from reverse_etl.errors import CdpError, ConfigError
from reverse_etl.project import Target
from reverse_etl.sync import state
from reverse_etl.sync.config import SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.sync.service import history_rows, last_started, reject_rows, status_rows
from reverse_etl.warehouse import Warehouse

AFTER_DBT = "after_dbt"


def validate_schedule(sync: SyncConfig) -> None:
    if sync.schedule is None or sync.schedule == AFTER_DBT:
        return
    if not croniter.is_valid(sync.schedule):
        raise ConfigError(
            f"{sync.source_file}: exposures.{sync.name}.meta.cdp_sync.schedule: '{sync.schedule}' is not a cron "
            f"expression (e.g. '0 * * * *') or '{AFTER_DBT}'"
        )


def is_due(schedule: str, last_run_started: dt.datetime | None, now: dt.datetime) -> bool:
    """Due when the cron expression fired since the last run started (or the sync never ran)."""
    if last_run_started is None:
        return True
    previous_fire = croniter(schedule, now).get_prev(dt.datetime)
    return previous_fire > last_run_started


@dataclass
class Scheduler:
    target: Target
    syncs: dict[str, SyncConfig]
    dbt_schedule: str | None = None
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    stop: threading.Event = field(default_factory=threading.Event)
    log: list[str] = field(default_factory=list)
    last_dbt_build: dt.datetime | None = None

    def __post_init__(self) -> None:
        for sync in self.syncs.values():
            validate_schedule(sync)
        if self.dbt_schedule and not croniter.is_valid(self.dbt_schedule):
            raise ConfigError(f"--dbt-schedule '{self.dbt_schedule}' is not a cron expression")

    def tick(self) -> list[str]:
        """Run what is due now: the dbt build (then the after_dbt syncs), then cron syncs. Returns what ran."""
        ran: list[str] = []
        now = self.clock()
        warehouse = Warehouse(self.target)
        try:
            state.ensure_state(warehouse)
            dbt_due = self.dbt_schedule and is_due(self.dbt_schedule, self.last_dbt_build, now)
            if dbt_due:
                self.last_dbt_build = now
                try:
                    run_dbt(["build", "--quiet"], target=self.target.name)
                    ran.append("dbt build")
                except CdpError as error:
                    self.log.append(
                        f"{now:%Y-%m-%d %H:%M:%S} dbt build failed, syncs after it skipped: {error}"
                    )
                    dbt_due = False
            for name, sync in sorted(self.syncs.items()):
                if self.stop.is_set() or not sync.schedule:
                    continue
                due = (
                    dbt_due
                    if sync.schedule == AFTER_DBT
                    else is_due(sync.schedule, last_started(warehouse, name), now)
                )
                if not due:
                    continue
                try:
                    summary = run_sync(warehouse, sync, should_stop=self.stop.is_set)
                    self.log.append(f"{now:%Y-%m-%d %H:%M:%S} {summary.describe()}")
                except CdpError as error:
                    self.log.append(f"{now:%Y-%m-%d %H:%M:%S} {name}: {error}")
                ran.append(name)
        finally:
            warehouse.close()
        return ran

    def run_forever(self, interval: float = 30.0) -> None:
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(interval)


def status_document(
    target: Target, syncs: dict[str, SyncConfig], scheduler: Scheduler | None = None
) -> dict[str, Any]:
    warehouse = Warehouse(target)
    try:
        document: dict[str, Any] = {"warehouse": target.describe(), "syncs": status_rows(warehouse, syncs)}
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
        document["log"] = list(scheduler.log[-20:]) if scheduler else []
        return document
    finally:
        warehouse.close()


def render_page(document: dict[str, Any]) -> str:
    escape = html.escape
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(row[key]) if row[key] is not None else '')}</td>"
            for key in (
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
        )
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
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}table{{border-collapse:collapse;margin-bottom:2rem}}
td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}th{{background:#f2f2f2}}h1{{font-size:1.4rem}}</style></head>
<body><h1>cdp status &mdash; {escape(document["warehouse"])}</h1>
<h2>Syncs</h2><table id="syncs"><tr><th>sync</th><th>model</th><th>destination</th><th>mode</th><th>schedule</th>
<th>synced rows</th><th>rejected rows</th><th>last run</th><th>status</th></tr>{rows}</table>
<h2>Rejected rows</h2><table id="rejects"><tr><th>sync</th><th>record</th><th>attempts</th><th>error</th></tr>{rejects}</table>
<h2>Identity health</h2><table id="identity">{health_rows}</table>
<h2>Scheduler log</h2><ul>{log}</ul></body></html>"""


def make_status_server(
    target: Target,
    syncs: dict[str, SyncConfig],
    scheduler: Scheduler | None,
    host: str = "127.0.0.1",
    port: int = 8787,
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            try:
                if self.path == "/healthz":
                    self._send(200, "text/plain", b"ok")
                elif self.path == "/api/status":
                    body = json.dumps(status_document(target, syncs, scheduler), default=str).encode()
                    self._send(200, "application/json", body)
                elif self.path == "/":
                    self._send(
                        200,
                        "text/html; charset=utf-8",
                        render_page(status_document(target, syncs, scheduler)).encode(),
                    )
                else:
                    self._send(404, "application/json", b'{"error": "not found"}')
            except CdpError as error:
                self._send(503, "application/json", json.dumps({"error": str(error)}).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve(
    target: Target,
    syncs: dict[str, SyncConfig],
    host: str,
    port: int,
    interval: float,
    dbt_schedule: str | None,
) -> None:
    """Scheduler in the foreground, status page in a thread; SIGTERM / SIGINT stop both after the current batch."""
    scheduler = Scheduler(target, syncs, dbt_schedule=dbt_schedule)
    server = make_status_server(target, syncs, scheduler, host, port)
    threading.Thread(target=server.serve_forever, name="status-page", daemon=True).start()

    def stop(signum: int, frame: Any) -> None:
        scheduler.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        scheduler.run_forever(interval)
    finally:
        server.shutdown()
        server.server_close()
