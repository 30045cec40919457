"""What every request meets before any page: the Host header must name this server (a page on another site
that rebinds its DNS name to 127.0.0.1 sends its own name and is refused with 421), and every response,
errors included, carries headers that keep it out of frames, caches and other origins' reach. The app
listens beyond loopback only when auth is configured (reverse_etl.web.auth)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reverse_etl.errors import ConfigError
from reverse_etl.web.auth import USERS_ENV, USERS_FILE_ENV, AuthSettings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names to recognise, not to bind
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Access:
    """The Host names this server answers to (any IP literal too on a wildcard address)."""

    host_names: frozenset[str]
    any_address: bool = False

    def host_allowed(self, header: str | None) -> bool:
        """The Host header's name (its port aside) is one this server answers to. On a wildcard address any IP
        literal is fine too: DNS rebinding needs a name of the attacker's, and those are refused."""
        if not header:
            return False
        text = header.strip().lower()
        if text.startswith("["):
            name = text[1 : text.find("]")] if "]" in text else ""
        else:
            name = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
        name = name.rstrip(".")
        return name in self.host_names or (self.any_address and _is_ip(name))


def access_for(host: str, auth: AuthSettings, allowed_hosts: Iterable[str] = ()) -> Access:
    """Refuses, before anything listens, a non-loopback address when no one has to log in."""
    if not auth.configured and not is_loopback(host):
        raise ConfigError(
            f"--host {host} is not a loopback address: configure auth first (CDP_SERVE_TOKEN, or users in "
            f"{USERS_ENV} / {USERS_FILE_ENV}), or serve on 127.0.0.1 (the default)"
        )
    names = set(LOOPBACK_NAMES) | {name.strip().lower().rstrip(".") for name in allowed_hosts if name.strip()}
    if host not in WILDCARDS:
        names.add(host.strip("[]").lower().rstrip("."))
    return Access(frozenset(names), any_address=host in WILDCARDS)


class GuardMiddleware:
    """Pure ASGI, outermost: the Host check, then the security headers on whatever the app answers."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode().lower() not in SECURITY_HEADERS
                ]
                message["headers"] = kept + [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            await send(message)

        if not self.access.host_allowed(headers.get("host")):
            body = b'{"error": "unknown Host"}'
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 421,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)
