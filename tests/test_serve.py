"""The scheduler, graceful stop, and the status page over HTTP (and once in a real browser)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from conftest import IN_CI, new_duckdb_warehouse
from reverse_etl.destinations.base import Mode
from reverse_etl.errors import ConfigError
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.serve import Scheduler, is_due, make_status_server
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse


def test_is_due_follows_the_cron_expression() -> None:
    hourly = "0 * * * *"
    now = dt.datetime(2026, 6, 1, 10, 30)
    assert is_due(hourly, None, now)
    assert not is_due(hourly, dt.datetime(2026, 6, 1, 10, 5), now)
    assert is_due(hourly, dt.datetime(2026, 6, 1, 9, 59), now)


@pytest.fixture
def scheduled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    warehouse = new_duckdb_warehouse(tmp_path)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.people as select 'key_' || n as person_key, 'p' || n || '@example.org' as email "
        "from range(1, 1201) as t(n)"
    )
    service = WebhookFake()
    with FakeServer(service) as server:
        monkeypatch.setenv("TEST_WEBHOOK_TOKEN", service.token)
        sync = SyncConfig(
            name="scheduled_people",
            model="people",
            relation=Relation(None, "activation", "people"),
            destination="webhook",
            mode=Mode.UPSERT,
            primary_key="person_key",
            fields={"email": "email"},
            options={"url": f"{server.url}/records", "token_env": "TEST_WEBHOOK_TOKEN", "batch_size": 100},
            schedule="*/10 * * * *",
        )
        yield warehouse, service, sync


def test_scheduler_runs_syncs_when_due_and_not_before(scheduled) -> None:
    warehouse, service, sync = scheduled
    clock = {"now": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
    scheduler = Scheduler(warehouse.target, {sync.name: sync}, clock=lambda: clock["now"])
    assert scheduler.tick() == ["scheduled_people"]
    assert len(service.records) == 1200
    assert scheduler.tick() == [], "just ran: not due again until the next 10-minute mark"
    clock["now"] += dt.timedelta(minutes=11)
    assert scheduler.tick() == ["scheduled_people"]


def test_an_invalid_schedule_is_refused_at_start(scheduled) -> None:
    warehouse, _, sync = scheduled
    broken = SyncConfig(**{**sync.__dict__, "schedule": "every hour"})
    with pytest.raises(ConfigError, match="schedule: 'every hour' is not a cron expression"):
        Scheduler(warehouse.target, {broken.name: broken})


def test_a_stop_request_ends_the_run_after_the_current_batch(scheduled) -> None:
    warehouse, service, sync = scheduled
    engine = SyncWarehouse(warehouse.target)
    try:
        stopped = run_sync(engine, sync, should_stop=lambda: True)
        assert stopped.status == "interrupted" and stopped.confirmed == 100
        assert len(service.records) == 100
        finished = run_sync(engine, sync)
        assert finished.sent == 1100 and len(service.records) == 1200
    finally:
        engine.close()


@pytest.fixture
def status_page(scheduled):
    warehouse, _, sync = scheduled
    scheduler = Scheduler(warehouse.target, {sync.name: sync})
    scheduler.tick()
    server = make_status_server(warehouse.target, {sync.name: sync}, scheduler, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_status_api_and_page_over_http(status_page: str) -> None:
    with urllib.request.urlopen(f"{status_page}/api/status") as response:
        document = json.loads(response.read())
    (row,) = document["syncs"]
    assert (
        row["sync"] == "scheduled_people" and row["synced_rows"] == 1200 and row["last_status"] == "success"
    )
    assert document["identity_health"] is None
    with urllib.request.urlopen(status_page) as response:
        page = response.read().decode()
    assert '<table id="syncs">' in page and "scheduled_people" in page and "1200" in page
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{status_page}/nope")
    assert missing.value.code == 404


def test_status_page_renders_in_headless_chromium(status_page: str, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if IN_CI:
            pytest.fail("CI must have Chromium (Debian package chromium) to render the status page")
        pytest.skip("Chromium is not installed here (apt-get install chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", status_page], capture_output=True, text=True, timeout=120
    )
    assert "scheduled_people" in dom.stdout and "Identity health" in dom.stdout
    shot = tmp_path / "status.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1200,800", status_page],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
