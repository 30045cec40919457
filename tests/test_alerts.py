"""Alerts: the rule for failures and refusals, secrets masked; a webhook that is slow or down never holds up
or fails a run; a scheduled dbt build that fails alerts. (Alerts of the app's runs: test_web_app.py; of the
CLI's: test_sync_cli.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web_server import AlertReceiver

from conftest import new_duckdb_warehouse
from reverse_etl import secrets
from reverse_etl.alerts import Alerts, AlertSettings
from reverse_etl.errors import CdpError, ConfigError, RefusedRun, RunLocked
from reverse_etl.serve import Scheduler

SINK_TOKEN = "webhook-secret-token-never-shown"


def test_failures_and_refusals_alert_with_secrets_masked(tmp_path: Path) -> None:
    secrets.register(SINK_TOKEN)  # as every secret-named environment variable is
    receiver = AlertReceiver()
    try:
        alerts = Alerts(AlertSettings(webhook_url=receiver.url, reject_share=0.5))

        def refused():
            raise RefusedRun("people: this run would change or remove 90 of 100 synced rows. Refused")

        def failed():
            raise CdpError(f"people: HTTP 500 from the destination (token {SINK_TOKEN})")

        assert "this run would change or remove 90" in alerts.observe("people", "schedule", refused)
        alerts.observe("people", "schedule", failed)

        def locked():
            raise RunLocked("sync people is already running (another run holds its lock)")

        assert "already running" in alerts.observe("people", "run now", locked)
        assert alerts.flush()
        texts = [body["text"] for body in receiver.received]
        assert texts[0].startswith(
            "cdp sync people was refused by the blast-radius guard: people: this run would"
        )
        assert texts[1].startswith("cdp sync people failed: people: HTTP 500")
        assert len(texts) == 2, "a run that found its sync running already is no alert"
        assert SINK_TOKEN not in json.dumps(receiver.received) and "***" in texts[1]
    finally:
        receiver.close()
    with pytest.raises(ConfigError, match="CDP_ALERT_REJECT_SHARE='lots'"):
        AlertSettings.from_environment({"CDP_ALERT_REJECT_SHARE": "lots"})


class HeldWebhook:
    """A webhook that takes each request and answers only when released (or never, if it is down)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.release = threading.Event()
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.arrived.set()
                outer.release.wait(10)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{HOOK_SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


HOOK_SECRET = "T000-hook-secret-never-logged"


def test_a_slow_or_down_webhook_never_holds_or_fails_a_run(capfd: pytest.CaptureFixture[str]) -> None:
    import socket

    def failed():
        raise CdpError("people: HTTP 500 from the destination")

    slow = HeldWebhook()
    with socket.socket() as probe:  # a port nothing listens on: the webhook is down
        probe.bind(("127.0.0.1", 0))
        down_url = f"http://127.0.0.1:{probe.getsockname()[1]}/hooks/{HOOK_SECRET}-down"
    try:
        settings = AlertSettings.from_environment({"CDP_ALERT_WEBHOOK_URL": slow.url})
        patient = Alerts(settings, timeout_seconds=10, deadline_seconds=10)
        assert (
            patient.observe("people", "schedule", failed) == "people: people: HTTP 500 from the destination"
        )
        assert slow.arrived.wait(5) and patient.waiting() == 1, "the run ended while its alert waits"
        slow.release.set()
        assert patient.flush(), "then the webhook answered"
        slow.release.clear()
        for url, timeout in ((slow.url, 0.3), (down_url, 10)):
            settings = AlertSettings.from_environment({"CDP_ALERT_WEBHOOK_URL": url})
            alerts = Alerts(settings, timeout_seconds=timeout, deadline_seconds=0.5)
            assert "HTTP 500" in alerts.observe("people", "schedule", failed)
            assert alerts.flush(), "the post gave up by its own deadline"
        events = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
        assert [event["kind"] for event in events if event["event"] == "alert"] == ["failed"] * 3
        timed_out, refused = (event for event in events if event["event"] == "alert_failed")
        assert "Timeout" in timed_out["error"] and "ConnectionError" in refused["error"], events
        assert timed_out["sync"] == refused["sync"] == "people" and "POST ***" in timed_out["error"]
        assert HOOK_SECRET not in json.dumps(events)
    finally:
        slow.close()


def test_a_failed_scheduled_dbt_build_alerts(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    target = dataclasses.replace(new_duckdb_warehouse(tmp_path).target, name="no_such_target")
    receiver = AlertReceiver()
    try:
        alerts = Alerts(AlertSettings(webhook_url=receiver.url))
        scheduler = Scheduler(target, {}, dbt_schedule="* * * * *", alerts=alerts, publish_after_build=False)
        assert scheduler.tick() == [], "the build failed"
        assert alerts.flush() and "dbt build failed" in scheduler.status()["log"][-1]
        (posted,) = receiver.received
        assert posted["text"].startswith("cdp dbt build failed: ") and "no_such_target" in posted["text"]
        events = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
        assert [(event["event"], event.get("trigger")) for event in events] == [
            ("build_start", "schedule"),
            ("build_end", None),
            ("alert", None),
        ]
        assert events[1]["status"] == "failed" and events[2]["subject"] == "cdp dbt build"
    finally:
        receiver.close()
