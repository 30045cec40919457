"""The status page over HTTP: GET /, /api/status and /healthz, nothing that changes state.

Served on loopback by default. Any other address needs a token (CDP_SERVE_TOKEN): every request but /healthz
then needs `Authorization: Bearer <token>`. The Host header must name this server (a page on another site
that rebinds its DNS name to 127.0.0.1 sends its own name and is refused), and every response carries headers
that keep it out of frames, caches and other origins' reach."""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from reverse_etl.errors import CdpError, ConfigError
from reverse_etl.project import Target
from reverse_etl.serve.health import probe
from reverse_etl.serve.page import STYLE_HASH, render_page, status_document
from reverse_etl.serve.scheduler import Scheduler
from reverse_etl.sync.config import SyncConfig

TOKEN_ENV = "CDP_SERVE_TOKEN"
MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names to recognise, not to bind
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src '{STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
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
    """Who may read the status page: the token (never shown: repr leaves it out) and the Host names served."""

    host_names: frozenset[str]
    any_address: bool = False
    token: str | None = field(default=None, repr=False)

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

    def token_matches(self, authorization: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, credentials = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        )


def access_for(
    host: str, allowed_hosts: Iterable[str] = (), environ: Mapping[str, str] = os.environ
) -> Access:
    """Refuses, before anything listens, a non-loopback address without a token, and a token too short."""
    token = environ.get(TOKEN_ENV, "").strip() or None
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{TOKEN_ENV} must be at least {MIN_TOKEN_LENGTH} characters; use a random one "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"--host {host} is not a loopback address: set {TOKEN_ENV} so every request needs "
            f"'Authorization: Bearer <token>', or serve on 127.0.0.1 (the default)"
        )
    names = set(LOOPBACK_NAMES) | {name.strip().lower().rstrip(".") for name in allowed_hosts if name.strip()}
    if host not in WILDCARDS:
        names.add(host.strip("[]").lower().rstrip("."))
    return Access(frozenset(names), any_address=host in WILDCARDS, token=token)


def _health(target: Target, access: Access) -> tuple[int, str]:
    """/healthz: 200 ok, or 503 with one line. Unauthenticated, so with a token set it names the state only."""
    state, reason = probe(target)
    if state == "ok":
        return 200, "ok"
    line = "warehouse busy" if state == "busy" else "warehouse unreadable"
    return 503, line if access.token else f"{line}: {reason}"


def make_status_server(
    target: Target,
    syncs: dict[str, SyncConfig],
    scheduler: Scheduler | None,
    host: str = "127.0.0.1",
    port: int = 8787,
    access: Access | None = None,
) -> ThreadingHTTPServer:
    allowed = access or access_for(host)

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True
        server_version = "cdp"
        sys_version = ""
        timeout = 30  # a client that stops sending does not hold a thread for ever

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            path = urlsplit(self.path).path
            if not allowed.host_allowed(self.headers.get("Host")):
                self._send(421, "application/json", b'{"error": "unknown Host"}')
                return
            if path == "/healthz":
                status, line = _health(target, allowed)
                self._send(status, "text/plain; charset=utf-8", line.encode())
                return
            if not allowed.token_matches(self.headers.get("Authorization")):
                self._send(
                    401, "application/json", b'{"error": "unauthorized"}', {"WWW-Authenticate": "Bearer"}
                )
                return
            try:
                if path == "/api/status":
                    body = json.dumps(status_document(target, syncs, scheduler), default=str).encode()
                    self._send(200, "application/json", body)
                elif path == "/":
                    page = render_page(status_document(target, syncs, scheduler))
                    self._send(200, "text/html; charset=utf-8", page.encode())
                else:
                    self._send(404, "application/json", b'{"error": "not found"}')
            except CdpError as error:
                self._send(503, "application/json", json.dumps({"error": str(error)}).encode())

        def end_headers(self) -> None:
            """Every response, errors the stdlib writes included, carries the security headers."""
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            super().end_headers()

        def _send(
            self, status: int, content_type: str, body: bytes, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    try:
        return Server((host.strip("[]"), port), Handler)
    except OSError as error:
        raise ConfigError(
            f"--host {host} --port {port}: cannot listen there ({error.strerror or error})"
        ) from error
