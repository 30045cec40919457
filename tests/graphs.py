"""Graph shapes for the connected-components tests and benchmark, and loading them as edge tables."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np

from conftest import Warehouse


def shuffled_ids(count: int, rng: np.random.Generator) -> np.ndarray:
    """Node ids in random order, so a chain is not already sorted by id."""
    return rng.permutation(count).astype(np.int64) + 1


def chain(length: int, rng: np.random.Generator) -> np.ndarray:
    ids = shuffled_ids(length, rng)
    return np.stack([ids[:-1], ids[1:]], axis=1)


def star(leaves: int, rng: np.random.Generator) -> np.ndarray:
    ids = shuffled_ids(leaves + 1, rng)
    return np.stack([np.full(leaves, ids[0]), ids[1:]], axis=1)


def random_graph(nodes: int, edges: int, rng: np.random.Generator) -> np.ndarray:
    pairs = rng.integers(1, nodes + 1, size=(edges, 2), dtype=np.int64)
    return pairs[pairs[:, 0] != pairs[:, 1]]


def small_components(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`count` chains of `size` nodes each, with interleaved ids."""
    ids = shuffled_ids(count * size, rng).reshape(count, size)
    return np.concatenate([np.stack([row[:-1], row[1:]], axis=1) for row in ids])


def mixed(rng: np.random.Generator) -> np.ndarray:
    """A chain, a hub and a random part sharing one id space, joined in places."""
    parts = [chain(3000, rng), star(2000, rng) + 3000, random_graph(4000, 3000, rng) + 6000]
    bridges = np.array([[1, 3001], [6001, 2]], dtype=np.int64)
    return np.concatenate([*parts, bridges])


def load_edges(warehouse: Warehouse, schema: str, table: str, edges: np.ndarray) -> None:
    """Write an edge table (node_a, node_b bigint) with the warehouse's bulk path."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "edges.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["node_a", "node_b"])
            writer.writerows(edges.tolist())
        warehouse.execute(f"create schema if not exists {schema}")
        warehouse.execute(f"drop table if exists {schema}.{table}")
        warehouse.execute(f"create table {schema}.{table} (node_a bigint, node_b bigint)")
        if warehouse.kind == "duckdb":
            warehouse.execute(f"insert into {schema}.{table} select * from read_csv('{path}', header = true)")
        else:
            from reverse_etl.project import connect

            connection = connect(warehouse.target)
            try:
                with connection.cursor() as cursor, path.open() as handle:
                    cursor.copy_expert(
                        f"copy {schema}.{table} from stdin with (format csv, header true)", handle
                    )
                connection.commit()
            finally:
                connection.close()
