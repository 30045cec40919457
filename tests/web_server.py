"""Start the web app over a warehouse and syncs for a test: real uvicorn on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterable

from reverse_etl.project import Target
from reverse_etl.serve import Scheduler
from reverse_etl.serve.alerts import Alerts
from reverse_etl.sync.config import SyncConfig
from reverse_etl.web import AppServer, make_app
from reverse_etl.web.auth import AuthSettings
from reverse_etl.web.context import WebContext
from reverse_etl.web.security import access_for


def start_app(
    target: Target,
    syncs: dict[str, SyncConfig],
    auth: AuthSettings | None = None,
    scheduler: Scheduler | None = None,
    alerts: Alerts | None = None,
    allowed_hosts: Iterable[str] = (),
) -> AppServer:
    auth = auth or AuthSettings()
    scheduler = scheduler or Scheduler(target, syncs, alerts=alerts or Alerts())
    app = make_app(WebContext(target, syncs, scheduler, auth), access_for("127.0.0.1", auth, allowed_hosts))
    return AppServer(app).start()
