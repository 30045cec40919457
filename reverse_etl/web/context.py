"""What every page works with, kept on app.state.cdp: the warehouse target, the declared syncs, the scheduler
(which also runs the "run now" actions), who may log in, and the templates."""

from __future__ import annotations

import json
import secrets as random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from reverse_etl.errors import ConfigError
from reverse_etl.project import Target
from reverse_etl.serve.schedule import schedule_errors
from reverse_etl.serve.scheduler import Scheduler
from reverse_etl.sync.config import SyncConfig
from reverse_etl.sync.service import ParseWhen, project_syncs
from reverse_etl.web.auth import VIEWER, AuthSettings, User

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
ANONYMOUS = User("anonymous", VIEWER)


class LoginThrottle:
    """At most `limit` failed logins per client address in `window` seconds; then 429 until the oldest ages out."""

    def __init__(self, limit: int = 5, window: float = 900.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        now = time.monotonic()
        with self._lock:
            recent = [at for at in self._failures.get(client, []) if now - at < self.window]
            self._failures[client] = recent
            return self.window - (now - recent[0]) if len(recent) >= self.limit else 0.0

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(time.monotonic())


class Logouts:
    """When each user last logged out, kept by this process. A session issued before its user's last logout is
    refused, so a cookie copied from a browser stops working when that user logs out (in every browser: a
    logout ends all of that user's sessions). One entry per user name, so it is bounded by the configured
    users plus the token's operator. Forgotten when the process restarts: with CDP_SERVE_SESSION_SECRET set,
    a cookie of a session logged out before a restart works again until it expires (8 hours after login);
    change the secret to end every session at once."""

    def __init__(self) -> None:
        self._at: dict[str, int] = {}
        self._lock = threading.Lock()

    def log_out(self, name: str) -> None:
        with self._lock:
            self._at[name] = time.time_ns()

    def revoked(self, name: str, issued_ns: int) -> bool:
        with self._lock:
            at = self._at.get(name)
        return at is not None and issued_ns < at


@dataclass
class WebContext:
    target: Target
    syncs: dict[str, SyncConfig]
    scheduler: Scheduler
    auth: AuthSettings
    # Runs started from the app and not finished, by sync name.
    running: dict[str, threading.Thread] = field(default_factory=dict)
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    logouts: Logouts = field(default_factory=Logouts)

    def reload_syncs(self, root: Path, parse: ParseWhen) -> dict[str, SyncConfig]:
        """The project's syncs as the manifest declares them now, for the pages and the scheduler. Swapped in
        whole (a loop over the old set finishes on it); a set with an unusable schedule is refused and the old
        one kept."""
        syncs = project_syncs(self.target, root, parse=parse)
        problems = schedule_errors(syncs)
        if problems:
            raise ConfigError("; ".join(str(error) for error in problems.values()))
        self.syncs = syncs
        self.scheduler.syncs = syncs
        return syncs


def context(request: Request) -> WebContext:
    found: WebContext = request.app.state.cdp
    return found


def user(request: Request) -> User:
    found: User | None = request.scope.get("state", {}).get("user")
    return found or ANONYMOUS


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use; every state-changing form and session API call sends it."""
    token = request.session.get("csrf")
    if not token:
        token = random.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def json_response(document: Any, status_code: int = 200) -> Response:
    """JSON with dates and decimals as text."""
    body = json.dumps(document, default=str)
    return Response(body, status_code=status_code, media_type="application/json")


def warehouse_label(target: Target) -> str:
    """The warehouse as pages name it: the DuckDB file's name (not its folder), or PostgreSQL's database."""
    if target.type == "duckdb":
        return f"duckdb {Path(str(target.path)).name}"
    return f"postgres {target.dbname} on {target.host}"


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> Response:
    values.update(
        user=user(request),
        csrf_token=csrf_token(request),
        auth_configured=context(request).auth.configured,
        warehouse=warehouse_label(context(request).target),
        nav=request.app.state.nav,
    )
    return TEMPLATES.TemplateResponse(request, template, values, status_code=status_code)
