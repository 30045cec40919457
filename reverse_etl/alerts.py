"""Run events and alerts, for every run: the syncs and dbt builds `cdp serve` starts, `cdp sync run` /
`retry-rejects` and `cdp build`. Each run writes one JSON line when it starts and one when it ends (with its
counts): on stdout under `cdp serve` (its log), on stderr from the other commands (their stdout is for
people). A run that calls for an alert (`alert_for`, the one rule) also posts a Slack-compatible message
({"text", "blocks"}) to a webhook and writes an "alert" line. Configured from the environment:

    CDP_ALERT_WEBHOOK_URL="https://hooks.example.com/..."   (a secret: never logged or shown)
    CDP_ALERT_REJECT_SHARE=0.05                              (default 0.05: more than 5% of sent rows)

The webhook never holds up or fails a run: alerts are posted in order by a thread of their own, with a timeout
of 5 seconds per attempt and no new attempt after 10 seconds; a webhook that is down, slow or refuses the post
is logged as an "alert_failed" line (its URL masked). A command waits for its alerts at its end, at most 16
seconds; `cdp serve` never waits."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reverse_etl import secrets
from reverse_etl.errors import CdpError, ConfigError, PartialFailure, RefusedRun, RunLocked
from reverse_etl.http import HttpClient, HttpRequest, RetryPolicy
from reverse_etl.sync.run import RunSummary

WEBHOOK_ENV = "CDP_ALERT_WEBHOOK_URL"
SHARE_ENV = "CDP_ALERT_REJECT_SHARE"
DEFAULT_SHARE = 0.05
TIMEOUT_SECONDS = 5.0  # one attempt to post an alert
DEADLINE_SECONDS = 10.0  # every attempt of one alert
MAX_PENDING = 20  # alerts queued or being posted; past that an alert is only logged (a webhook that hangs)
BUILD_SUBJECT = "cdp dbt build"
_stream_lock = threading.Lock()
T = TypeVar("T")


def emit(event: str, to_stderr: bool = False, **values: Any) -> None:
    """One JSON line on stdout (or stderr), secrets masked."""
    document = {"event": event, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **values}
    line = secrets.redact_text(json.dumps(document, default=str, sort_keys=False))
    stream = sys.stderr if to_stderr else sys.stdout
    with _stream_lock:
        stream.write(line + "\n")
        stream.flush()


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = field(default=None, repr=False)
    reject_share: float = DEFAULT_SHARE

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> AlertSettings:
        url = environ.get(WEBHOOK_ENV, "").strip() or None
        if url is not None and not url.startswith(("https://", "http://")):
            raise ConfigError(f"{WEBHOOK_ENV} must be an http(s) URL")
        text = environ.get(SHARE_ENV, "").strip()
        try:
            share = float(text) if text else DEFAULT_SHARE
        except ValueError:
            share = -1.0
        if not 0 <= share <= 1:
            raise ConfigError(f"{SHARE_ENV}={text!r}: give a share between 0 and 1, e.g. 0.05 for 5%")
        secrets.register(url)
        return cls(url, share)


def alert_for(
    summary: RunSummary | None, error: CdpError | None, reject_share: float
) -> tuple[str, str] | None:
    """The alert rule, for `cdp serve` and the CLI alike: (kind, detail) for a sync run that calls for an alert,
    else None. A run that failed or was refused by the blast-radius guard does; so does one whose rejected
    share of the rows it sent is above `reject_share`. A run that found its sync running already does not."""
    if summary is None:
        if error is None or isinstance(error, RunLocked):
            return None
        return ("refused" if isinstance(error, RefusedRun) else "failed"), str(error)
    if summary.status == "failed":
        return "failed", str(error or summary.describe())
    if summary.sent and summary.rejected / summary.sent > reject_share:
        return (
            "rejects",
            f"{summary.rejected:,} of {summary.sent:,} rows rejected "
            f"({summary.rejected / summary.sent:.0%}, threshold {reject_share:.0%})",
        )
    return None


def message(subject: str, kind: str, detail: str) -> dict[str, Any]:
    """The Slack-compatible body: `text` for any receiver, `blocks` for Slack's layout."""
    titles = {
        "failed": "failed",
        "refused": "was refused by the blast-radius guard",
        "rejects": "rejected more rows than allowed",
    }
    return {
        "text": f"{subject} {titles[kind]}: {detail}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"{subject}: {kind}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": detail[:2900]}},
        ],
    }


