"""Benchmark: profiles mirrored to the Klaviyo fake through the engine, with Klaviyo's limits (10/s burst and
150/min steady per endpoint) and the default 2 s poll interval, then 1% of them removed from the list.

    python bench/klaviyo_import.py --rows 100000

Prints the wall time of each run, the import jobs and their sizes, the requests per endpoint and the 429s.
Each job is polled at least twice (the fake completes a job on its second poll), so a run cannot be faster
than about one poll interval per job.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import time
from pathlib import Path

from reverse_etl.destinations.base import Mode
from reverse_etl.project import Target, connect
from reverse_etl.sandbox.klaviyo import KlaviyoFake
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
    with tempfile.TemporaryDirectory() as folder:
        target = Target(name="duckdb", type="duckdb", path=str(Path(folder) / "bench.duckdb"))
        connection = connect(target)
        connection.execute("create schema activation")
        connection.execute(
            "create table activation.members as select 'cus_' || n as customer_id, "
            "'person' || n || '@example.org' as email, 'P' || n as first_name, n % 50 as orders, "
            "'segment_' || (n % 7) as segment from range(1, ? + 1) as t(n)",
            [args.rows],
        )
        connection.close()
        service = KlaviyoFake()
        with FakeServer(service) as server:
            os.environ["KLAVIYO_API_KEY"] = service.api_key
            list_id = next(iter(service.lists))
            sync = SyncConfig(
                name="bench_klaviyo",
                model="members",
                relation=Relation(None, "activation", "members"),
                destination="klaviyo",
                mode=Mode.MIRROR,
                primary_key="customer_id",
                fields={
                    "external_id": "customer_id",
                    "email": "email",
                    "first_name": "first_name",
                    "orders": "orders",
                    "segment": "segment",
                },
                options={"base_url": server.url, "list_id": list_id, "identifier": "external_id"},
                max_change_share=1.0,
            )
            warehouse = Warehouse(target)
            started = time.perf_counter()
            first = run_sync(warehouse, sync)
            import_seconds = time.perf_counter() - started
            import_requests = collections.Counter(method for method, _ in service.requests_seen)
            service.requests_seen.clear()
            warehouse.execute(
                "delete from activation.members where cast(substr(customer_id, 5) as integer) % 100 = 0"
            )
            warehouse.commit()
            started = time.perf_counter()
            second = run_sync(warehouse, sync)
            removal_seconds = time.perf_counter() - started
            removal_requests = collections.Counter(method for method, _ in service.requests_seen)
            warehouse.close()
    jobs = sorted(len(job["profiles"]) for job in service.jobs.values())
    print(
        f"import: {args.rows:,} profiles in {len(jobs)} jobs ({jobs[0]:,}..{jobs[-1]:,} profiles, largest body "
        f"{service.largest_body / 1e6:.2f} MB): {import_seconds:.1f} s = {args.rows / import_seconds:,.0f} profiles/s; "
        f"confirmed {first.confirmed:,}, rejected {first.rejected:,}; requests {dict(import_requests)}"
    )
    print(
        f"removal: {second.diff.removed:,} profiles off the list in {removal_seconds:.1f} s; requests "
        f"{dict(removal_requests)}; list now {len(service.lists[list_id]):,}; 429s answered by the fake: {service.throttled}"
    )


if __name__ == "__main__":
    main()
