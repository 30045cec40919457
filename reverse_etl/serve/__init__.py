"""`cdp serve`: the long-running scheduler (cron expressions, or "after_dbt" to run right after each
scheduled dbt build) and the web app (reverse_etl.web: pages, JSON API, profile API) in one process, on
127.0.0.1 unless auth is configured.

schedule: what a schedule may be and when it is due; scheduler: the loop and its busy state (its run events
and alerts: reverse_etl.alerts); watch: syncs declared or edited while it runs are picked up at the next check;
page: what the overview shows; health: can the warehouse be read."""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import Any

from reverse_etl.project import Target
from reverse_etl.serve.page import status_document
from reverse_etl.serve.schedule import AFTER_DBT, is_due, schedule_errors, validate_schedule
from reverse_etl.serve.scheduler import Scheduler
from reverse_etl.sync.config import SyncConfig

__all__ = [
    "AFTER_DBT",
    "Scheduler",
    "is_due",
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
    allowed_hosts: Iterable[str] = (),
) -> None:
    """Scheduler in the foreground, the web app in a thread; SIGTERM / SIGINT stop both after the current
    batch. Auth, alerts and the listening socket are all checked before the first run."""
    from reverse_etl.alerts import Alerts, AlertSettings, emit
    from reverse_etl.project import project_dir
    from reverse_etl.serve.watch import ProjectWatch
    from reverse_etl.web import AppServer, make_app
    from reverse_etl.web.app import profile_routes
    from reverse_etl.web.auth import auth_from_environment
    from reverse_etl.web.context import WebContext
    from reverse_etl.web.security import access_for

    auth = auth_from_environment()
    access = access_for(host, auth, allowed_hosts)
    scheduler = Scheduler(
        target, syncs, dbt_schedule=dbt_schedule, alerts=Alerts(AlertSettings.from_environment())
    )
    extra, close_profiles, problem = profile_routes(syncs)
    if problem:
        emit("notice", message=problem)
    found = WebContext(target, syncs, scheduler, auth)
    app = make_app(found, access, extra, close_profiles)
    watch = ProjectWatch(found, project_dir())
    server = AppServer(app, host, port).start()

    def stop(signum: int, frame: Any) -> None:
        scheduler.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        scheduler.run_forever(interval, before_tick=watch.check)
    finally:
        server.stop()
        scheduler.alerts.flush()
