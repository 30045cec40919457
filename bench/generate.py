"""Benchmark: generate demo people and load them into a fresh DuckDB file; prints seconds and rows.

python bench/generate.py --people 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from reverse_etl.generator import generate
from reverse_etl.project import Target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdp-bench-") as folder:
        target = Target(name="duckdb", type="duckdb", path=str(Path(folder) / "bench.duckdb"))
        started = time.perf_counter()
        summary = generate(target, people=args.people, seed=args.seed)
        elapsed = time.perf_counter() - started
    print(f"people={args.people:,} seed={args.seed}")
    for table, rows in summary.rows.items():
        print(f"  {table:<18} {rows:>12,}")
    print(f"total rows: {summary.total_rows:,}")
    print(f"generate: {summary.generate_seconds:.1f} s, load into DuckDB file: {summary.load_seconds:.1f} s")
    print(f"wall: {elapsed:.1f} s ({summary.total_rows / elapsed:,.0f} rows/s)")


if __name__ == "__main__":
    main()
