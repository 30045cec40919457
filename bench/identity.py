"""Benchmark: connected components of identity-shaped graphs (long chains of rotating ids, hubs, random
links) with the project's SQL macro, against scipy on the same edges in the same run.

    python bench/identity.py --sizes 10000 100000 1000000 --warehouses duckdb
    python bench/identity.py --sizes 10000 100000 --warehouses postgres
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import graphs  # noqa: E402
from conftest import make_pg_database, new_duckdb_warehouse, new_postgres_warehouse  # noqa: E402


def identity_shaped(nodes: int, rng: np.random.Generator) -> np.ndarray:
    """30% of nodes in chains of 1,000, 10% in hubs of 5,000 leaves, the rest randomly linked."""
    parts, offset = [], 0
    chain_nodes = int(nodes * 0.3)
    for _ in range(max(1, chain_nodes // 1000)):
        parts.append(graphs.chain(1000, rng) + offset)
        offset += 1000
    hub_nodes = int(nodes * 0.1)
    for _ in range(max(1, hub_nodes // 5000)):
        parts.append(graphs.star(5000, rng) + offset)
        offset += 5001
    rest = nodes - offset
    parts.append(graphs.random_graph(rest, int(rest * 0.6), rng) + offset)
    return np.concatenate(parts)


def scipy_seconds(edges: np.ndarray) -> tuple[float, int]:
    started = time.perf_counter()
    size = int(edges.max()) + 1
    matrix = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(size, size))
    count, _ = connected_components(matrix, directed=False)
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--warehouses", nargs="+", default=["duckdb"], choices=["duckdb", "postgres"])
    args = parser.parse_args()
    print(
        f"{'warehouse':<9} {'nodes':>10} {'edges':>10} {'rounds':>6} {'sql s':>8} {'scipy s':>8} {'ratio':>7}"
    )
    for kind in args.warehouses:
        for size in args.sizes:
            edges = identity_shaped(size, np.random.default_rng(size))
            reference, _ = scipy_seconds(edges)
            with tempfile.TemporaryDirectory() as folder:
                drop = None
                if kind == "duckdb":
                    warehouse = new_duckdb_warehouse(Path(folder))
                else:
                    name, drop = make_pg_database(f"cdp_bench_{uuid.uuid4().hex[:6]}")
                    warehouse = new_postgres_warehouse(name)
                try:
                    graphs.load_edges(warehouse, "bench", "edges", edges)
                    warehouse.dbt(
                        "run-operation",
                        "run_connected_components",
                        "--args",
                        "{schema: bench, edges: edges, labels: labels}",
                    )
                    rounds, seconds = warehouse.query("select rounds, seconds from bench.labels_rounds")[0]
                    seconds = float(seconds)
                finally:
                    if drop:
                        drop()
            print(
                f"{kind:<9} {size:>10,} {len(edges):>10,} {rounds:>6} {seconds:>8.2f} {reference:>8.3f} {seconds / reference:>7.1f}"
            )


if __name__ == "__main__":
    main()
