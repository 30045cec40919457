"""Start the web app over a warehouse and syncs for a test: real uvicorn on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterable

from reverse_etl.alerts import Alerts
from reverse_etl.destinations.base import Mode
from reverse_etl.project import Target
from reverse_etl.serve import Scheduler
from reverse_etl.sync.config import Relation, SyncConfig
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


def webhook_sync(
    name: str,
    relation: Relation,
    primary_key: str,
    fields: dict[str, str],
    sink_url: str,
    token_env: str,
    batch_size: int,
    schedule: str | None = None,
) -> SyncConfig:
    """An upsert sync of `relation` to the sandbox webhook fake at `sink_url` (its token read from `token_env`)."""
    return SyncConfig(
        name=name,
        model=relation.name,
        relation=relation,
        destination="webhook",
        mode=Mode.UPSERT,
        primary_key=primary_key,
        fields=fields,
        options={"url": f"{sink_url}/records", "token_env": token_env, "batch_size": batch_size},
        schedule=schedule,
    )


class AlertReceiver:
    """A real local HTTP endpoint that keeps the JSON bodies posted to it (the alert webhook in tests)."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        """The bodies once at least `count` arrived (alerts are posted from a thread of their own)."""
        import time

        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
