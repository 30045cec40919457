"""The shared machinery of every fake: a threaded HTTP server, routing, JSON bodies, a vendor-shaped
rate limiter and seeded fault injection. Each vendor fake subclasses FakeService and declares routes."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        if not self.body:
            raise HttpError(400, {"message": "request body is empty"})
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise HttpError(400, {"message": f"body is not valid JSON: {error}"}) from error

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class HttpError(Exception):
    """Raised by a route to answer with a vendor-shaped error body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.response = Response(status, body, headers or {})


Route = Callable[[Request], Response]


@dataclass
class Faults:
    """Seeded fault injection: a share of requests answered with 429 / 5xx / a stall, and a share of
    records a vendor fake rejects individually (the vendor fake decides what a per-record reject looks like)."""

    seed: int = 0
    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 2.0
    record_reject_rate: float = 0.0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> float:
        with self._lock:
            return self._random.random()

    def reject_record(self, key: str) -> bool:
        """Deterministic per key, so a rejected record stays rejected on retry unless the rate changes."""
        if self.record_reject_rate <= 0:
            return False
        return random.Random(f"{self.seed}:{key}").random() < self.record_reject_rate


class WindowRateLimiter:
    """Fixed-window limiter, as most vendors document theirs: `limit` requests per `window_seconds`."""

    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._count = 0

    def allow(self) -> tuple[bool, float, int]:
        """(allowed, seconds until the window resets, requests remaining)."""
        with self._lock:
            now = self._clock()
            if now - self._window_start >= self.window:
                self._window_start, self._count = now, 0
            reset = self.window - (now - self._window_start)
            if self._count >= self.limit:
                return False, reset, 0
            self._count += 1
            return True, reset, self.limit - self._count


class FakeService:
    """Subclass per vendor: set `name`, register routes in `__init__` with `self.route(...)`, keep state,
    and override `check_auth` and `rate_limited` to answer exactly as the vendor does."""

    name = "fake"

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.lock = threading.RLock()
        self.requests_seen: list[tuple[str, str]] = []
        self.in_flight = 0
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []

    def route(self, method: str, pattern: str, handler: Route) -> None:
        """`pattern` is a path with `{name}` placeholders, e.g. `/3.0/lists/{list_id}`."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method.upper(), re.compile(f"^{regex}$"), handler))

    def environment(self, url: str) -> dict[str, str]:
        """Environment variables that point a sync's options and credentials at this fake, served at `url`."""
        return {}

    def check_auth(self, request: Request) -> None:
        """Raise HttpError with the vendor's 401 body when the credentials are missing or wrong."""

    def rate_limited(self, request: Request) -> Response | None:
        """The vendor's 429 response when over the limit, else None."""
        return None

    def injected_fault(self, request: Request) -> Response | None:
        """A 429 or 5xx drawn from the fault settings (vendor fakes may override the bodies)."""
        faults = self.faults
        if faults.throttle_rate == faults.server_error_rate == faults.timeout_rate == 0:
            return None
        draw = faults.draw()
        if draw < faults.throttle_rate:
            return Response(429, {"message": "rate limit exceeded (injected)"}, {"Retry-After": "0"})
        draw -= faults.throttle_rate
        if draw < faults.server_error_rate:
            return Response(503, {"message": "service unavailable (injected)"})
        draw -= faults.server_error_rate
        if draw < faults.timeout_rate:
            time.sleep(faults.timeout_seconds)
            return Response(504, {"message": "gateway timeout (injected)"})
        return None

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.in_flight += 1
        try:
            return self._route(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every request received so far is answered (a killed client's last request included)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)

    def _route(self, request: Request) -> Response:
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                try:
                    self.check_auth(request)
                    limited = self.rate_limited(request)
                    if limited is not None:
                        return limited
                    fault = self.injected_fault(request)
                    if fault is not None:
                        return fault
                    with self.lock:
                        self.requests_seen.append((request.method, request.path))
                    return handler(request)
                except HttpError as error:
                    return error.response
        return Response(404, {"message": f"no route for {request.method} {request.path}"})


class _Handler(BaseHTTPRequestHandler):
    # Without this a keep-alive client waits on Nagle + delayed ACK: ~22 requests/s instead of hundreds.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    service: FakeService

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        try:
            response = self.service.handle(request)
        except Exception as error:  # noqa: BLE001 - a bug in a fake must answer 500, not hang the client
            response = Response(500, {"message": f"fake server error: {type(error).__name__}: {error}"})
        payload = response.encode()
        self.send_response(response.status)
        headers = {"Content-Type": "application/json", **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return


class _Server(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5: a burst of clients on a loaded machine would see refused
    # connections that no vendor's load balancer gives. Vendors' own limits are enforced by the fakes instead.
    request_queue_size = 128


class FakeServer:
    """Runs a FakeService on 127.0.0.1 in a background thread. Use as a context manager."""

    def __init__(self, service: FakeService, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type(f"{service.name}Handler", (_Handler,), {"service": service})
        self.service = service
        self.httpd = _Server((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name=f"fake-{service.name}", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
