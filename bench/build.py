"""Benchmark: `dbt build` of the whole project (every model, unit test and data test) on DuckDB, for generated
demo data of each size; prints generate time, build time and the slowest nodes.

    python bench/build.py --people 2000 1000000
    python bench/build.py --people 200000 --incremental

--incremental: after the first build, loads 1% new records (CRM contacts of existing customers, one in a
hundred bridging two customers, as bench/identity.py does; copies of 1% of the orders with their lines and of
1% of the tracked events, under new ids, received now and dated a day after the data's latest order and event,
so the traits' as-of date moves by one day as in a daily build), then times an incremental `dbt build` and a
`dbt build --full-refresh` of the same data, and lists each one's slowest nodes side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from identity import RAW_TABLES, add_records, cpu_seconds  # noqa: E402

from conftest import Warehouse, new_duckdb_warehouse  # noqa: E402

NEW_ORDERS_SQL = """
insert into raw.order_items
select * replace ('inc_' || order_item_id as order_item_id, 'inc_' || order_id as order_id)
from raw.order_items where hash(order_id) % 100 = 0;
insert into raw.orders
select * replace ('inc_' || order_id as order_id, cast(current_timestamp as timestamp) as received_at,
    (select max(ordered_at) from raw.orders) + interval 1 day as ordered_at)
from raw.orders where hash(order_id) % 100 = 0;
insert into raw.tracks
select * replace ('inc_' || id as id, cast(current_timestamp as timestamp) as received_at,
    (select max("timestamp") from raw.tracks) + interval 1 day as "timestamp")
from raw.tracks where hash(id) % 100 = 0;
"""


def timed(
    warehouse: Warehouse, *args: str
) -> tuple[float, dict[str, float], dict[str, int], dict[str, float]]:
    """Wall seconds, each node's seconds, the number of nodes of each kind and the seconds of each kind."""
    started = time.perf_counter()
    result = warehouse.dbt(*args, "--quiet")
    wall = time.perf_counter() - started
    kinds: dict[str, int] = {}
    kind_seconds: dict[str, float] = {}
    nodes: dict[str, float] = {}
    for node in result.results:
        kind = str(node.node.resource_type if getattr(node, "node", None) is not None else "operation")
        kinds[kind] = kinds.get(kind, 0) + 1
        kind_seconds[kind] = kind_seconds.get(kind, 0.0) + float(node.execution_time)
        nodes[node.node.name] = float(node.execution_time)
    return wall, nodes, kinds, kind_seconds


def by_kind(kind_seconds: dict[str, float]) -> str:
    return ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in sorted(kind_seconds.items()))


def add_one_percent(warehouse: Warehouse) -> int:
    records = sum(warehouse.scalar(f'select count(*) from raw."{table}"') for table in RAW_TABLES)
    add_records(warehouse, max(1, records // 100 // 3), 1)
    for statement in NEW_ORDERS_SQL.split(";"):
        if statement.strip():
            warehouse.execute(statement)
    return sum(warehouse.scalar(f'select count(*) from raw."{table}"') for table in RAW_TABLES) - records


def measure(people: int, seed: int, slowest: int, incremental: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="cdp-build-") as folder:
        warehouse = new_duckdb_warehouse(Path(folder))
        started = time.perf_counter()
        summary = warehouse.generate(people=people, seed=seed)
        generated = time.perf_counter() - started
        load_before, cpu_before = os.getloadavg()[0], cpu_seconds()
        built, nodes, kinds, _ = timed(warehouse, "build")
        build_cpu = cpu_seconds() - cpu_before
        customers = warehouse.scalar("select count(*) from marts.customers")
        size = (Path(folder) / "cdp.duckdb").stat().st_size
        print(f"people={people:,} seed={seed}: {summary.total_rows:,} raw rows, {customers:,} customers")
        print(f"  generate + load: {generated:.1f} s")
        print(f"  dbt build: {built:.1f} s ({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))})")
        print(
            f"  CPU time (user + system) {build_cpu:.1f} s;"
            f" load average {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
        )
        print(f"  DuckDB file after the build: {size / 2**20:,.0f} MiB")
        if not incremental:
            for name, seconds in sorted(nodes.items(), key=lambda item: -item[1])[:slowest]:
                print(f"    {seconds:7.1f} s  {name}")
            return
        added = add_one_percent(warehouse)
        print(f"  {added:,} new raw records; load average {os.getloadavg()[0]:.2f}", flush=True)
        inc_wall, inc_nodes, _, inc_kinds = timed(warehouse, "build")
        full_wall, full_nodes, _, full_kinds = timed(warehouse, "build", "--full-refresh")
        print(
            f"  incremental dbt build {inc_wall:.1f} s, dbt build --full-refresh {full_wall:.1f} s:"
            f" {inc_wall / full_wall:.1%}; load average {os.getloadavg()[0]:.2f}"
        )
        print(f"    {'node':<44} {'incremental':>11} {'full':>8}")
        for name in sorted(inc_nodes, key=lambda item: -inc_nodes[item])[:slowest]:
            print(f"    {name:<44} {inc_nodes[name]:>11.2f} {full_nodes.get(name, 0.0):>8.2f}")
        print(f"    {'(sum of nodes)':<44} {sum(inc_nodes.values()):>11.2f} {sum(full_nodes.values()):>8.2f}")
        print(f"  node seconds by kind: incremental {by_kind(inc_kinds)}; full {by_kind(full_kinds)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, nargs="+", default=[2000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--slowest", type=int, default=5, help="how many of the slowest nodes to list")
    parser.add_argument("--incremental", action="store_true", help="also time an incremental build (1%% new)")
    args = parser.parse_args()
    for people in args.people:
        measure(people, args.seed, args.slowest, args.incremental)


if __name__ == "__main__":
    main()
