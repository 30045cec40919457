"""Sessions, the login wall and CSRF. Requests carry a user in scope["state"]["user"]:

- a bearer token (`Authorization: Bearer $CDP_SERVE_TOKEN`) on any request: the token's operator; such a
  request carries no ambient credential, so it needs no CSRF token;
- else the logged-in user of the session cookie (signed, SameSite=Strict, HttpOnly, refused once that user
  logged out: context.Logouts): state-changing requests must then send the session's CSRF token (form field
  csrf_token or header X-CSRF-Token);
- else, when auth is configured, nothing: pages redirect to /login and the API answers 401. With no auth
  configured (loopback only) everyone is an anonymous viewer, and nothing can change state."""

from __future__ import annotations

import hmac
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from reverse_etl.web.auth import AuthSettings, User
from reverse_etl.web.context import ANONYMOUS, Logouts, csrf_token, user

PUBLIC_PREFIXES = ("/login", "/static/", "/healthz", "/api/v1/profiles/", "/api/v1/schema/")
CSRF_HEADER = "x-csrf-token"


def session_user(request: Request, auth: AuthSettings, logouts: Logouts) -> User | None:
    """The session's user, if it still exists with that role (a user removed from config is logged out) and
    the session was issued after that user's last logout (a logged-out cookie is dropped)."""
    name, role = request.session.get("user"), request.session.get("role")
    if not name:
        return None
    issued = request.session.get("issued")
    if logouts.revoked(str(name), issued if isinstance(issued, int) else 0):
        request.session.clear()
        return None
    if name == "token" and auth.token:
        return User("token", str(role))
    configured = auth.users.get(str(name))
    return configured if configured is not None and configured.role == role else None


class LoginWall:
    """Pure ASGI, inside the session middleware: decides who the request is, or refuses it."""

    def __init__(self, app: ASGIApp, auth: AuthSettings, logouts: Logouts) -> None:
        self.app = app
        self.auth = auth
        self.logouts = logouts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        found = self.auth.bearer_user(request.headers.get("authorization"))
        scope.setdefault("state", {})["via_bearer"] = found is not None
        if found is None:
            found = session_user(request, self.auth, self.logouts)
        if found is None and not self.auth.configured:
            found = ANONYMOUS
        scope["state"]["user"] = found
        if found is None and not path.startswith(PUBLIC_PREFIXES):
            response: Response
            if path.startswith("/api/"):
                response = JSONResponse(
                    {"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
            else:
                response = RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def refusal(request: Request, submitted: str | None) -> Response | None:
    """None when this user may change state with this request; else the 403 that says why."""
    who = user(request)
    if not who.may_operate:
        why = (
            "configure auth (docs/app.md) to run syncs from the app"
            if who is ANONYMOUS
            else f"'{who.name}' is a {who.role}; running syncs needs the operator role"
        )
        return JSONResponse({"error": why}, status_code=403)
    if request.scope.get("state", {}).get("via_bearer"):
        return None
    presented = submitted or request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(presented.encode(), csrf_token(request).encode()):
        return JSONResponse(
            {"error": "missing or wrong CSRF token; reload the page and try again"}, status_code=403
        )
    return None
