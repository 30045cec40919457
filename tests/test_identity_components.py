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
    # Ids far apart (PostgreSQL numbers them before its union-find instead of indexing by id).
    "sparse_ids": lambda rng: graphs.mixed(rng) * 1_000_003 + 5_000_000_000,
}
MAX_ROUNDS_EXPECTED = 15


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def scratch_warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    if request.param == "duckdb":
        return new_duckdb_warehouse(tmp_path_factory.mktemp("components"))
    return new_postgres_warehouse(request.getfixturevalue("postgres_database"))


def scipy_labels(edges: np.ndarray) -> dict[int, int]:
    """Component of every node in `edges`, named by its smallest node id (the macro's convention)."""
    nodes, positions = np.unique(edges, return_inverse=True)
    positions = positions.reshape(edges.shape)
    size = len(nodes)
    matrix = coo_matrix((np.ones(len(edges)), (positions[:, 0], positions[:, 1])), shape=(size, size))
    _, labels = connected_components(matrix, directed=False)
    smallest: dict[int, int] = {}
    for position, node in enumerate(nodes.tolist()):
        smallest.setdefault(int(labels[position]), node)
    return {node: smallest[int(labels[position])] for position, node in enumerate(nodes.tolist())}


def run_components(
    warehouse: Warehouse, name: str, edges: np.ndarray, max_rounds: int = 40, set_based: bool = False
) -> tuple[dict[int, int], int]:
    graphs.load_edges(warehouse, "cc_test", f"edges_{name}", edges)
    warehouse.dbt(
        "run-operation",
        "run_connected_components",
        "--args",
        f"{{schema: cc_test, edges: edges_{name}, labels: labels_{name}, max_rounds: {max_rounds},"
        f" set_based: {str(set_based).lower()}}}",
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


@pytest.mark.parametrize("shape", ["mixed", "self_links", "sorted_chain"])
def test_set_based_rounds_equal_scipy(scratch_warehouse: Warehouse, shape: str) -> None:
    """The portable rounds, which PostgreSQL's own variant replaces there, stay exact on every warehouse."""
    edges = SHAPES[shape](np.random.default_rng(11))
    labels, rounds = run_components(scratch_warehouse, f"{shape}_rounds", edges, set_based=True)
    assert labels == scipy_labels(edges)
    assert 1 <= rounds <= MAX_ROUNDS_EXPECTED, f"{shape} took {rounds} rounds"


def test_no_links_gives_no_labels_but_self_linked_nodes(scratch_warehouse: Warehouse) -> None:
    edges = np.array([[42, 42], [7, 7], [42, 42]], dtype=np.int64)
    labels, _ = run_components(scratch_warehouse, "only_self_links", edges)
    assert labels == {7: 7, 42: 42}


def test_hitting_the_round_cap_is_an_error_not_a_partial_result(tmp_path: Path) -> None:
    warehouse = new_duckdb_warehouse(tmp_path)
    edges = graphs.chain(2000, np.random.default_rng(5))
    with pytest.raises(DbtError, match="did not converge within 1 rounds"):
        run_components(warehouse, "capped", edges, max_rounds=1)
