"""The scheduler, graceful stop, and the overview page and status API over HTTP (the browser test of the app
is tests/test_web_browser.py)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from bi_reader import bi_user
from web_server import start_app, webhook_sync

from conftest import new_duckdb_warehouse
from reverse_etl.errors import ConfigError
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.serve import Scheduler, is_due
from reverse_etl.serve.schedule import schedule_problem
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse
from reverse_etl.web.auth import AuthSettings


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
        sync = webhook_sync(
            "scheduled_people",
            Relation(None, "activation", "people"),
            "person_key",
            {"email": "email"},
            server.url,
            "TEST_WEBHOOK_TOKEN",
            100,
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


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("0 0 31 2 *", "never fires"),  # croniter accepts it, then fails when asked for its last firing
        ("0 * * * * *", "is not a cron expression"),  # croniter would read the sixth field as seconds
        (5, "is not a cron expression"),  # YAML `schedule: 5`: croniter raised AttributeError
        ("@hourly", None),
        (" 0 * * * * ", None),
    ],
)
def test_schedules_croniter_accepts_but_cannot_use_are_refused(schedule: object, problem: str | None) -> None:
    found = schedule_problem(schedule)
    assert (problem in found) if problem and found else found is problem


def test_every_bad_schedule_is_named_at_start_with_its_file_and_key(scheduled) -> None:
    warehouse, _, sync = scheduled
    never = SyncConfig(**{**sync.__dict__, "name": "never_people", "schedule": "0 0 31 2 *"})
    hourly = SyncConfig(**{**sync.__dict__, "name": "hourly_people", "schedule": "every hour"})
    with pytest.raises(ConfigError) as refused:
        Scheduler(warehouse.target, {never.name: never, hourly.name: hourly, sync.name: sync})
    message = str(refused.value)
    assert "exposures.never_people.meta.cdp_sync.schedule: '0 0 31 2 *' never fires" in message
    assert "exposures.hourly_people.meta.cdp_sync.schedule: 'every hour' is not a cron expression" in message
    with pytest.raises(ConfigError, match="--dbt-schedule: 'every hour'"):
        Scheduler(warehouse.target, {sync.name: sync}, dbt_schedule="every hour")


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
    server = start_app(warehouse.target, {sync.name: sync}, scheduler=scheduler)
    yield server.url
    server.stop()


def test_status_api_and_page_over_http(status_page: str) -> None:
    for path in ("/api/v1/status", "/api/status"):
        with urllib.request.urlopen(f"{status_page}{path}") as response:
            document = json.loads(response.read())
        (row,) = document["syncs"]
        assert (
            row["sync"] == "scheduled_people"
            and row["synced_rows"] == 1200
            and row["last_status"] == "success"
        )
        assert document["identity_health"] is None
    with urllib.request.urlopen(status_page) as response:
        page = response.read().decode()
    assert '<table id="syncs">' in page and "scheduled_people" in page and "1200" in page
    assert "Identity health" in page and "<script" not in page
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{status_page}/nope")
    assert missing.value.code == 404


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_warehouse_held_by_a_bi_user_is_busy_and_the_due_run_waits(scheduled) -> None:
    warehouse, service, sync = scheduled
    scheduler = Scheduler(warehouse.target, {sync.name: sync})
    server = start_app(warehouse.target, {sync.name: sync}, scheduler=scheduler)
    page = server.url
    try:
        with bi_user(warehouse.target.path) as reader:
            assert scheduler.tick() == [], "the file is held: nothing can run"
            state = scheduler.status()["warehouse_state"]
            assert state["state"] == "busy" and state["waiting"] == ["scheduled_people"]
            assert f"another process holds the DuckDB file lock (PID {reader.pid}" in state["reason"]
            assert scheduler.retry_delay(30) == 1.0
            assert (
                scheduler.tick() == []
                and scheduler.retry_delay(30) == 2.0
                and scheduler.retry_delay(1.5) == 1.5
            )
            assert len(service.records) == 0

            status, body = get(f"{page}/api/status")
            document = json.loads(body)
            assert status == 200 and document["warehouse_state"]["state"] == "busy"
            assert (
                document["syncs"][0]["sync"] == "scheduled_people"
                and document["syncs"][0]["synced_rows"] is None
            )
            status, html = get(page)
            assert (
                status == 200
                and '<p id="warehouse-state" class="banner"><strong>warehouse busy</strong>' in html
            )
            assert "waiting to run: scheduled_people" in html
            status, line = get(f"{page}/healthz")
            assert status == 503 and line.startswith(
                "warehouse busy: another process holds the DuckDB file lock"
            )
        assert scheduler.tick() == ["scheduled_people"], "released: the run that was due runs"
        assert len(service.records) == 1200
        assert scheduler.status()["warehouse_state"]["state"] == "ok"
        assert get(f"{page}/healthz") == (200, "ok")
        assert any("warehouse available again" in line for line in scheduler.log)
    finally:
        server.stop()


def test_the_scheduler_loop_outlives_a_held_warehouse_and_runs_once_released(scheduled) -> None:
    warehouse, service, sync = scheduled
    scheduler = Scheduler(warehouse.target, {sync.name: sync}, first_retry=0.1)
    loop = threading.Thread(target=scheduler.run_forever, kwargs={"interval": 2.0}, daemon=True)
    try:
        with bi_user(warehouse.target.path):
            loop.start()
            deadline = time.monotonic() + 30
            while scheduler.warehouse.attempts < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (
                loop.is_alive() and scheduler.warehouse.state == "busy" and scheduler.warehouse.attempts >= 4
            )
            assert len(service.records) == 0
        deadline = time.monotonic() + 30
        while len(service.records) < 1200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(service.records) == 1200 and loop.is_alive()
    finally:
        scheduler.stop.set()
        loop.join(timeout=60)
    busy_lines = [line for line in scheduler.log if "warehouse busy" in line]
    assert len(busy_lines) == 1, "entering the busy state is logged once, not at every retry"
    assert "waiting: scheduled_people" in busy_lines[0]


def test_healthz_is_unhealthy_when_the_warehouse_cannot_be_read(tmp_path: Path) -> None:
    broken = tmp_path / "cdp.duckdb"
    broken.write_bytes(b"not a database" * 1000)
    target = new_duckdb_warehouse(tmp_path).target
    open_server = start_app(target, {})
    token_server = start_app(target, {}, auth=AuthSettings(token="a-token-of-sixteen-chars"))
    try:
        status, line = get(f"{open_server.url}/healthz")
        assert (
            status == 503
            and line.startswith("warehouse unreadable: cannot open DuckDB file")
            and "\n" not in line
        )
        assert get(f"{token_server.url}/healthz") == (
            503,
            "warehouse unreadable",
        ), "unauthenticated, so no details when the page is exposed"
    finally:
        open_server.stop()
        token_server.stop()
