"""The connected-components macro against scipy's connected_components, on both warehouses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import graphs
from conftest import Warehouse, new_duckdb_warehouse, new_postgres_warehouse
from reverse_etl.errors import DbtError

SHAPES = {
    "random": lambda rng: graphs.random_graph(6000, 5000, rng),
    "long_chain": lambda rng: graphs.chain(5000, rng),
    "hub": lambda rng: graphs.star(3000, rng),
    "many_small": lambda rng: graphs.small_components(1500, 4, rng),
    "mixed": graphs.mixed,
    # Ids in chain order: every node hooks onto the next one in the first round, so only pointer doubling
    # keeps the passes logarithmic.
    "sorted_chain": lambda rng: np.stack([np.arange(1, 5000), np.arange(2, 5001)], axis=1),
    # A node linked only to itself is a component of its own; a self-link inside a component changes nothing.
    "self_links": lambda rng: np.concatenate(
        [graphs.random_graph(3000, 2500, rng), np.array([[7000, 7000], [5, 5], [7001, 7001]])]
    ),
}
MAX_ROUNDS_EXPECTED = 15


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def scratch_warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    if request.param == "duckdb":
        return new_duckdb_warehouse(tmp_path_factory.mktemp("components"))
    return new_postgres_warehouse(request.getfixturevalue("postgres_database"))


def scipy_labels(edges: np.ndarray) -> dict[int, int]:
    """Component of every node in `edges`, named by its smallest node id (the macro's convention)."""
    size = int(edges.max()) + 1
    matrix = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(size, size))
    _, labels = connected_components(matrix, directed=False)
    nodes = np.unique(edges)
    smallest: dict[int, int] = {}
    for node in nodes.tolist():
        smallest.setdefault(int(labels[node]), node)
    return {node: smallest[int(labels[node])] for node in nodes.tolist()}


def run_components(
    warehouse: Warehouse, name: str, edges: np.ndarray, max_rounds: int = 40
) -> tuple[dict[int, int], int]:
    graphs.load_edges(warehouse, "cc_test", f"edges_{name}", edges)
    warehouse.dbt(
        "run-operation",
        "run_connected_components",
        "--args",
        f"{{schema: cc_test, edges: edges_{name}, labels: labels_{name}, max_rounds: {max_rounds}}}",
    )
    labels = dict(warehouse.query(f"select node, label from cc_test.labels_{name}"))
    rounds = warehouse.scalar(f"select rounds from cc_test.labels_{name}_rounds")
    return {int(node): int(label) for node, label in labels.items()}, int(rounds)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_partition_equals_scipy(scratch_warehouse: Warehouse, shape: str) -> None:
    edges = SHAPES[shape](np.random.default_rng(11))
    labels, rounds = run_components(scratch_warehouse, shape, edges)
    assert labels == scipy_labels(edges)
    assert rounds <= MAX_ROUNDS_EXPECTED, f"{shape} took {rounds} rounds"


def test_hitting_the_round_cap_is_an_error_not_a_partial_result(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    edges = graphs.chain(2000, np.random.default_rng(5))
    with pytest.raises(DbtError, match="did not converge within 1 rounds"):
        run_components(warehouse, "capped", edges, max_rounds=1)
