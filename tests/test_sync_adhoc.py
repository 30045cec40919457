"""Ad-hoc sync queries on DuckDB and PostgreSQL: escape attempts are refused before they run (or fail inside the
rolled-back read-only transaction) and leave nothing behind; a real segment query syncs the right rows; one
broken query breaks only its own sync."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adhoc_attacks import ATTACKS, SCRATCH
from conftest import (
    WAREHOUSES,
    Warehouse,
    make_pg_database,
    new_duckdb_warehouse,
    new_postgres_warehouse,
)
from reverse_etl.cli import cli
from reverse_etl.destinations.base import Mode
from reverse_etl.destinations.webhook import WebhookDestination
from reverse_etl.errors import ConfigError, WarehouseError
from reverse_etl.http import HttpClient, RetryPolicy
from reverse_etl.project import connect
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync import state
from reverse_etl.sync.config import Relation, SyncConfig, load_syncs, parse_sync
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

PEOPLE = 20


@pytest.fixture(scope="module", params=WAREHOUSES)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A fresh warehouse of its own with activation.people, activation.orders and a sequence."""
    if request.param == "duckdb":
        warehouse = new_duckdb_warehouse(tmp_path_factory.mktemp("adhoc"))
    else:
        name, drop = make_pg_database("cdp_adhoc")
        request.addfinalizer(drop)
        warehouse = new_postgres_warehouse(name)
    warehouse.execute("create schema activation")
    warehouse.execute("create table activation.people (person_key varchar, email varchar, score integer)")
    warehouse.execute("create table activation.orders (person_key varchar, amount integer, ordered_at date)")
    warehouse.execute("create sequence activation.counter")
    today = dt.date.today()
    for n in range(1, PEOPLE + 1):
        warehouse.execute(
            "insert into activation.people values (%s, %s, %s)".replace("%s", _marker(warehouse)),
            (f"key_{n}", f"PERSON{n}@EXAMPLE.ORG", n),
        )
        for amount, days in ((n * 10, 3 * n - 1), (5, 1)):
            warehouse.execute(
                "insert into activation.orders values (%s, %s, %s)".replace("%s", _marker(warehouse)),
                (f"key_{n}", amount, today - dt.timedelta(days=days)),
            )
    engine = SyncWarehouse(warehouse.target)
    state.ensure_state(engine)
    engine.close()
    return warehouse


def _marker(warehouse: Warehouse) -> str:
    return "%s" if warehouse.kind == "postgres" else "?"


@pytest.fixture(scope="module")
def fake():
    service = WebhookFake(Faults(seed=3))
    with FakeServer(service) as server, pytest.MonkeyPatch.context() as environment:
        environment.setenv("TEST_WEBHOOK_TOKEN", service.token)
        yield service, server


def query_sync(server: FakeServer, query: str, name: str = "adhoc_audience", **overrides: Any) -> SyncConfig:
    settings: dict[str, Any] = {
        "name": name,
        "model": f"query_{name}",
        "relation": Relation(None, "", f"query_{name}"),
        "query": query,
        "destination": "webhook",
        "mode": Mode.UPSERT,
        "primary_key": "person_key",
        "fields": {},
        "options": {"url": f"{server.url}/records", "token_env": "TEST_WEBHOOK_TOKEN", "batch_size": 100},
        "source_file": "models/adhoc.yml",
    }
    settings.update(overrides)
    return SyncConfig(**settings)


def run(warehouse: Warehouse, sync: SyncConfig):
    engine = SyncWarehouse(warehouse.target)
    try:
        destination = WebhookDestination(
            sync.options, lambda name: os.environ[name], HttpClient(retry=RetryPolicy(base_delay=0.01))
        )
        return run_sync(engine, sync, destination=destination)
    finally:
        engine.close()


def world(warehouse: Warehouse) -> dict[str, Any]:
    """What an escape could change: tables, data, the sequence, and the server's or database's settings."""
    seen: dict[str, Any] = {
        "people": warehouse.query("select count(*), sum(score) from activation.people"),
        "attack files": [
            path for path in (SCRATCH, f"{SCRATCH}.csv", f"{SCRATCH}.duckdb") if Path(path).exists()
        ],
    }
    if warehouse.kind == "postgres":
        seen["tables"] = warehouse.query(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema') order by 1, 2"
        )
        seen["sequence"] = warehouse.query("select last_value, is_called from activation.counter")
        seen["large objects"] = warehouse.query("select count(*) from pg_largeobject_metadata")
        seen["replication slots"] = warehouse.query("select count(*) from pg_replication_slots")
        seen["configuration loaded"] = warehouse.query("select pg_conf_load_time()")
        seen["settings"] = warehouse.query(
            "select name, setting from pg_settings where name in "
            "('statement_timeout', 'work_mem', 'search_path', 'default_transaction_read_only') order by name"
        )
    else:
        seen["tables"] = warehouse.query(
            "select database_name, schema_name, table_name from duckdb_tables() order by all"
        )
        seen["sequence"] = warehouse.query("select last_value from duckdb_sequences()")
        seen["databases"] = warehouse.query("select database_name from duckdb_databases() order by all")
        seen["extensions loaded"] = warehouse.query(
            "select extension_name from duckdb_extensions() where loaded order by all"
        )
        seen["settings"] = warehouse.query(
            "select name, value from duckdb_settings() where name in "
            "('memory_limit', 'threads', 'enable_external_access', 'search_path') order by name"
        )
    return seen


