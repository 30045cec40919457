"""Benchmark: the same rows synced through the engine to the Salesforce fake (200 records per request, no
per-second limit) and to the Braze fake (75 attributes per request, 3,000 requests per 3 seconds, which the
client paces itself to), then mirrored after 10% of the rows left the model.

    python bench/salesforce_braze.py --rows 100000

Prints per destination: requests, wall time, rows/s and 429s / limit refusals of the first full sync, and the
mirror run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from reverse_etl.destinations.base import Mode
from reverse_etl.project import Target, connect
from reverse_etl.sandbox.braze import BrazeFake
from reverse_etl.sandbox.salesforce import SalesforceFake
from reverse_etl.sandbox.server import FakeServer, FakeService
from reverse_etl.sync.config import Relation, SyncConfig
from reverse_etl.sync.runner import run_sync
from reverse_etl.warehouse import Warehouse


def bench(target: Target, service: FakeService, sync: SyncConfig, rows: int) -> None:
    warehouse = Warehouse(target)
    try:
        started = time.perf_counter()
        first = run_sync(warehouse, sync)
        elapsed = time.perf_counter() - started
        requests = len(service.requests_seen)
        print(
            f"{sync.destination}: {first.confirmed:,} confirmed, {first.rejected:,} rejected in {requests:,} requests; "
            f"{elapsed:.1f} s ({rows / elapsed:,.0f} rows/s); 429s {getattr(service, 'throttled', 0)}, "
            f"limit refusals {getattr(service, 'limit_refusals', 0)}"
        )
        warehouse.execute("delete from activation.people where n % 10 = 0")
        warehouse.commit()
        started = time.perf_counter()
        mirror = run_sync(warehouse, sync)
        elapsed = time.perf_counter() - started
        print(
            f"{sync.destination} mirror: removed {mirror.diff.removed:,} in "
            f"{len(service.requests_seen) - requests:,} requests; {elapsed:.1f} s"
        )
    finally:
        warehouse.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    for name in ("salesforce", "braze"):
        with tempfile.TemporaryDirectory() as folder:
            target = Target(name="duckdb", type="duckdb", path=str(Path(folder) / "bench.duckdb"))
            connection = connect(target)
            connection.execute("create schema activation")
            connection.execute(
                "create table activation.people as select n, 'cus_' || n as customer_id, 'Person' || n as last_name, "
                "'person' || n || '@example.org' as email from range(1, ? + 1) as t(n)",
                [args.rows],
            )
            connection.close()
            service: FakeService
            if name == "salesforce":
                service = SalesforceFake(daily_api_requests=10**9)
                fields = {"Customer_Id__c": "customer_id", "LastName": "last_name", "Email": "email"}
                os.environ["SALESFORCE_ACCESS_TOKEN"] = service.token
            else:
                service = BrazeFake()
                fields = {"external_id": "customer_id", "last_name": "last_name", "email": "email"}
                os.environ["BRAZE_REST_API_KEY"] = service.api_key
            with FakeServer(service) as server:
                options = (
                    {"instance_url": server.url, "external_id_field": "Customer_Id__c"}
                    if name == "salesforce"
                    else {"rest_endpoint": server.url}
                )
                sync = SyncConfig(
                    name=f"bench_{name}",
                    model="people",
                    relation=Relation(None, "activation", "people"),
                    destination=name,
                    mode=Mode.MIRROR,
                    primary_key="customer_id",
                    fields=fields,
                    options=options,
                    max_change_share=1.0,
                )
                bench(target, service, sync, args.rows)


if __name__ == "__main__":
    main()
