"""Syncs from a model in Spark: the diff runs in Spark, the journal and the commits in the state store (a DuckDB
file beside the Spark tables by default), with the guarantees of the other warehouses: right rows, then only
changes, kill -9 mid-run loses and duplicates nothing, the blast-radius guard, forget requests. Tiny models
written straight into Spark tables (no dbt build); one Spark session for the module, one more per worker of
the crash test (in a warehouse folder of its own, so the two metastores never meet)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import ROOT, environment, make_pg_database
from reverse_etl.destinations.base import Mode
from reverse_etl.destinations.webhook import WebhookDestination
from reverse_etl.errors import ConfigError, RefusedRun
from reverse_etl.http import HttpClient, RetryPolicy
from reverse_etl.project import load_target
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import RunSummary, run_sync
from reverse_etl.sync.spark_model import SparkModel
from reverse_etl.warehouse import sync_warehouse
from test_sync_engine import webhook_sync

pytestmark = pytest.mark.spark

SUPPRESSED = Relation(None, "privacy", "suppressed_customers")


@pytest.fixture(scope="module")
def spark(spark_env: dict[str, str]) -> Any:
    from reverse_etl.spark import spark_session

    session = spark_session()
    session.sql("create schema if not exists activation")
    session.sql("create schema if not exists privacy")
    return session


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    service = WebhookFake()
    with FakeServer(service) as server:
        monkeypatch.setenv("TEST_WEBHOOK_TOKEN", service.token)
        yield service, server


def people(spark: Any, table: str, count: int, where: str = "true", bump: str = "false") -> None:
    """activation.<table>: keys 1..count (those matching `where`), score + 1 where `bump` holds."""
    spark.sql(f"drop table if exists activation.{table}")
    spark.sql(
        f"create table activation.{table} using parquet as select concat('key_', cast(id as string)) as person_key, "
        "concat('person', cast(id as string), '@example.org') as email, "
        f"case when {bump} then id + 1 else id end as score from range(1, {count} + 1) where {where}"
    )


def model_state(spark: Any, table: str) -> dict[str, dict[str, object]]:
    rows = spark.sql(f"select person_key, email, score from activation.{table}").collect()
    return {row[0]: {"email": row[1], "score": row[2]} for row in rows}


def run(server: FakeServer, sync: SyncConfig, **kwargs: Any) -> RunSummary:
    engine = sync_warehouse(load_target("spark"))
    try:
        destination = WebhookDestination(
            sync.options,
            lambda name: os.environ[name],
            HttpClient(retry=RetryPolicy(base_delay=0.01)),
        )
        return run_sync(engine, sync, destination=destination, **kwargs)
    finally:
        engine.close()


def state_rows(sql: str, folder: str) -> list[tuple[Any, ...]]:
    """A query of the default state store, the DuckDB file in the Spark warehouse folder."""
    with duckdb.connect(str(Path(folder) / "cdp_sync_state.duckdb")) as connection:
        return connection.execute(sql).fetchall()


def test_a_spark_model_is_delivered_then_only_its_changes(
    spark: Any, fake, spark_env: dict[str, str]
) -> None:
    service, server = fake
    people(spark, "mirrored", 120)
    sync = webhook_sync(server, mode=Mode.MIRROR, table="mirrored", name="spark_mirror")
    first = run(server, sync)
    assert (first.diff.added, first.sent, first.confirmed) == (120, 120, 120)
    assert service.records == model_state(spark, "mirrored")

    again = run(server, sync)
    assert (again.diff.added, again.diff.changed, again.diff.removed, again.sent) == (0, 0, 0, 0)

    # Six rows change, ten leave the model: exactly those sixteen are sent.
    people(spark, "mirrored", 120, where="id % 12 <> 0", bump="id % 20 = 1")
    changes = run(server, sync)
    assert (changes.diff.changed, changes.diff.removed, changes.sent) == (6, 10, 16)
    assert service.records == model_state(spark, "mirrored")
    assert max(service.creates.values()) == 1
    # The run left Spark's copy of the snapshot equal to the store's (the next run need not copy it again).
    engine = sync_warehouse(load_target("spark"))
    try:
        model = SparkModel(engine.models, sync)
        assert model.copy_checksum() == model.store_checksum(engine) != "0:0"
    finally:
        engine.close()
    # A copy that is not the store's (here: one row too many) is never trusted: it is copied again first.
    spark.sql(
        "insert into cdp_sync.`snapshot__spark_mirror` values ('spark_mirror', 'key_999', 'stale', 'synced', 0, null)"
    )
    assert run(server, sync).sent == 0
    # The state is in the store, not in Spark: every model row confirmed there.
    folder = spark_env["CDP_SPARK_WAREHOUSE_DIR"]
    assert state_rows(
        "select count(*) from cdp_sync.snapshots where sync_name = 'spark_mirror' and status = 'synced'",
        folder,
    ) == [(110,)]
    assert state_rows(
        "select count(*) from information_schema.tables where table_name = 'model__spark_mirror'", folder
    ) == [(0,)]


@pytest.mark.postgres
def test_the_blast_radius_guard_trips_with_the_state_in_postgresql(spark: Any, fake) -> None:
    """The same run protocol with PostgreSQL as the state store (CDP_SPARK_STATE_TARGET=postgres)."""
    service, server = fake
    name, drop = make_pg_database("cdp_sparksync")
    try:
        with environment({"CDP_SPARK_STATE_TARGET": "postgres", "CDP_PG_DBNAME": name}):
            people(spark, "guarded", 40)
            sync = webhook_sync(
                server, mode=Mode.MIRROR, table="guarded", name="spark_guard", max_change_share=0.2
            )
            run(server, sync)
            people(spark, "guarded", 40, where="id % 2 = 0")
            with pytest.raises(RefusedRun, match="20 of 40"):
                run(server, sync)
            assert len(service.records) == 40, "a refused run sends nothing"
            assert run(server, sync, allow_mass_change=True).diff.removed == 20
            assert service.records == model_state(spark, "guarded")
    finally:
        drop()


def test_a_forgotten_customer_is_deleted_from_an_upsert_sync(
    spark: Any, fake, spark_env: dict[str, str]
) -> None:
    service, server = fake
    people(spark, "forgetful", 30)
    spark.sql("drop table if exists privacy.suppressed_customers")
    spark.sql("create table privacy.suppressed_customers (customer_id string) using parquet")
    sync = webhook_sync(server, table="forgetful", name="spark_forget", forget_from=SUPPRESSED)
    run(server, sync)
    spark.sql("insert into privacy.suppressed_customers values ('key_7')")
    people(spark, "forgetful", 30, where="id <> 7")
    summary = run(server, sync)
    assert (summary.forgotten.queued, summary.forgotten.confirmed) == (1, 1)
    assert "key_7" not in service.records and len(service.records) == 29
    assert service.deletes == {"key_7": 1}
    folder = spark_env["CDP_SPARK_WAREHOUSE_DIR"]
    assert state_rows(
        "select record_key from cdp_sync.forgotten where sync_name = 'spark_forget'", folder
    ) == [("key_7",)]


def test_cdp_sync_run_and_status_with_the_spark_target(
    spark: Any, fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from reverse_etl.cli import cli

    service, server = fake
    people(spark, "commanded", 25)
    sync = webhook_sync(server, table="commanded", name="spark_cli")
    # The declared syncs, as the project's manifest would give them (no dbt parse in this test).
    monkeypatch.setattr(
        "reverse_etl.sync.service.project_syncs", lambda target, *args, **kwargs: {sync.name: sync}
    )
    planned = CliRunner().invoke(cli, ["sync", "plan", "spark_cli", "--target", "spark"])
    assert planned.exit_code == 0 and "added 25" in planned.output, planned.output
    assert service.records == {}, "a plan sends nothing"
    ran = CliRunner().invoke(cli, ["sync", "run", "spark_cli", "--target", "spark"])
    assert ran.exit_code == 0, ran.output
    assert "confirmed 25" in ran.output and service.records == model_state(spark, "commanded")
    status = CliRunner().invoke(cli, ["sync", "status", "--target", "spark"])
    assert status.exit_code == 0 and "spark_cli: 25 synced, 0 rejected" in status.output


def test_the_state_store_must_be_transactional(spark_env: dict[str, str]) -> None:
    with (
        environment({"CDP_SPARK_STATE_TARGET": "spark"}),
        pytest.raises(ConfigError, match="duckdb or postgres"),
    ):
        sync_warehouse(load_target("spark"))


def test_kill_nine_mid_run_then_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """The worker starts Spark in a warehouse folder of its own; it is killed (with its JVM) once batches
    reached the destination, then a second worker finishes the sync."""
    rows = 3000
    env = {
        **os.environ,
        "CDP_SPARK_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
        "CDP_SPARK_MASTER": "local[1]",
        "CDP_SPARK_SHUFFLE_PARTITIONS": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CDP_SPARK_STATE_TARGET", None)
    service = WebhookFake(latency_seconds=0.3)
    with FakeServer(service) as server:
        env["TEST_WEBHOOK_TOKEN"] = service.token

        def worker() -> subprocess.Popen[str]:
            return subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "tests" / "sync_worker.py"),
                    "spark",
                    f"{server.url}/records",
                    str(rows),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )

        killed = worker()
        deadline = time.monotonic() + 300
        while len(service.requests_seen) < 2 and killed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert killed.poll() is None, killed.communicate()[0][-2000:]
        os.killpg(killed.pid, signal.SIGKILL)  # the run and its Spark JVM
        killed.wait()
        service.wait_idle()
        assert 0 < len(service.records) < rows
        final = worker()
        output, _ = final.communicate(timeout=300)
        assert final.returncode == 0, output[-2000:]

    expected = {f"key_{n}": {"email": f"p{n}@example.org", "score": n} for n in range(1, rows + 1)}
    assert service.records == expected
    assert max(service.creates.values()) == 1, "no record was created twice"
    folder = str(tmp_path / "warehouse")
    assert state_rows(
        "select count(*) from cdp_sync.snapshots where sync_name = 'crash_people' and status = 'synced'",
        folder,
    ) == [(rows,)]
    assert dict(state_rows("select status, count(*) from cdp_sync.runs group by status", folder)) == {
        "interrupted": 1,
        "success": 1,
    }
