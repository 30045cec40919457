"""The least-privilege PostgreSQL role of docs/syncs.md ("Read-only SQL"): with exactly those grants an ad-hoc
query sync runs, and what the checks would refuse meets a permission error from the server as well."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

import pytest

from conftest import Warehouse, _pg_admin_target, make_pg_database
from reverse_etl.destinations.base import Mode
from reverse_etl.destinations.webhook import WebhookDestination
from reverse_etl.errors import WarehouseError
from reverse_etl.http import HttpClient, RetryPolicy
from reverse_etl.project import connect
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse as SyncWarehouse

pytestmark = pytest.mark.postgres


@pytest.fixture
def service_role(request: pytest.FixtureRequest) -> Warehouse:
    """A fresh database with activation.people built by the admin, and a sync role with the documented grants."""
    dbname, drop = make_pg_database("cdp_role")
    role = f"cdp_sync_service_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin_target()
    statements = [
        "create schema activation",
        "create table activation.people as select 'key_' || n as person_key, "
        "'person' || n || '@example.org' as email, n as score from generate_series(1, 30) as t(n)",
        f'create role "{role}" login connection limit 5 nosuperuser nocreatedb nocreaterole noreplication',
        f'grant connect on database "{dbname}" to "{role}"',
        f'grant usage on schema activation to "{role}"',
        f'grant select on all tables in schema activation to "{role}"',
        "create schema cdp_sync",
        f'grant usage, create on schema cdp_sync to "{role}"',
        "revoke create on schema public from public",
    ]
    connection = connect(replace(admin, dbname=dbname))
    connection.autocommit = True
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    connection.close()

    def cleanup() -> None:
        drop()
        dropping = connect(admin)
        dropping.autocommit = True
        with dropping.cursor() as cursor:
            cursor.execute(f'drop role if exists "{role}"')
        dropping.close()

    request.addfinalizer(cleanup)
    return Warehouse("postgres", {"CDP_PG_DBNAME": dbname, "CDP_PG_USER": role})


def test_the_documented_role_runs_a_query_sync_and_nothing_more(
    service_role: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = WebhookFake(Faults(seed=3))
    engine = SyncWarehouse(service_role.target)
    try:
        with FakeServer(service) as server:
            monkeypatch.setenv("TEST_WEBHOOK_TOKEN", service.token)
            sync = SyncConfig(
                name="top_scores",
                model="query_top_scores",
                relation=Relation(None, "", "query_top_scores"),
                query="select person_key, email, score from activation.people where score > 25",
                destination="webhook",
                mode=Mode.UPSERT,
                primary_key="person_key",
                options={"url": f"{server.url}/records", "token_env": "TEST_WEBHOOK_TOKEN"},
                source_file="models/adhoc.yml",
            )
            destination = WebhookDestination(
                sync.options, lambda name: os.environ[name], HttpClient(retry=RetryPolicy(base_delay=0.01))
            )
            summary = run_sync(engine, sync, destination=destination)
        assert summary.confirmed == 5 and set(service.records) == {f"key_{n}" for n in range(26, 31)}
        # Past the checks, the server itself refuses what the role was not granted.
        for statement in (
            "select pg_read_file('/etc/hostname')",
            "select rolpassword from pg_authid",
            "select current_setting('data_directory')",
            "select pg_reload_conf()",
        ):
            with pytest.raises(WarehouseError, match="permission denied|must be superuser|privileges of"):
                list(engine.read_only_stream(statement, timeout_seconds=10))
        with pytest.raises(WarehouseError, match="permission denied"):
            engine.execute("create table activation.stolen (x int)")
    finally:
        engine.close()
