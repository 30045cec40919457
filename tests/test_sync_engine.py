"""The sync engine against a real local HTTP fake: diff, modes, rejects, guards, locks and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Warehouse, fresh_warehouse, new_duckdb_warehouse
from reverse_etl.destinations.base import Mode
from reverse_etl.destinations.webhook import WebhookDestination
from reverse_etl.errors import (
    ConfigError,
    PartialFailure,
    RetryableDestinationError,
    SyncError,
    WarehouseError,
)
from reverse_etl.http import HttpClient, RetryPolicy
from reverse_etl.project import Target
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync.config import Relation, SyncConfig, parse_sync
from reverse_etl.sync.lock import sync_lock
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def scratch(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    return fresh_warehouse(request.param, request, tmp_path, "cdp_eng")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    service = WebhookFake(Faults(seed=3))
    with FakeServer(service) as server:
        monkeypatch.setenv("TEST_WEBHOOK_TOKEN", service.token)
        yield service, server


def make_people(warehouse: Warehouse, count: int, table: str = "people") -> None:
    warehouse.execute("create schema if not exists activation")
    warehouse.execute(f"drop table if exists activation.{table}")
    warehouse.execute(
        f"create table activation.{table} as select cast('key_' || n as varchar) as person_key, "
        f"cast('person' || n || '@example.org' as varchar) as email, n as score from "
        + ("range(1, ? + 1) as t(n)" if warehouse.kind == "duckdb" else "generate_series(1, %s) as t(n)"),
        (count,),
    )


def webhook_sync(
    server: FakeServer, mode: Mode = Mode.UPSERT, table: str = "people", **overrides
) -> SyncConfig:
    settings = {
        "name": "test_people",
        "model": table,
        "relation": Relation(None, "activation", table),
        "destination": "webhook",
        "mode": mode,
        "primary_key": "person_key",
        "fields": {"email": "email", "score": "score"},
        "options": {"url": f"{server.url}/records", "token_env": "TEST_WEBHOOK_TOKEN", "batch_size": 100},
        "source_file": "models/test.yml",
    }
    settings.update(overrides)
    return SyncConfig(**settings)


def run(warehouse: Warehouse, sync: SyncConfig, **kwargs):
    engine = SyncWarehouse(warehouse.target)
    try:
        destination = WebhookDestination(
            sync.options, _secret, HttpClient(retry=RetryPolicy(base_delay=0.01))
        )
        return run_sync(engine, sync, destination=destination, **kwargs)
    finally:
        engine.close()


def _secret(name: str) -> str:
    import os

    if name not in os.environ:
        raise ConfigError(f"missing credential {name}")
    return os.environ[name]


def model_state(warehouse: Warehouse, table: str = "people") -> dict[str, dict[str, object]]:
    return {
        key: {"email": email, "score": score}
        for key, email, score in warehouse.query(f"select person_key, email, score from activation.{table}")
    }


def test_upsert_sends_everything_once_then_only_what_changed(scratch: Warehouse, fake) -> None:
    service, server = fake
    make_people(scratch, 250)
    first = run(scratch, webhook_sync(server))
    assert (first.diff.added, first.confirmed) == (250, 250)
    assert service.records == model_state(scratch)
    again = run(scratch, webhook_sync(server))
    assert again.sent == 0
    scratch.execute(
        "update activation.people set score = score + 1000 where person_key in ('key_7', 'key_8')"
    )
    scratch.execute("insert into activation.people values ('key_new', 'new@example.org', 1)")
    third = run(scratch, webhook_sync(server))
    assert (third.diff.added, third.diff.changed, third.sent) == (1, 2, 3)
    assert service.records == model_state(scratch)
    assert max(service.creates.values()) == 1


def test_rejected_rows_are_recorded_and_retried_next_run(scratch: Warehouse, fake) -> None:
    service, server = fake
    make_people(scratch, 300)
    service.faults = Faults(seed=3, record_reject_rate=0.1)
    with pytest.raises(PartialFailure) as failure:
        run(scratch, webhook_sync(server))
    rejected = failure.value.summary.rejected
    assert 10 < rejected < 60
    recorded = scratch.query(
        "select record_key, attempts, last_error from cdp_sync.snapshots where status = 'rejected'"
    )
    assert len(recorded) == rejected
    assert all("rejected by the sandbox" in error for _, _, error in recorded)
    assert scratch.scalar("select count(*) from cdp_sync.rejects") == rejected
    missing = set(model_state(scratch)) - set(service.records)
    assert missing == {key for key, _, _ in recorded}

    service.faults = Faults(seed=3)
    retry = run(scratch, webhook_sync(server), only_rejected=True)
    assert (retry.diff.retries, retry.sent, retry.confirmed) == (rejected, rejected, rejected)
    assert service.records == model_state(scratch)
    assert scratch.scalar("select count(*) from cdp_sync.snapshots where status = 'rejected'") == 0


def test_mirror_removes_only_what_this_sync_created(scratch: Warehouse, fake) -> None:
    service, server = fake
    service.records["someone_else"] = {"email": "kept@example.org"}
    make_people(scratch, 100)
    run(scratch, webhook_sync(server, mode=Mode.MIRROR))
    scratch.execute("delete from activation.people where person_key in ('key_1', 'key_2', 'key_3')")
    summary = run(scratch, webhook_sync(server, mode=Mode.MIRROR))
    assert summary.diff.removed == 3
    assert set(service.records) == set(model_state(scratch)) | {"someone_else"}
    assert service.deletes == {"key_1": 1, "key_2": 1, "key_3": 1}


def test_blast_radius_guard_refuses_mass_deletes_and_empty_sources(scratch: Warehouse, fake) -> None:
    service, server = fake
    make_people(scratch, 100)
    run(scratch, webhook_sync(server, mode=Mode.MIRROR))
    scratch.execute("delete from activation.people where score <= 40")
    with pytest.raises(SyncError, match="would change or remove 40 of 100 synced rows"):
        run(scratch, webhook_sync(server, mode=Mode.MIRROR))
    assert len(service.records) == 100, "nothing was removed"
    scratch.execute("delete from activation.people")
    with pytest.raises(SyncError, match="is empty"):
        run(scratch, webhook_sync(server, mode=Mode.MIRROR))
    assert len(service.records) == 100
    allowed = run(scratch, webhook_sync(server, mode=Mode.MIRROR), allow_mass_change=True)
    assert allowed.diff.removed == 100 and service.records == {}


def test_a_second_concurrent_run_is_refused(scratch: Warehouse, fake) -> None:
    _, server = fake
    make_people(scratch, 10)
    holder = SyncWarehouse(scratch.target)
    try:
        with sync_lock(holder, "test_people"), pytest.raises(SyncError, match="already running"):
            run(scratch, webhook_sync(server))
    finally:
        holder.close()
    assert run(scratch, webhook_sync(server)).confirmed == 10, "the lock is released afterwards"


def test_null_and_duplicate_keys_are_reported_not_sent(scratch: Warehouse, fake) -> None:
    service, server = fake
    make_people(scratch, 20)
    scratch.execute(
        "insert into activation.people values (null, 'nokey@example.org', 1), ('key_5', 'twin@example.org', 2)"
    )
    with pytest.raises(PartialFailure, match="invalid keys 3"):
        run(scratch, webhook_sync(server))
    assert "key_5" not in service.records
    assert len(service.records) == 19


def test_twenty_percent_faults_still_confirm_every_row(tmp_path: Path, fake) -> None:
    service, server = fake
    warehouse = new_duckdb_warehouse(tmp_path)
    make_people(warehouse, 2000)
    service.faults = Faults(
        seed=9, throttle_rate=0.08, server_error_rate=0.08, timeout_rate=0.04, timeout_seconds=0.3
    )
    sync = webhook_sync(server)
    engine = SyncWarehouse(warehouse.target)
    slept: list[float] = []
    client = HttpClient(timeout=0.2, retry=RetryPolicy(max_attempts=12, base_delay=0.001), sleep=slept.append)
    summary = run_sync(engine, sync, destination=WebhookDestination(sync.options, _secret, client))
    engine.close()
    assert summary.confirmed == 2000 and summary.rejected == 0
    assert service.records == model_state(warehouse)
    assert client.stats["retries"] > 0 and client.stats["throttled"] > 0


def test_retry_after_is_honoured() -> None:
    from reverse_etl.http import HttpRequest
    from reverse_etl.sandbox.server import FakeService, Response

    class Throttled(FakeService):
        name = "throttled"

        def __init__(self) -> None:
            super().__init__()
            self.calls = 0
            self.route("POST", "/x", self.answer)

        def answer(self, request):
            self.calls += 1
            if self.calls == 1:
                return Response(429, {"error": "slow down"}, {"Retry-After": "1.5"})
            return Response(200, {"ok": True})

    slept: list[float] = []
    with FakeServer(Throttled()) as server:
        response = HttpClient(sleep=slept.append).send(HttpRequest("POST", f"{server.url}/x", json={}))
    assert response.status_code == 200
    assert slept == [1.5]


def test_bad_input_is_named(tmp_path: Path, fake, monkeypatch: pytest.MonkeyPatch) -> None:
    _, server = fake
    warehouse = new_duckdb_warehouse(tmp_path)
    make_people(warehouse, 5)
    with pytest.raises(ConfigError, match=r"column\(s\) phone not in model people"):
        run(warehouse, webhook_sync(server, fields={"email": "email", "phone": "phone"}))
    monkeypatch.delenv("TEST_WEBHOOK_TOKEN")
    with pytest.raises(ConfigError, match="missing credential TEST_WEBHOOK_TOKEN"):
        run(warehouse, webhook_sync(server))
    models = {"people": Relation(None, "activation", "people")}
    exposure = {
        "name": "x",
        "original_file_path": "models/a.yml",
        "meta": {
            "cdp_sync": {
                "model": 'people"; drop table activation.people; --',
                "destination": "webhook",
                "mode": "upsert",
                "primary_key": "person_key",
            }
        },
    }
    with pytest.raises(ConfigError, match="must be letters, digits and underscores only"):
        parse_sync(exposure, models)
    exposure["meta"]["cdp_sync"]["model"] = "people"
    exposure["meta"]["cdp_sync"]["mode"] = "sometimes"
    with pytest.raises(
        ConfigError, match=r"models/a.yml: exposures.x.meta.cdp_sync.mode: 'sometimes' is not a mode"
    ):
        parse_sync(exposure, models)
    from reverse_etl.sync.runner import make_destination

    with pytest.raises(ConfigError, match="unknown destination 'hubspot_v9'"):
        make_destination(webhook_sync(server, destination="hubspot_v9"))
    monkeypatch.setenv("TEST_WEBHOOK_TOKEN", "sandbox-token")
    unreachable = SyncWarehouse(
        Target(name="postgres", type="postgres", host="127.0.0.1", port=1, user="postgres", dbname="x")
    )
    with pytest.raises(WarehouseError, match="cannot reach"):
        run_sync(unreachable, webhook_sync(server), destination=None)


def test_an_ad_hoc_query_sync_reads_only_what_its_select_returns(scratch: Warehouse, fake) -> None:
    service, server = fake
    make_people(scratch, 50)
    sync = webhook_sync(
        server, query="select person_key, email, score from activation.people where score > 40", model="top"
    )
    summary = run(scratch, sync)
    assert summary.confirmed == 10
    assert set(service.records) == {f"key_{n}" for n in range(41, 51)}


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("select * from activation.people; drop table activation.people", "exactly one SELECT"),
        ("delete from activation.people", "only a SELECT is allowed"),
        ("select * from read_csv('/etc/passwd')", "table functions are not allowed"),
        ("select * from '/etc/passwd'", "table names must be plain identifiers"),
        ("select pg_read_file('/etc/passwd') as person_key", "function pg_read_file is not allowed"),
    ],
)
def test_ad_hoc_queries_that_are_not_one_read_only_select_are_refused(query: str, refusal: str) -> None:
    exposure = {
        "name": "quick_audience",
        "original_file_path": "models/a.yml",
        "meta": {
            "cdp_sync": {
                "query": query,
                "destination": "webhook",
                "mode": "upsert",
                "primary_key": "person_key",
            }
        },
    }
    with pytest.raises(ConfigError, match=refusal):
        parse_sync(exposure, {})


class FailingOnCall(WebhookDestination):
    """The webhook destination, except that send number `fail_on` raises as a destination outage does."""

    def __init__(self, options, secret, http, fail_on: int) -> None:
        super().__init__(options, secret, http)
        self.fail_on = fail_on
        self.calls = 0

    def write_batch(self, records):
        self.calls += 1
        if self.calls == self.fail_on:
            raise RetryableDestinationError("POST /records: HTTP 503 after 6 attempts", status=503)
        return super().write_batch(records)


def test_a_failed_send_commits_what_came_before_and_sends_nothing_after(scratch: Warehouse, fake) -> None:
    service, server = fake
    make_people(scratch, 1000)
    sync = webhook_sync(server)  # batches of 100: windows of 1, 2, 4 and 3 batches
    destination = FailingOnCall(sync.options, _secret, HttpClient(retry=RetryPolicy(base_delay=0.01)), 5)
    engine = SyncWarehouse(scratch.target)
    try:
        with pytest.raises(RetryableDestinationError):
            run_sync(engine, sync, destination=destination)
    finally:
        engine.close()
    assert destination.calls == 5, "the batches queued behind the failed one were not sent"
    assert len(service.records) == 400
    statuses = dict(
        scratch.query(
            "select status, count(*) from cdp_sync.snapshots where sync_name = 'test_people' group by 1"
        )
    )
    # Batches 1-4 are confirmed. The rest was journaled (pending) but not confirmed: the third window's other
    # batches, and the fourth window, journaled while the third was with the destination.
    assert statuses == {"synced": 400, "pending": 600}
    rerun = run(scratch, sync)
    assert (rerun.diff.added, rerun.confirmed) == (600, 600)
    assert service.records == model_state(scratch)
    assert max(service.creates.values()) == 1


def test_the_duckdb_memory_cap_holds_only_while_a_sync_runs(
    tmp_path: Path, fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, server = fake
    scratch = new_duckdb_warehouse(tmp_path)
    make_people(scratch, 300)
    engine = SyncWarehouse(scratch.target)
    setting = "select current_setting('memory_limit')"
    try:
        before = engine.query(setting)[0][0]
        during = []
        monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "64MB")
        destination = WebhookDestination(webhook_sync(server).options, _secret, HttpClient())
        run_sync(
            engine,
            webhook_sync(server),
            destination=destination,
            progress=lambda _: during.append(engine.query(setting)[0][0]),
        )
        assert set(during) == {"61.0 MiB"}, "64MB, as DuckDB shows it"
        assert engine.query(setting)[0][0] == before, "DuckDB's default again"
        assert not engine.query(
            "select table_name from information_schema.tables where table_name like 'outbox%'"
        ), "the outbox (copies of model rows) is gone after the run"
        monkeypatch.setenv("CDP_DUCKDB_MEMORY_LIMIT", "lots")
        with pytest.raises(ConfigError, match="CDP_DUCKDB_MEMORY_LIMIT: 'lots' is not a memory size"):
            run_sync(engine, webhook_sync(server), destination=destination)
    finally:
        engine.close()
    assert len(service.records) == 300
