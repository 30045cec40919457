"""Forget requests reach the destinations: rows of suppressed customers are deleted there whatever the sync's
mode, audited, and kept queued until the destination confirms."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Warehouse, fresh_warehouse
from reverse_etl.destinations.base import Mode
from reverse_etl.errors import DestinationError
from reverse_etl.project import target_dir
from reverse_etl.sandbox.server import FakeServer, Faults
from reverse_etl.sandbox.webhook import WebhookFake
from reverse_etl.sync.config import Relation
from test_sync_engine import make_people, run, webhook_sync

SUPPRESSED = Relation(None, "privacy", "suppressed_customers")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def scratch(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    warehouse = fresh_warehouse(request.param, request, tmp_path, "cdp_forget")
    make_people(warehouse, 60)
    warehouse.execute("create schema if not exists privacy")
    warehouse.execute("create table privacy.suppressed_customers (customer_id varchar)")
    return warehouse


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    service = WebhookFake(Faults(seed=5))
    with FakeServer(service) as server:
        monkeypatch.setenv("TEST_WEBHOOK_TOKEN", service.token)
        yield service, server


def forget(warehouse: Warehouse, keys: list[str]) -> None:
    """What a deletion request does in dbt: the customer joins the suppression list and leaves the model."""
    mark = "%s" if warehouse.kind == "postgres" else "?"
    for key in keys:
        warehouse.execute(f"insert into privacy.suppressed_customers values ({mark})", (key,))
        warehouse.execute(f"delete from activation.people where person_key = {mark}", (key,))


@pytest.mark.parametrize("mode", [Mode.UPSERT, Mode.INSERT])
def test_suppressed_customers_are_deleted_even_by_syncs_that_never_remove(
    scratch: Warehouse, fake, mode: Mode
) -> None:
    service, server = fake
    sync = webhook_sync(server, mode=mode, forget_from=SUPPRESSED)
    run(scratch, sync)
    assert len(service.records) == 60
    forget(scratch, ["key_3", "key_40"])
    summary = run(scratch, sync)
    assert (summary.forgotten.queued, summary.forgotten.confirmed, summary.forgotten.rejected) == (2, 2, 0)
    assert "key_3" not in service.records and "key_40" not in service.records
    assert len(service.records) == 58
    assert service.deletes == {"key_3": 1, "key_40": 1}
    audit = scratch.query("select record_key, run_id from cdp_sync.forgotten order by record_key")
    assert [key for key, _ in audit] == ["key_3", "key_40"] and {run_id for _, run_id in audit} == {
        summary.run_id
    }
    assert scratch.scalar("select count(*) from cdp_sync.forget_queue") == 0
    assert (
        scratch.scalar("select count(*) from cdp_sync.snapshots where record_key in ('key_3', 'key_40')") == 0
    )
    again = run(scratch, sync)
    assert again.forgotten.queued == 0 and service.deletes == {"key_3": 1, "key_40": 1}


def test_a_failed_delete_stays_queued_and_is_sent_next_run(scratch: Warehouse, fake) -> None:
    service, server = fake
    sync = webhook_sync(server, forget_from=SUPPRESSED)
    run(scratch, sync)
    forget(scratch, ["key_7"])
    service.faults = Faults(seed=5, server_error_rate=1.0)
    with pytest.raises(DestinationError):
        run(scratch, sync)
    assert "key_7" in service.records
    assert scratch.query("select record_key from cdp_sync.forget_queue") == [("key_7",)]
    assert scratch.scalar("select count(*) from cdp_sync.forgotten") == 0

    service.faults = Faults(seed=5)
    summary = run(scratch, sync)
    assert summary.forgotten.confirmed == 1 and "key_7" not in service.records
    assert scratch.scalar("select count(*) from cdp_sync.forget_queue") == 0


def test_without_a_suppression_list_nothing_is_forgotten(scratch: Warehouse, fake) -> None:
    service, server = fake
    sync = webhook_sync(server)
    run(scratch, sync)
    forget(scratch, ["key_9"])
    summary = run(scratch, sync)
    assert summary.forgotten.queued == 0 and "key_9" in service.records


def test_project_syncs_keyed_by_customer_id_forget_suppressed_customers(built_duckdb: Warehouse) -> None:
    from conftest import ROOT
    from reverse_etl.sync.config import load_syncs

    syncs = load_syncs(target_dir(ROOT) / "manifest.json")
    keyed = [sync for sync in syncs.values() if sync.primary_key == "customer_id"]
    assert keyed and all(
        sync.forget_from is not None and sync.forget_from.name == "suppressed_customers" for sync in keyed
    )
