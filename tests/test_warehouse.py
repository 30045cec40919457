"""The warehouse interface's failures: a PostgreSQL connection lost mid-run, and DuckDB out of memory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conftest import _pg_admin_target, fresh_warehouse, new_duckdb_warehouse
from reverse_etl.destinations.webhook import WebhookDestination
from reverse_etl.errors import WarehouseError
from reverse_etl.http import HttpClient, RetryPolicy
from reverse_etl.project import connect
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse, memory_bytes, suggested_memory_limit
from test_sync_engine import _secret, make_people, model_state, webhook_sync


@pytest.mark.postgres
def test_a_connection_lost_mid_run_names_the_cause_and_the_next_run_sends_each_row_once(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = fresh_warehouse("postgres", request, tmp_path, "cdp_lost")
    make_people(scratch, 1000)
    service = WebhookFake()
    monkeypatch.setenv("TEST_WEBHOOK_TOKEN", service.token)
    admin = connect(_pg_admin_target())
    admin.autocommit = True
    engine = Warehouse(scratch.target)
    with FakeServer(service) as server:
        sync = webhook_sync(server)  # batches of 100: windows of 1, 2, 4 and 3 batches
        destination = WebhookDestination(
            sync.options, _secret, HttpClient(retry=RetryPolicy(base_delay=0.01))
        )
        backend = engine.connection.get_backend_pid()
        terminated: list[int] = []

        def terminate_after_the_first_window(rows: int) -> None:
            if not terminated:
                with admin.cursor() as cursor:
                    cursor.execute("select pg_terminate_backend(%s)", (backend,))
                terminated.append(rows)

        try:
            with pytest.raises(WarehouseError) as lost:
                run_sync(engine, sync, destination=destination, progress=terminate_after_the_first_window)
        finally:
            engine.close()
            admin.close()
        message = str(lost.value)
        assert terminated == [100] and lost.value.exit_code == 3
        assert (
            "the connection to the server was lost (server closed the connection" in message
            and "was not committed was not applied" in message
        )
        assert "connection already closed" not in message, message
        statuses = dict(scratch.query("select status, count(*) from cdp_sync.snapshots group by 1"))
        assert statuses.get("synced") == 100 and set(statuses) <= {"synced", "pending"}, statuses
        status, error = scratch.query("select status, error from cdp_sync.runs")[0]
        assert status == "failed" and error == message

        rerun = Warehouse(scratch.target)
        try:
            summary = run_sync(rerun, sync, destination=destination)
        finally:
            rerun.close()
        assert summary.status == "success" and summary.diff.added == 900
    assert service.records == model_state(scratch)
    assert max(service.creates.values()) == 1, "no row was created twice at the destination"


@pytest.mark.postgres
def test_a_lost_connection_that_cannot_be_reopened_still_names_the_first_cause(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    scratch = fresh_warehouse("postgres", request, tmp_path, "cdp_lost")
    engine = Warehouse(scratch.target)
    admin = connect(_pg_admin_target())
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("select pg_terminate_backend(%s)", (engine.connection.get_backend_pid(),))
        with pytest.raises(WarehouseError, match=r"the connection to the server was lost \("):
            engine.query("select 1")
        engine.target = dataclasses.replace(engine.target, port=1)  # the server is gone for good
        with pytest.raises(
            WarehouseError,
            match=r"connection to the server was lost .*; reconnecting failed too: cannot reach",
        ):
            engine.execute("select 1")
    finally:
        engine.close()
        admin.close()


@pytest.mark.parametrize(
    ("cap", "suggested"),
    [
        ("144MB", "1GB"),
        ("128MB", "1GB"),
        ("512MB", "2.1GB"),
        ("2GB", "8GB"),
        ("1.5GiB", "6.5GB"),
        ("lots", "1GB"),
    ],
)
def test_the_memory_hint_suggests_four_times_the_cap_and_at_least_1gb(cap: str, suggested: str) -> None:
    assert suggested_memory_limit(cap) == suggested
    assert memory_bytes("64 MiB") == 64 * 1024**2 and memory_bytes("lots") is None


def test_out_of_memory_names_the_cap_in_force_and_suggests_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = new_duckdb_warehouse(tmp_path)
    engine = Warehouse(scratch.target)
    monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "400MB")
    try:
        with engine.memory_capped(), pytest.raises(WarehouseError) as refused:
            # One list of 100M integers cannot spill: it needs far more than the cap.
            engine.query("select list(range) from range(100000000)")
    finally:
        engine.close()
    message = str(refused.value)
    assert "Out of Memory" in message and "DuckDB's memory cap was 400MB" in message
    assert "raise CDP_DUCKDB_MEMORY_LIMIT, e.g. to 1.6GB," in message
