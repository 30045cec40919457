"""GET/POST /login (a token, or a user name and password) and POST /logout."""

from __future__ import annotations

import hmac
import time

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from reverse_etl.web.auth import User
from reverse_etl.web.context import ANONYMOUS, context, csrf_token, render, user


def _next(request: Request, value: object) -> str:
    """Only a path of this site: /login?next=https://elsewhere must not send a logged-in user away."""
    text = str(value or "/")
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else "/"


async def login_page(request: Request) -> Response:
    return render(request, "login.html", next=_next(request, request.query_params.get("next")), failed=False)


async def login(request: Request) -> Response:
    form = await request.form()
    auth = context(request).auth
    throttle = context(request).login_throttle
    client = request.client.host if request.client else "unknown"
    target = _next(request, form.get("next"))
    wait = throttle.wait_seconds(client)
    if wait:
        minutes = max(1, round(wait / 60))
        return render(request, "login.html", status_code=429, next=target, failed=False, wait_minutes=minutes)
    if not hmac.compare_digest(str(form.get("csrf_token", "")).encode(), csrf_token(request).encode()):
        return render(request, "login.html", status_code=403, next=target, failed=True)
    found: User | None
    if form.get("token"):
        found = auth.token_user(str(form.get("token")))
    else:
        found = auth.password_user(str(form.get("username", "")), str(form.get("password", "")))
    if found is None:
        throttle.failed(client)
        return render(request, "login.html", status_code=401, next=target, failed=True)
    request.session.clear()  # a fresh session (and CSRF token) at login: no fixation
    # When it was issued: a session older than its user's last logout is refused (context.Logouts).
    request.session.update({"user": found.name, "role": found.role, "issued": time.time_ns()})
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    """Ends the session, and on the server every session of its user issued so far: a copied cookie is refused."""
    form = await request.form()
    if hmac.compare_digest(str(form.get("csrf_token", "")).encode(), csrf_token(request).encode()):
        if request.session.get("user") and user(request) is not ANONYMOUS:
            context(request).logouts.log_out(user(request).name)
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
