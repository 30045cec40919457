"""The BI copy: BI users query cdp_bi.duckdb while the scheduler builds, publishes and syncs on cdp.duckdb."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from bi_reader import READER, bi_user
from click.testing import CliRunner

from conftest import Warehouse, copy_of_built_duckdb
from reverse_etl.cli import cli
from reverse_etl.destinations.base import Mode
from reverse_etl.errors import WarehouseError
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.serve import AFTER_DBT, Scheduler
from reverse_etl.sync.config import Relation, SyncConfig


@pytest.fixture(scope="module")
def built(built_duckdb: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return copy_of_built_duckdb(built_duckdb, tmp_path_factory.mktemp("publish"))


@pytest.fixture
def cli_env(built, monkeypatch: pytest.MonkeyPatch):
    for key, value in built.env.items():
        monkeypatch.setenv(key, value)
    return built


def test_publish_copies_the_bi_schemas_into_a_file_of_their_own(cli_env) -> None:
    published = CliRunner().invoke(cli, ["publish"])
    assert published.exit_code == 0, published.output
    copy = Path(cli_env.target.path).with_name("cdp_bi.duckdb")
    assert f"to {copy} in" in published.output
    tables = cli_env.query(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('marts', 'segments', 'identity') order by 1, 2"
    )
    assert f"published {len(tables)} tables" in published.output
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); print(c.execute("
            "\"select table_schema, table_name from information_schema.tables where table_schema != 'main' "
            "order by 1, 2\").fetchall()); print(c.execute('select count(*) from marts.customers').fetchone()[0])",
            str(copy),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    listed, customers = reader.stdout.splitlines()
    assert listed == str(tables) and int(customers) == cli_env.scalar("select count(*) from marts.customers")
    assert not list(copy.parent.glob(".cdp_bi.duckdb.*")), "no temporary file is left behind"


def test_a_copy_someone_opened_for_writing_is_not_replaced(cli_env) -> None:
    copy = Path(cli_env.target.path).with_name("cdp_bi.duckdb")
    wal = Path(f"{copy}.wal")
    wal.write_bytes(b"")
    try:
        refused = CliRunner().invoke(cli, ["publish"])
    finally:
        wal.unlink()
    assert isinstance(refused.exception, WarehouseError)
    assert "cdp_bi.duckdb.wal exists: a process opened the published copy for writing" in str(
        refused.exception
    )


def test_publish_and_build_name_a_warehouse_held_by_a_bi_user(cli_env) -> None:
    with bi_user(cli_env.target.path) as reader:
        for command in ("publish", "build"):
            refused = CliRunner().invoke(cli, [command])
            assert isinstance(refused.exception, WarehouseError) and refused.exception.exit_code == 3
            assert str(refused.exception).startswith(
                f"warehouse busy: another process holds the DuckDB file lock (PID {reader.pid}, python"
            ), str(refused.exception)
            assert "published copy (`cdp publish`" in str(refused.exception)


def test_bi_readers_query_the_copy_while_the_scheduler_builds_publishes_and_syncs(cli_env) -> None:
    warehouse = cli_env
    assert CliRunner().invoke(cli, ["publish"]).exit_code == 0
    copy = str(Path(warehouse.target.path).with_name("cdp_bi.duckdb"))
    service = WebhookFake()
    with FakeServer(service) as server:
        sync = SyncConfig(
            name="webhook_customers",
            model="sync_webhook__customers",
            relation=Relation(None, "activation", "sync_webhook__customers"),
            destination="webhook",
            mode=Mode.UPSERT,
            primary_key="customer_id",
            fields={"email": "email"},
            options={"url": f"{server.url}/records", "token_env": "TEST_WEBHOOK_TOKEN"},
            schedule=AFTER_DBT,
        )
        scheduler = Scheduler(warehouse.target, {sync.name: sync}, dbt_schedule="0 * * * *")
        readers = {mode: Reader(mode, copy) for mode in ("fresh", "kept")}
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("TEST_WEBHOOK_TOKEN", service.token)
                with bi_user(warehouse.target.path):
                    assert scheduler.tick() == [], "the warehouse file is held: the build waits"
                    assert scheduler.status()["warehouse_state"]["waiting"] == ["dbt build"]
                    assert scheduler.last_dbt_build is None
                assert scheduler.tick() == ["dbt build", "webhook_customers"]
                with bi_user(warehouse.target.path):
                    pass  # the build in this process left the file free for other processes
                for _ in range(3):
                    assert CliRunner().invoke(cli, ["publish"]).exit_code == 0
        finally:
            seen = {mode: reader.finish() for mode, reader in readers.items()}
    assert any("published" in line and "cdp_bi.duckdb" in line for line in scheduler.log), scheduler.log
    assert len(service.records) == warehouse.scalar("select count(*) from activation.sync_webhook__customers")
    assert len(seen["fresh"]) >= 5 and len(seen["kept"]) >= 5
    counts = {
        json.dumps({k: v for k, v in read.items() if k != "published_at"})
        for read in seen["fresh"] + seen["kept"]
    }
    assert len(counts) == 1, f"every read saw one whole copy: {counts}"
    assert len({read["published_at"] for read in seen["fresh"]}) >= 2, (
        "a newer copy replaced the one read before"
    )
    assert len({read["published_at"] for read in seen["kept"]}) == 1, (
        "an open reader keeps the copy it opened"
    )


class Reader:
    """A BI reader process (tests/bi_reader.py) whose output a thread collects as it comes: a pipe left
    unread fills up and blocks the reader in the middle of a read, holding the copy it had open."""

    def __init__(self, mode: str, path: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(READER), mode, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "open"
        self.lines: list[str] = []
        self.collector = threading.Thread(target=self.lines.extend, args=(self.process.stdout,), daemon=True)
        self.collector.start()

    def finish(self) -> list[dict[str, object]]:
        """Stop the reader; its reads, after checking it met no error."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=120)
        self.collector.join(timeout=30)
        stderr = self.process.stderr.read() if self.process.stderr else ""
        reads = [json.loads(line) for line in self.lines]
        errors = [read["error"] for read in reads if "error" in read]
        assert errors == [] and self.process.returncode == 0, (errors[:3], stderr)
        return [read["counts"] for read in reads]


def test_on_postgresql_publish_says_readers_use_the_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_TARGET", "postgres")
    result = CliRunner().invoke(cli, ["publish"])
    assert result.exit_code == 0, result.output
    assert "nothing to publish on postgres" in result.output and "(MVCC)" in result.output
