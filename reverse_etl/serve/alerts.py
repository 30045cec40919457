"""Run events and alerts. Every run the service starts writes one JSON line on stdout when it starts and one
when it ends (with its counts); a run that fails, is refused by the blast-radius guard, or rejects more than
a configured share of what it sent also posts a Slack-compatible message ({"text", "blocks"}) to a webhook
and logs an "alert" line. Configured from the environment:

    CDP_ALERT_WEBHOOK_URL="https://hooks.example.com/..."   (a secret: never logged or shown)
    CDP_ALERT_REJECT_SHARE=0.05                              (default 0.05: more than 5% of sent rows)

A webhook that cannot be reached is logged as an "alert_failed" line; it never fails the run."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reverse_etl import secrets
from reverse_etl.errors import CdpError, ConfigError, PartialFailure, RefusedRun, RunLocked
from reverse_etl.http import HttpClient, HttpRequest, RetryPolicy
from reverse_etl.sync.run import RunSummary

WEBHOOK_ENV = "CDP_ALERT_WEBHOOK_URL"
SHARE_ENV = "CDP_ALERT_REJECT_SHARE"
DEFAULT_SHARE = 0.05
_stdout_lock = threading.Lock()


def emit(event: str, **values: Any) -> None:
    """One JSON line on stdout, secrets masked."""
    document = {"event": event, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **values}
    line = secrets.redact_text(json.dumps(document, default=str, sort_keys=False))
    with _stdout_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


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


def message(sync_name: str, kind: str, detail: str) -> dict[str, Any]:
    """The Slack-compatible body: `text` for any receiver, `blocks` for Slack's layout."""
    titles = {
        "failed": "failed",
        "refused": "was refused by the blast-radius guard",
        "rejects": "rejected more rows than allowed",
    }
    text = f"cdp sync {sync_name} {titles[kind]}: {detail}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"cdp sync {sync_name}: {kind}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": detail[:2900]}},
        ],
    }


@dataclass
class Alerts:
    settings: AlertSettings = field(default_factory=AlertSettings)
    http: HttpClient = field(
        default_factory=lambda: HttpClient(timeout=10, retry=RetryPolicy(max_attempts=3, deadline_seconds=30))
    )

    def send(self, sync_name: str, kind: str, detail: str) -> None:
        detail = secrets.redact_text(detail)
        emit("alert", sync=sync_name, kind=kind, detail=detail)
        if not self.settings.webhook_url:
            return
        request = HttpRequest("POST", self.settings.webhook_url, json=message(sync_name, kind, detail))
        try:
            self.http.send(request, idempotent=True)
        except CdpError as error:
            emit("alert_failed", sync=sync_name, kind=kind, error=str(error))

    def observe(
        self,
        sync_name: str,
        trigger: str,
        run: Callable[[], RunSummary],
        postpone: Callable[[CdpError], bool] = lambda error: False,
    ) -> str:
        """Run it between its start and end lines, alert when it calls for one; returns one line for the
        scheduler's log. Errors are reported, not raised (the loop goes on), except those `postpone` says
        will pass (a warehouse busy for a moment): they end the run as "postponed" and are raised."""
        emit("run_start", sync=sync_name, trigger=trigger)
        started = time.monotonic()
        summary: RunSummary | None = None
        error: CdpError | None = None
        try:
            summary = run()
        except PartialFailure as partial:
            summary, error = partial.summary, partial
        except RunLocked as locked:
            # Another run of this sync is going (the schedule and a "run now" met): not a failure.
            emit("run_end", sync=sync_name, status="not started", error=str(locked))
            return f"{sync_name}: {locked}"
        except CdpError as failure:
            if postpone(failure):
                emit("run_end", sync=sync_name, status="postponed", error=str(failure))
                raise
            error = failure
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
        emit(
            "run_end",
            sync=sync_name,
            duration_seconds=round(time.monotonic() - started, 3),
            **counts,
            error=str(error) if error is not None and summary is None else None,
        )
        if summary is None:
            kind = "refused" if isinstance(error, RefusedRun) else "failed"
            self.send(sync_name, kind, str(error))
            return f"{sync_name}: {error}"
        if summary.status == "failed":
            self.send(sync_name, "failed", str(error or summary.describe()))
        elif summary.sent and summary.rejected / summary.sent > self.settings.reject_share:
            self.send(
                sync_name,
                "rejects",
                f"{summary.rejected:,} of {summary.sent:,} rows rejected "
                f"({summary.rejected / summary.sent:.0%}, threshold {self.settings.reject_share:.0%})",
            )
        return summary.describe()
