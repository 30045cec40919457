"""Benchmark: `dbt build` of the whole project (every model, unit test and data test) on DuckDB, for generated
demo data of each size; prints generate time, build time and the slowest nodes.

    python bench/build.py --people 2000 1000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import new_duckdb_warehouse  # noqa: E402


def measure(people: int, seed: int, slowest: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cdp-build-") as folder:
        warehouse = new_duckdb_warehouse(Path(folder))
        started = time.perf_counter()
        summary = warehouse.generate(people=people, seed=seed)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        result = warehouse.dbt("build")
        built = time.perf_counter() - started
        customers = warehouse.scalar("select count(*) from marts.customers")
        size = (Path(folder) / "cdp.duckdb").stat().st_size
    kinds: dict[str, int] = {}
    for node in result.results:
        kind = node.node.resource_type if getattr(node, "node", None) is not None else "operation"
        kinds[str(kind)] = kinds.get(str(kind), 0) + 1
    print(f"people={people:,} seed={seed}: {summary.total_rows:,} raw rows, {customers:,} customers")
    print(f"  generate + load: {generated:.1f} s")
    print(f"  dbt build: {built:.1f} s ({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))})")
    print(f"  DuckDB file after the build: {size / 2**20:,.0f} MiB")
    timed = sorted(result.results, key=lambda node: node.execution_time, reverse=True)[:slowest]
    for node in timed:
        print(f"    {node.execution_time:7.1f} s  {node.node.name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, nargs="+", default=[2000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--slowest", type=int, default=5, help="how many of the slowest nodes to list")
    args = parser.parse_args()
    for people in args.people:
        measure(people, args.seed, args.slowest)


if __name__ == "__main__":
    main()
