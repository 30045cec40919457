"""`cdp serve`: the long-running scheduler (cron expressions, or "after_dbt" to run right after each
scheduled dbt build) with a small status page and JSON API, on 127.0.0.1 unless a token is configured.

schedule: what a schedule may be and when it is due; scheduler: the loop and its busy state; page: what the
status page shows; http: the server, its access rules and headers; health: can the warehouse be read."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable
from typing import Any

from reverse_etl.project import Target
from reverse_etl.serve.http import Access, access_for, make_status_server
from reverse_etl.serve.page import render_page, status_document
from reverse_etl.serve.schedule import AFTER_DBT, is_due, schedule_errors, validate_schedule
from reverse_etl.serve.scheduler import Scheduler
from reverse_etl.sync.config import SyncConfig

__all__ = [
    "AFTER_DBT",
    "Access",
    "Scheduler",
    "access_for",
    "is_due",
    "make_status_server",
    "render_page",
    "schedule_errors",
    "serve",
    "status_document",
    "validate_schedule",
]


def serve(
    target: Target,
    syncs: dict[str, SyncConfig],
    host: str,
    port: int,
    interval: float,
    dbt_schedule: str | None,
    access: Access | None = None,
    allowed_hosts: Iterable[str] = (),
    profiles_port: int | None = None,
) -> None:
    """Scheduler in the foreground, status page in a thread, and the profile API in another when a
    profile_store sync is declared (reverse_etl.profiles.serving); SIGTERM / SIGINT stop them after the
    current batch."""
    access = access or access_for(host, allowed_hosts)
    if profiles_port is not None:
        from reverse_etl.profiles.serving import serve_in_thread

        serve_in_thread(syncs, host, profiles_port)
    scheduler = Scheduler(target, syncs, dbt_schedule=dbt_schedule)
    server = make_status_server(target, syncs, scheduler, host, port, access)
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
