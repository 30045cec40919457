"""Benchmark: 100,000 changed contacts synced to the HubSpot fake, which enforces HubSpot's 190 requests per
rolling 10 seconds. 1,000 requests of 100 inputs cannot finish before 1000 / 19 = 52.6 s; the engine should
land within 5% of that floor with no failed rows.

    python bench/hubspot_quota.py --rows 100000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from reverse_etl.destinations.base import Mode
from reverse_etl.project import Target, connect
from reverse_etl.sandbox.hubspot import HubSpotFake
from reverse_etl.sandbox.server import FakeServer
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    requests = -(-args.rows // 100)
    floor = requests / 19
    with tempfile.TemporaryDirectory() as folder:
        target = Target(name="duckdb", type="duckdb", path=str(Path(folder) / "bench.duckdb"))
        connection = connect(target)
        connection.execute("create schema activation")
        connection.execute(
            "create table activation.crm as select 'cus_' || n as customer_id, 'person' || n || '@example.org' as email, "
            "'P' || n as firstname, n % 50 as orders from range(1, ? + 1) as t(n)",
            [args.rows],
        )
        connection.close()
        service = HubSpotFake()
        with FakeServer(service) as server:
            os.environ["HUBSPOT_ACCESS_TOKEN"] = service.token
            sync = SyncConfig(
                name="bench_hubspot",
                model="crm",
                relation=Relation(None, "activation", "crm"),
                destination="hubspot",
                mode=Mode.UPSERT,
                primary_key="customer_id",
                fields={"email": "email", "firstname": "firstname", "orders": "orders"},
                options={"base_url": server.url},
                max_change_share=1.0,
            )
            warehouse = Warehouse(target)
            started = time.perf_counter()
            summary = run_sync(warehouse, sync)
            elapsed = time.perf_counter() - started
            warehouse.close()
    print(f"contacts: {args.rows:,} in {requests:,} requests; floor {floor:.1f} s at 190 requests / 10 s")
    print(
        f"confirmed {summary.confirmed:,}, rejected {summary.rejected:,}, 429s answered by the fake: {service.throttled}"
    )
    print(f"wall: {elapsed:.1f} s = {elapsed / floor * 100 - 100:+.1f}% of the floor")


if __name__ == "__main__":
    main()