@pytest.fixture
def listener(seeded: Warehouse):
    """PostgreSQL: a connection LISTENing on the channel the attacks notify (None on DuckDB)."""
    if seeded.kind != "postgres":
        yield None
        return
    connection = connect(seeded.target)
    connection.autocommit = True
    connection.cursor().execute("listen cdp_attack")
    yield connection
    connection.close()


def test_the_attack_table_is_large() -> None:
    assert len(ATTACKS) >= 40 and len({query for query, _ in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize(("query", "named"), ATTACKS, ids=[f"attack{n:02d}" for n in range(len(ATTACKS))])
def test_escape_attempts_are_refused_and_leave_nothing(
    seeded: Warehouse, fake, listener, query: str, named: str
) -> None:
    service, server = fake
    service.records.clear()
    before = world(seeded)
    started = time.monotonic()
    with pytest.raises((ConfigError, WarehouseError)) as refusal:
        run(seeded, query_sync(server, query, name="attack"))
    assert time.monotonic() - started < 10, "a refused query returns at once"
    if isinstance(refusal.value, ConfigError):
        assert "models/adhoc.yml: exposures.attack.meta.cdp_sync.query" in str(refusal.value)
        assert any(part in str(refusal.value) for part in named.split("|")), str(refusal.value)
    assert world(seeded) == before
    assert service.records == {}, "nothing reached the destination"
    if listener is not None:
        listener.poll()
        assert listener.notifies == [], "no notification was committed"


@pytest.mark.parametrize(
    ("statement", "refused"),
    [
        ("select setval('activation.counter', 1000)", True),
        ("select nextval('activation.counter')", True),
        (
            "with added as (insert into activation.people values ('k', 'e', 1) returning *) select * from added",
            True,
        ),
        # PostgreSQL lets these two run in a read-only transaction: the rollback is what discards them.
        ("select lo_from_bytea(0, 'x')", False),
        ("select pg_notify('cdp_attack', 'x')", False),
    ],
)
def test_the_read_only_transaction_keeps_nothing_the_checks_would_have_caught(
    seeded: Warehouse, listener, statement: str, refused: bool
) -> None:
    """Defence in depth: whatever got past the checks runs where it cannot write, and is rolled back."""
    if seeded.kind == "duckdb" and not refused:
        pytest.skip("PostgreSQL functions")
    before = world(seeded)
    engine = SyncWarehouse(seeded.target)
    try:
        if refused:
            with pytest.raises(WarehouseError, match="read-only|read only|data-modifying"):
                list(engine.read_only_stream(statement, timeout_seconds=10))
        else:
            assert len(list(engine.read_only_stream(statement, timeout_seconds=10))) == 1
    finally:
        engine.close()
    assert world(seeded) == before
    if listener is not None:
        listener.poll()
        assert listener.notifies == []


def test_a_query_past_its_timeout_is_stopped(seeded: Warehouse, fake, monkeypatch) -> None:
    _, server = fake
    monkeypatch.setenv("CDP_QUERY_TIMEOUT_SECONDS", "1")
    slow = (
        "select cast(count(*) as varchar) as person_key from activation.orders as a, activation.orders as b, "
        "activation.orders as c, activation.orders as d, activation.orders as e where a.amount + b.amount + "
        "c.amount + d.amount + e.amount > length(md5(a.person_key || b.person_key || c.person_key))"
    )
    started = time.monotonic()
    with pytest.raises(WarehouseError, match="CDP_QUERY_TIMEOUT_SECONDS"):
        run(seeded, query_sync(server, slow, name="slow"))
    assert time.monotonic() - started < 30


def test_a_bad_timeout_setting_is_a_config_error(seeded: Warehouse, fake, monkeypatch) -> None:
    _, server = fake
    monkeypatch.setenv("CDP_QUERY_TIMEOUT_SECONDS", "soon")
    with pytest.raises(ConfigError, match="CDP_QUERY_TIMEOUT_SECONDS"):
        run(seeded, query_sync(server, "select person_key from activation.people", name="timeout"))


SEGMENT = """
with recent_orders as (
    -- orders of the last 30 days, per person
    select person_key, sum(amount) as revenue, max(ordered_at) as last_order_date, count(*) as orders
    from activation.orders
    where ordered_at >= current_date - interval '30 days'
    group by person_key
),
ranked as (
    select
        people.person_key,
        lower(trim(people.email)) as email,
        recent_orders.revenue,
        recent_orders.orders,
        row_number() over (order by recent_orders.revenue desc, people.person_key) as revenue_rank,
        cast(date_trunc('month', recent_orders.last_order_date) as date) as last_order_month
    from activation.people as people
    inner join recent_orders on recent_orders.person_key = people.person_key
    where people.email like '%@%'
)
select person_key, email, revenue, orders, revenue_rank, last_order_month
from ranked
where revenue_rank <= 5
"""


def test_a_segment_query_with_joins_ctes_windows_and_date_math_syncs_the_right_rows(
    seeded: Warehouse, fake
) -> None:
    service, server = fake
    service.records.clear()
    summary = run(seeded, query_sync(server, SEGMENT, name="top_spenders"))
    # People 1..10 ordered within 30 days (their large order 3n - 1 days ago); the top five spend most.
    expected = {f"key_{n}": 11 - n for n in range(10, 5, -1)}
    assert summary.confirmed == 5
    assert {key: record["revenue_rank"] for key, record in service.records.items()} == expected
    for key, record in service.records.items():
        n = int(key.split("_")[1])
        assert record["email"] == f"person{n}@example.org"
        assert record["revenue"] == n * 10 + 5 and record["orders"] == 2, "types survive the copy"
        # Everyone's latest order was seeded yesterday.
        assert record["last_order_month"] == str((dt.date.today() - dt.timedelta(days=1)).replace(day=1))
    # The rows were copied into the sync's table, which the diff read; a second run sends nothing.
    copied = seeded.scalar('select count(*) from cdp_sync."query__top_spenders"')
    assert copied == 5
    again = run(seeded, query_sync(server, SEGMENT, name="top_spenders"))
    assert again.sent == 0


def _manifest(tmp_path: Path, server: FakeServer, queries: dict[str, str]) -> Path:
    exposures = {
        f"exposure.cdp.{name}": {
            "name": name,
            "type": "application",
            "original_file_path": "models/adhoc.yml",
            "meta": {
                "cdp_sync": {
                    "query": query,
                    "destination": "webhook",
                    "mode": "upsert",
                    "primary_key": "person_key",
                    "options": {"url": f"{server.url}/records", "token_env": "TEST_WEBHOOK_TOKEN"},
                }
            },
        }
        for name, query in queries.items()
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": {}, "exposures": exposures}))
    return path


def test_an_unterminated_quote_is_a_config_error_naming_the_sync() -> None:
    exposure = {
        "name": "broken",
        "original_file_path": "models/adhoc.yml",
        "meta": {
            "cdp_sync": {
                "query": "select 'oops from activation.people",
                "destination": "webhook",
                "mode": "upsert",
                "primary_key": "person_key",
            }
        },
    }
    with pytest.raises(ConfigError, match=r"models/adhoc.yml: exposures.broken.meta.cdp_sync.query: .*parse"):
        parse_sync(exposure, {})


def test_one_broken_query_breaks_only_its_own_sync(
    seeded: Warehouse, fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, server = fake
    service.records.clear()
    manifest = _manifest(
        tmp_path,
        server,
        {
            "broken": "select 'oops as person_key from activation.people",
            "healthy": "select person_key, email from activation.people where score <= 3",
        },
    )
    syncs = load_syncs(manifest, seeded.kind)
    assert set(syncs) == {"broken", "healthy"} and syncs["healthy"].error is None
    assert syncs["broken"].error and "exposures.broken.meta.cdp_sync.query" in syncs["broken"].error

    for key, value in seeded.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(
        "reverse_etl.sync.service.project_syncs",
        lambda target, root=None, parse="if-changed": load_syncs(manifest, target.type),
    )
    runner = CliRunner()

    listed = runner.invoke(cli, ["sync", "list"])
    assert listed.exit_code == 0, listed.output
    assert "healthy: query_healthy -> webhook (upsert)" in listed.output
    assert "broken: query_broken -> webhook (upsert)  REFUSED: models/adhoc.yml" in listed.output

    status = runner.invoke(cli, ["sync", "status"])
    assert status.exit_code == 0, status.output
    assert "refused: models/adhoc.yml: exposures.broken.meta.cdp_sync.query" in status.output

    broken = runner.invoke(cli, ["sync", "run", "broken"])
    assert isinstance(broken.exception, ConfigError) and broken.exception.exit_code == 2
    assert "exposures.broken.meta.cdp_sync.query: the query does not parse" in str(broken.exception)

    healthy = runner.invoke(cli, ["sync", "run", "healthy"])
    assert healthy.exit_code == 0, healthy.output
    assert set(service.records) == {"key_1", "key_2", "key_3"}