@dataclass
class Alerts:
    settings: AlertSettings = field(default_factory=AlertSettings)
    # Where the JSON lines go: stdout under `cdp serve` (a log), stderr from the CLI (stdout is for people).
    to_stderr: bool = False
    timeout_seconds: float = TIMEOUT_SECONDS
    deadline_seconds: float = DEADLINE_SECONDS
    _queue: deque[tuple[dict[str, Any], str, str, dict[str, Any]]] = field(default_factory=deque, repr=False)
    _unfinished: int = field(default=0, repr=False)
    _worker: threading.Thread | None = field(default=None, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def emit(self, event: str, **values: Any) -> None:
        emit(event, self.to_stderr, **values)

    def send(self, subject: str, kind: str, detail: str, **about: Any) -> None:
        """Log the alert, and queue it for the webhook: it is posted by a thread of its own, in order, and the
        run goes on at once."""
        detail = secrets.redact_text(detail)
        self.emit("alert", subject=subject, **about, kind=kind, detail=detail)
        if not self.settings.webhook_url:
            return
        with self._changed:
            full = self._unfinished >= MAX_PENDING
            if not full:
                self._queue.append((message(subject, kind, detail), subject, kind, about))
                self._unfinished += 1
                if self._worker is None:
                    self._worker = threading.Thread(target=self._deliver, name="cdp-alerts", daemon=True)
                    self._worker.start()
                self._changed.notify_all()
        if full:
            error = f"{MAX_PENDING} alerts are still waiting for the webhook; this one is only logged"
            self.emit("alert_failed", subject=subject, **about, kind=kind, error=error)

    def _deliver(self) -> None:
        """The sender: posts what is queued, one at a time; ends when nothing came for a few seconds."""
        http = HttpClient(
            timeout=self.timeout_seconds,
            retry=RetryPolicy(max_attempts=3, base_delay=0.2, deadline_seconds=self.deadline_seconds),
            destination="the alert webhook",
        )
        while True:
            with self._changed:
                if not self._queue:
                    self._changed.wait(timeout=5)
                if not self._queue:
                    self._worker = None
                    return
                body, subject, kind, about = self._queue.popleft()
            try:
                http.send(HttpRequest("POST", str(self.settings.webhook_url), json=body), idempotent=True)
            except Exception as error:  # noqa: BLE001 - an alert that cannot be posted is logged, never raised
                self.emit("alert_failed", subject=subject, **about, kind=kind, error=str(error))
            with self._changed:
                self._unfinished -= 1
                self._changed.notify_all()

    def waiting(self) -> int:
        """Alerts queued or being posted."""
        with self._changed:
            return self._unfinished

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for the queued alerts, at most `timeout` seconds (by default as long as one alert can take: its
        deadline, a last attempt's timeout and a second). True when all were posted or failed; else what is
        left is logged as not posted."""
        longest = self.deadline_seconds + self.timeout_seconds + 1
        deadline = time.monotonic() + (longest if timeout is None else timeout)
        with self._changed:
            while self._unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            left = self._unfinished
        if left:
            self.emit("alert_failed", error=f"{left} alerts not posted: the webhook did not answer in time")
        return not left

    def observed(
        self,
        sync_name: str,
        trigger: str,
        run: Callable[[], RunSummary],
        postpone: Callable[[CdpError], bool] = lambda error: False,
    ) -> RunSummary:
        """Run it between its start and end lines and alert when it calls for one; its errors are raised
        after that. Those `postpone` says will pass (a warehouse busy for a moment) end the run as
        "postponed" with no alert; a run that found its sync running already ends as "not started"."""
        self.emit("run_start", sync=sync_name, trigger=trigger)
        started = time.monotonic()
        try:
            summary = run()
        except PartialFailure as partial:
            self._ended(sync_name, started, partial.summary, partial)
            raise
        except RunLocked as locked:
            self.emit("run_end", sync=sync_name, status="not started", error=str(locked))
            raise
        except CdpError as failure:
            if postpone(failure):
                self.emit("run_end", sync=sync_name, status="postponed", error=str(failure))
            else:
                self._ended(sync_name, started, None, failure)
            raise
        self._ended(sync_name, started, summary, None)
        return summary

    def _ended(
        self, sync_name: str, started: float, summary: RunSummary | None, error: CdpError | None
    ) -> None:
        counts = (
            {
                "status": summary.status,
                "model_rows": summary.diff.model_rows,
                "sent": summary.sent,
                "confirmed": summary.confirmed,
                "rejected": summary.rejected,
                "skipped": summary.skipped,
            }
            if summary is not None
            else {"status": "refused" if isinstance(error, RefusedRun) else "failed"}
        )
        self.emit(
            "run_end",
            sync=sync_name,
            duration_seconds=round(time.monotonic() - started, 3),
            **counts,
            error=str(error) if error is not None and summary is None else None,
        )
        found = alert_for(summary, error, self.settings.reject_share)
        if found is not None:
            self.send(f"cdp sync {sync_name}", *found, sync=sync_name)

    def observe(
        self,
        sync_name: str,
        trigger: str,
        run: Callable[[], RunSummary],
        postpone: Callable[[CdpError], bool] = lambda error: False,
    ) -> str:
        """The scheduler's form of `observed`: one line for its log, errors reported rather than raised (the
        loop goes on), except those `postpone` says will pass, which are raised."""
        try:
            return self.observed(sync_name, trigger, run, postpone).describe()
        except PartialFailure as partial:
            return (
                str(partial.summary.describe()) if partial.summary is not None else f"{sync_name}: {partial}"
            )
        except RunLocked as locked:
            return f"{sync_name}: {locked}"
        except CdpError as error:
            if postpone(error):
                raise
            return f"{sync_name}: {error}"

    def build(
        self, trigger: str, run: Callable[[], T], postpone: Callable[[CdpError], bool] = lambda error: False
    ) -> T:
        """The dbt build between its start and end lines; a failed build alerts, and its error is raised."""
        self.emit("build_start", trigger=trigger)
        started = time.monotonic()
        try:
            result = run()
        except CdpError as failure:
            postponed = postpone(failure)
            self.emit(
                "build_end",
                status="postponed" if postponed else "failed",
                duration_seconds=round(time.monotonic() - started, 3),
                error=str(failure),
            )
            if not postponed:
                self.send(BUILD_SUBJECT, "failed", str(failure))
            raise
        self.emit("build_end", status="passed", duration_seconds=round(time.monotonic() - started, 3))
        return result
