"""A model of people whose match key (email, or an external id derived from it) changes between runs, driven
through the engine (run_sync) against a destination fake: the shared set-up of the match-key-change tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import new_duckdb_warehouse
from reverse_etl.destinations.base import Mode
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import RunSummary, run_sync
from reverse_etl.warehouse import Warehouse

PEOPLE = 50
CHANGED = ("cus_3", "cus_17", "cus_28", "cus_41", "cus_50")
REMOVED = ("cus_3", "cus_9")


def old_email(n: int) -> str:
    return f"person{n}@example.org"


def new_email(key: str) -> str:
    return f"moved{key.removeprefix('cus_')}@example.net"


class People:
    """activation.people: customer_id, email (person<n>@example.org), first_name, last_name, phone."""

    def __init__(self, warehouse: Warehouse, engine: Warehouse) -> None:
        self.warehouse, self.engine = warehouse, engine

    def sync(
        self, destination: str, fields: dict[str, str], options: dict[str, Any], mode: Mode = Mode.MIRROR
    ) -> SyncConfig:
        return SyncConfig(
            name=f"{destination}_people",
            model="people",
            relation=Relation(None, "activation", "people"),
            destination=destination,
            mode=mode,
            primary_key="customer_id",
            fields=fields,
            options=options,
            max_change_share=1.0,
        )

    def run(self, sync: SyncConfig) -> RunSummary:
        summary = run_sync(self.engine, sync)
        assert summary.rejected == 0, summary.describe()
        return summary

    def change_emails(self, keys: tuple[str, ...] = CHANGED) -> None:
        for key in keys:
            self.warehouse.execute(
                "update activation.people set email = ? where customer_id = ?", (new_email(key), key)
            )

    def remove(self, keys: tuple[str, ...] = REMOVED) -> None:
        for key in keys:
            self.warehouse.execute("delete from activation.people where customer_id = ?", (key,))

    def destination_ids(self, sync: SyncConfig) -> dict[str, str]:
        """What the engine keeps for each row: the destination id of its last confirmed write."""
        rows = self.engine.query(
            "select record_key, destination_id from cdp_sync.snapshots where sync_name = ?", (sync.name,)
        )
        return {str(key): str(value) for key, value in rows}

    def expected_emails(self, removed: tuple[str, ...] = ()) -> set[str]:
        return {
            new_email(f"cus_{n}") if f"cus_{n}" in CHANGED else old_email(n)
            for n in range(1, PEOPLE + 1)
            if f"cus_{n}" not in removed
        }


@contextmanager
def people(folder: Path, count: int = PEOPLE) -> Iterator[People]:
    warehouse = new_duckdb_warehouse(folder)
    warehouse.execute("create schema activation")
    warehouse.execute(
        "create table activation.people as select 'cus_' || n as customer_id, "
        "'person' || n || '@example.org' as email, 'First' || n as first_name, 'Last' || n as last_name "
        "from range(1, ?) as t(n)",
        (count + 1,),
    )
    engine = Warehouse(warehouse.target)
    try:
        yield People(warehouse, engine)
    finally:
        engine.close()
