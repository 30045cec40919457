"""One HTTP layer for every destination: sessions with timeouts and a User-Agent, retries with
exponential backoff and jitter that honour Retry-After, and a token-bucket rate limiter shared by
every client of one destination account."""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import requests

from reverse_etl import __version__
from reverse_etl.errors import DestinationAuthError, FatalDestinationError, RetryableDestinationError
from reverse_etl.secrets import redact_all, redact_text
from reverse_etl.secrets import register as register_secret
from reverse_etl.sync.recording import note_request

USER_AGENT = f"cdp-reverse-etl/{__version__}"
SECRET_HEADERS = {
    "authorization",
    "api-key",
    "x-api-key",
    "x-auth-token",
    "cookie",
    "developer-token",
    "ttd-auth",
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class HttpRequest:
    """A request as data: what is sent, and what a dry run prints (with secrets masked)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: bytes | str | None = None

    def carries_credential(self) -> bool:
        return any(name.lower() in SECRET_HEADERS for name in self.headers)

    def masked(self) -> HttpRequest:
        """The request as it may be shown: credential headers replaced, and every registered secret masked
        in the URL, the parameters and a text body (a token put into a URL through ${NAME})."""
        headers = {
            name: ("***" if name.lower() in SECRET_HEADERS else redact_text(value))
            for name, value in self.headers.items()
        }
        params = redact_all(dict(self.params)) if self.params else self.params
        data = redact_text(self.data) if isinstance(self.data, str) else self.data
        return replace(self, url=redact_text(self.url), headers=headers, params=params, data=data)

    def describe(self) -> str:
        """A printable form: method, url, headers (masked) and body."""
        shown = self.masked()
        lines = [f"{shown.method} {shown.url}"]
        if shown.params:
            lines[0] += "?" + "&".join(f"{key}={value}" for key, value in shown.params.items())
        lines += [f"{name}: {value}" for name, value in shown.headers.items()]
        if shown.json is not None:
            lines.append(redact_text(json.dumps(shown.json, indent=2, sort_keys=True, default=str)))
        elif shown.data is not None:
            lines.append(shown.data if isinstance(shown.data, str) else f"<{len(shown.data)} bytes>")
        return "\n".join(lines)


class TokenBucket:
    """`capacity` tokens refilled continuously at `rate` per second; acquire() blocks until one is free."""

    def __init__(
        self,
        requests_per_period: int,
        period_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        burst: int | None = None,
    ):
        self.capacity = float(burst or requests_per_period)
        self.rate = requests_per_period / period_seconds
        self._tokens = self.capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            sleep(wait)


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def shared_bucket(
    account_key: str, requests_per_period: int, period_seconds: float, burst: int | None = None
) -> TokenBucket:
    """The one bucket for a destination account, shared across syncs and threads of this process."""
    with _buckets_lock:
        bucket = _buckets.get(account_key)
        if bucket is None:
            bucket = _buckets[account_key] = TokenBucket(requests_per_period, period_seconds, burst=burst)
        return bucket


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # Give up on one request after this long, however many attempts remain.
    deadline_seconds: float = 300.0

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Delay before attempt `attempt + 1`: Retry-After when the server gave one, else full jitter."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def new_session(user_agent: str = USER_AGENT) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    return session


class HttpClient:
    """Sends HttpRequests with rate limiting and classified retries.

    2xx (including 207 multi-status) returns the response. 429 is always retried (the request was not
    processed); 5xx, timeouts and connection errors are retried only for idempotent writes or safe
    methods; a refused credential (401, or 403 to a request carrying one) raises DestinationAuthError, which
    stops the run; any other 4xx raises FatalDestinationError at once with the status and body.
    `destination` names the destination in those messages (by default the URL's host)."""

    def __init__(
        self,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        bucket: TokenBucket | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_after_header: str = "Retry-After",
        destination: str = "",
    ) -> None:
        self.destination = destination
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.bucket = bucket
        self.session = session or new_session()
        self.sleep = sleep
        self.retry_after_header = retry_after_header
        self.stats = {"requests": 0, "retries": 0, "throttled": 0}

    def send(self, request: HttpRequest, idempotent: bool = False) -> requests.Response:
        started = time.monotonic()
        may_retry_unprocessed_failures = idempotent or request.method.upper() in SAFE_METHODS
        attempt = 0
        note_request(request)
        for name, value in request.headers.items():
            # Whatever credential goes out is masked in anything stored or shown, even if the vendor echoes it.
            if name.lower() in SECRET_HEADERS:
                register_secret(value)
        while True:
            if self.bucket is not None:
                self.bucket.acquire(self.sleep)
            self.stats["requests"] += 1
            retry_after: float | None = None
            try:
                response = self.session.request(
                    request.method,
                    request.url,
                    headers=dict(request.headers),
                    params=request.params,
                    json=request.json,
                    data=request.data,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                failure = f"{request.method} {redact_text(request.url)}: {type(error).__name__}"
                status: int | None = None
                body = ""
                retryable = may_retry_unprocessed_failures
            else:
                status = response.status_code
                if status < 400:
                    return response
                # An error body may echo what was sent (an Authorization header, a URL with a token).
                body = redact_text(response.text[:2000])
                failure = f"{request.method} {redact_text(request.url)}: HTTP {status}"
                # 401 refuses the credential; so does a 403 to a request that carried one (a 403 to a pre-signed
                # upload URL, which carries none, is about that URL).
                if status == 401 or (status == 403 and request.carries_credential()):
                    raise DestinationAuthError(self._refusal(request, status, body), status=status, body=body)
                if status not in RETRYABLE_STATUSES:
                    raise FatalDestinationError(f"{failure}: {body[:300]}", status=status, body=body)
                retryable = status == 429 or may_retry_unprocessed_failures
                retry_after = parse_retry_after(response.headers.get(self.retry_after_header))
                if status == 429:
                    self.stats["throttled"] += 1
            attempt += 1
            elapsed = time.monotonic() - started
            if not retryable:
                raise RetryableDestinationError(
                    f"{failure} (not retried: the write may have been applied)", status=status, body=body
                )
            if attempt >= self.retry.max_attempts or elapsed >= self.retry.deadline_seconds:
                raise RetryableDestinationError(
                    f"{failure} after {attempt} attempts", status=status, body=body
                )
            self.stats["retries"] += 1
            self.sleep(self.retry.backoff(attempt - 1, retry_after))

    def _refusal(self, request: HttpRequest, status: int, body: str) -> str:
        """One line: which destination refused the credential, where, and the start of its answer."""
        answer = " ".join(body.split())[:300]
        name = self.destination or f"the destination at {urlsplit(request.url).netloc}"
        return (
            f"{name} refused the credential (HTTP {status} to {request.method} {urlsplit(request.url).path}): "
            f"{answer or 'no answer'}; the run stopped, rows not sent stay pending: fix the credential and run again"
        )
