"""Benchmark: connected components of identity-shaped graphs (long chains of rotating ids, hubs, random
links) with the project's SQL macro, against scipy on the same edges in the same run, and a naive recursive
CTE on the smaller graphs for contrast.

    python bench/identity.py --sizes 10000 100000 1000000 10000000 --warehouses duckdb --repeat 3
    python bench/identity.py --sizes 10000 100000 1000000 --warehouses postgres
    python bench/identity.py --sizes 10000 100000 200000 --naive-max 200000
    python bench/identity.py --incremental-people 20000
    python bench/identity.py --sizes 1000000 --warehouses duckdb postgres --repeat 3 --set-based
    python bench/identity.py --first-build-people 200000 --baseline-root ../main-checkout --repeat 2

--first-build-people builds the identity layer once on generated demo data (DuckDB, `dbt run`, no previous
identity state) and prints the wall and CPU time and the ten slowest models; with --baseline-root (another
checkout of the project, e.g. a git worktree of the previous version) the same first build runs with that
checkout on a copy of the same raw data, the two taking turns --repeat times, so both see the same machine,
and the layer's outputs of their first turn are compared row by row.

--set-based also times the portable set-based rounds (default__connected_components) on the same graph in
the same run, as a row "<warehouse>/rounds": on PostgreSQL that is the variant its own one replaced.

--incremental-people builds the identity layer on generated demo data (DuckDB), runs it again with nothing
new, loads 1% new records (CRM contacts carrying an existing customer's email and a new phone; one in a
hundred carries another customer's phone instead and bridges two clusters), runs it again (incremental),
then with --full-refresh; then loads another 1% and does the same with `dbt build` (models and data tests).
It prints each command's wall time and the connected-components step's seconds (identity_component_runs).

"sql s" is the macro's own time inside the warehouse (one transaction), best of --repeat runs; scipy's
time is also the best of --repeat runs on the same edges. "naive s" is a recursive CTE (every node
reaches every node of its component, then the smallest label wins) run once, only up to --naive-max nodes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import graphs  # noqa: E402
from conftest import (  # noqa: E402
    ROOT,
    Warehouse,
    environment,
    make_pg_database,
    new_duckdb_warehouse,
    new_postgres_warehouse,
)

NAIVE_SQL = """
create table bench.naive_labels as
with recursive
links as (
    select node_a as node, node_b as other from bench.edges
    union all
    select node_b, node_a from bench.edges
),
reach (node, label) as (
    select node, node from links
    union
    select links.other, reach.label from reach inner join links on links.node = reach.node
)
select node, min(label) as label from reach group by node
"""


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


def scipy_seconds(edges: np.ndarray) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    size = int(edges.max()) + 1
    matrix = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(size, size))
    _, labels = connected_components(matrix, directed=False)
    return time.perf_counter() - started, labels


def same_partition(warehouse: Warehouse, edges: np.ndarray, reference: np.ndarray) -> bool:
    """The macro's labels name the same components as scipy's (checked on every node)."""
    rows = np.array(warehouse.query("select node, label from bench.labels"), dtype=np.int64)
    if len(rows) != len(np.unique(edges)):
        return False
    pairs = np.unique(np.stack([rows[:, 1], reference[rows[:, 0]]], axis=1), axis=0)
    return len(pairs) == len(np.unique(pairs[:, 0])) == len(np.unique(pairs[:, 1]))


def run_macro(warehouse: Warehouse, set_based: bool = False) -> tuple[int, float]:
    warehouse.dbt(
        "run-operation",
        "--quiet",
        "run_connected_components",
        "--args",
        f"{{schema: bench, edges: edges, labels: labels, set_based: {str(set_based).lower()}}}",
    )
    rounds, seconds = warehouse.query("select rounds, seconds from bench.labels_rounds")[0]
    return int(rounds), float(seconds)


def run_naive(warehouse: Warehouse) -> float:
    warehouse.execute("drop table if exists bench.naive_labels")
    started = time.perf_counter()
    warehouse.execute(NAIVE_SQL)
    return time.perf_counter() - started


BUILD_SELECTION = ["+identity_health", "+customer_id_history", "--indirect-selection", "cautious"]

BRIDGES_SQL = """
insert into raw.crm_contacts
    (contact_id, email, phone, first_name, last_name, country, created_at, updated_at)
select
    'crm_incremental_' || cast(numbered.position as varchar),
    numbered.email,
    case
        when numbered.position % 100 = 0 then next_contact.phone
        else '+447700' || lpad(cast(numbered.position as varchar), 6, '0')
    end,
    numbered.first_name,
    numbered.last_name,
    numbered.country,
    cast(current_timestamp as timestamp),
    cast(current_timestamp as timestamp)
from (
    select *, row_number() over (order by contact_id) as position
    from raw.crm_contacts
    where email is not null
) as numbered
inner join (
    select phone, row_number() over (order by contact_id) as position
    from raw.crm_contacts
    where phone is not null
) as next_contact on next_contact.position = numbered.position + 1
where numbered.position <= ?
"""

RAW_TABLES = [
    "identifies",
    "tracks",
    "pages",
    "app_events",
    "crm_contacts",
    "orders",
    "email_events",
    "cookie_syncs",
    "support_tickets",
]


def timed_build(
    warehouse: Warehouse, command: str, *extra: str
) -> tuple[float, str, float, int, int, str, dict[str, float]]:
    """Wall seconds of the dbt command, the components step's mode, seconds, links and solved links, the
    build's mode (identity_build_log) and each model's seconds (dbt's timing)."""
    started = time.perf_counter()
    outcome = warehouse.dbt(command, "--quiet", "--select", *BUILD_SELECTION, *extra)
    wall = time.perf_counter() - started
    mode, seconds, edges, solved = warehouse.query(
        "select mode, seconds, edges, solved_edges from intermediate.identity_component_runs"
        " order by run_started_at desc limit 1"
    )[0]
    build_mode = warehouse.scalar(
        "select name from intermediate.identity_build_log where kind = 'mode' order by logged_at desc limit 1"
    )
    models = {
        result.node.name: float(result.execution_time)
        for result in outcome.results
        if getattr(result, "node", None) is not None and result.node.resource_type == "model"
    }
    return wall, mode, float(seconds), int(edges), int(solved), build_mode, models


def add_records(warehouse: Warehouse, records: int, batch: int) -> None:
    """New CRM contacts loaded now; `batch` keeps the contact ids and new phones of successive batches apart."""
    sql = BRIDGES_SQL.replace("'crm_incremental_'", f"'crm_incremental_{batch}_'").replace(
        "'+447700'", f"'+44770{batch}'"
    )
    warehouse.execute(sql, (records,))


def incremental(people: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        warehouse = new_duckdb_warehouse(Path(folder))
        warehouse.generate(people=people, seed=3)
        records = sum(warehouse.scalar(f'select count(*) from raw."{table}"') for table in RAW_TABLES)
        new_records = max(1, records // 100)
        print(f"{people:,} people, {records:,} raw records, {new_records:,} new records (1%)", flush=True)
        runs = [("first", "build", timed_build(warehouse, "build"))]
        identifiers = warehouse.scalar("select count(*) from identity.identity_graph")
        print(f"{identifiers:,} identifiers in identity_graph after the first build", flush=True)
        # dbt run (the models): nothing new, then 1% new records, then the same data in full.
        runs.append(("no change", "run", timed_build(warehouse, "run")))
        add_records(warehouse, new_records, 1)
        runs.append(("+1% records", "run", timed_build(warehouse, "run")))
        runs.append(("full refresh", "run", timed_build(warehouse, "run", "--full-refresh")))
        # dbt build (the models and their data tests), the same way.
        add_records(warehouse, new_records, 2)
        runs.append(("+1% records", "build", timed_build(warehouse, "build")))
        runs.append(("full refresh", "build", timed_build(warehouse, "build", "--full-refresh")))
        print(
            f"{'data':<13} {'command':<7} {'build mode':<12} {'components':<12} {'links':>10} {'solved':>10}"
            f" {'components s':>12} {'wall s':>8}"
        )
        for name, command, (wall, mode, seconds, edges, solved, build_mode, _) in runs:
            print(
                f"{name:<13} {command:<7} {build_mode:<12} {mode:<12} {edges:>10,} {solved:>10,} {seconds:>12.2f}"
                f" {wall:>8.1f}"
            )
        run_added, run_full, build_added, build_full = (runs[index][2] for index in (2, 3, 4, 5))
        print(
            f"+1% records / full refresh: dbt run {run_added[0] / run_full[0]:.1%}, dbt build (with data tests) "
            f"{build_added[0] / build_full[0]:.1%}, components step {run_added[2] / run_full[2]:.1%}"
        )
        print(f"{'dbt run, model s':<36} {'+1% records':>12} {'full refresh':>12}")
        slowest = sorted(run_full[6], key=lambda model: -run_full[6][model])
        for model in slowest:
            if max(run_full[6][model], run_added[6].get(model, 0.0)) >= 0.1:
                print(f"{model:<36} {run_added[6].get(model, 0.0):>12.2f} {run_full[6][model]:>12.2f}")
        print(
            f"{'(sum of models)':<36} {sum(run_added[6].values()):>12.2f} {sum(run_full[6].values()):>12.2f}"
        )


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, every thread (dbt runs in-process, DuckDB with it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def first_build(people: int, baseline: Path | None, repeat: int) -> None:
    from reverse_etl.dbt import run_dbt

    with tempfile.TemporaryDirectory() as folder:
        source = new_duckdb_warehouse(Path(folder))
        source.generate(people=people, seed=3)
        records = sum(source.scalar(f'select count(*) from raw."{table}"') for table in RAW_TABLES)
        print(f"{people:,} people, {records:,} raw records", flush=True)
        source.dbt("seed", "--quiet")
        raw_file = Path(folder) / "cdp.duckdb"
        roots = [("this", ROOT)] + ([("baseline", baseline.resolve())] if baseline else [])
        results: dict[str, list[tuple[float, dict[str, float]]]] = {name: [] for name, _ in roots}
        for attempt in range(repeat):
            for name, root in roots:
                work = Path(folder) / f"{name}_{attempt}.duckdb"
                shutil.copyfile(raw_file, work)
                load = os.getloadavg()[0]
                with environment({"CDP_TARGET": "duckdb", "CDP_DUCKDB_PATH": str(work)}):
                    started, cpu_started = time.perf_counter(), cpu_seconds()
                    outcome = run_dbt(
                        ["run", "--quiet", "--select", *BUILD_SELECTION], target="duckdb", root=root
                    )
                    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
                identifiers = (
                    duckdb.connect(str(work), read_only=True)
                    .execute("select count(*) from identity.identity_graph")
                    .fetchone()[0]
                )
                if attempt > 0:
                    work.unlink()
                models = {
                    result.node.name: float(result.execution_time)
                    for result in outcome.results
                    if getattr(result, "node", None) is not None and result.node.resource_type == "model"
                }
                results[name].append((wall, models))
                print(
                    f"{name:<9} run {attempt + 1}: {wall:7.1f} s wall, {cpu:7.1f} s CPU,"
                    f" {sum(models.values()):7.1f} s in models, {identifiers:,} identifiers,"
                    f" load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
                    flush=True,
                )
        if baseline:
            differing = differing_outputs(Path(folder) / "this_0.duckdb", Path(folder) / "baseline_0.duckdb")
            print(
                f"same outputs as the baseline: {'yes' if not differing else 'NO: ' + ', '.join(differing)}"
            )
        for name, runs in results.items():
            wall, models = min(runs, key=lambda run: run[0])
            print(f"{name}: best wall {wall:.1f} s; ten slowest models of that run (s):")
            for model in sorted(models, key=lambda model: -models[model])[:10]:
                print(f"    {model:<36} {models[model]:>7.2f}")
        print(f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}", flush=True)


# The layer's outputs compared between two first builds (columns holding the build's own time left out).
OUTPUTS = {
    "identity.identity_graph": "* exclude (customer_id_minted_at)",
    "identity.identity_records": "*",
    "identity.identity_excluded_identifiers": "*",
    "identity.customer_id_history": "* exclude (changed_at, invocation_id)",
    "intermediate.int_identity_nodes": "*",
    "intermediate.int_identity_hubs": "*",
    "intermediate.int_identity_edges": "*",
    "intermediate.int_identity_components": "*",
}


def differing_outputs(this: Path, baseline: Path) -> list[str]:
    """The output tables whose rows differ between the two warehouses (compared as multisets)."""
    connection = duckdb.connect(str(this))
    connection.execute(f"attach '{baseline}' as baseline (read_only)")
    differing = []
    for table, columns in OUTPUTS.items():
        both = [f"select {columns} from {table}", f"select {columns} from baseline.{table}"]
        for first, second in (both, both[::-1]):
            if connection.execute(f"select count(*) from ({first} except all {second})").fetchone()[0]:
                differing.append(table)
                break
    connection.close()
    return differing


def open_warehouse(kind: str, folder: Path) -> tuple[Warehouse, object]:
    if kind == "duckdb":
        return new_duckdb_warehouse(folder), None
    name, drop = make_pg_database(f"cdp_bench_{uuid.uuid4().hex[:6]}")
    return new_postgres_warehouse(name), drop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--warehouses", nargs="+", default=["duckdb"], choices=["duckdb", "postgres"])
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs (macro and scipy)")
    parser.add_argument(
        "--naive-max", type=int, default=0, help="run the recursive CTE up to this many nodes"
    )
    parser.add_argument(
        "--incremental-people", type=int, default=0, help="measure an incremental build instead"
    )
    parser.add_argument(
        "--first-build-people",
        type=int,
        default=0,
        help="measure a first build of the identity layer instead",
    )
    parser.add_argument(
        "--baseline-root", type=Path, help="with --first-build-people: a checkout to compare with"
    )
    parser.add_argument(
        "--set-based",
        action="store_true",
        help="also time the portable set-based rounds on the same graph (rows '<warehouse>/rounds')",
    )
    args = parser.parse_args()
    if args.incremental_people:
        incremental(args.incremental_people)
        return
    if args.first_build_people:
        first_build(args.first_build_people, args.baseline_root, args.repeat)
        return
    print(f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}", flush=True)
    print(
        f"{'warehouse':<15} {'nodes':>11} {'edges':>11} {'rounds':>6} {'sql s':>8} {'scipy s':>8} "
        f"{'ratio':>7} {'naive s':>8} {'same':>5}",
        flush=True,
    )
    variants = [False, True] if args.set_based else [False]
    for kind in args.warehouses:
        for size in args.sizes:
            edges = identity_shaped(size, np.random.default_rng(size))
            scipy_runs = [scipy_seconds(edges) for _ in range(args.repeat)]
            reference, scipy_labels = min(run[0] for run in scipy_runs), scipy_runs[0][1]
            with tempfile.TemporaryDirectory() as folder:
                warehouse, drop = open_warehouse(kind, Path(folder))
                try:
                    graphs.load_edges(warehouse, "bench", "edges", edges)
                    # The variants take turns run by run, so a change of load hits both alike.
                    runs: dict[bool, list[tuple[int, float]]] = {variant: [] for variant in variants}
                    same: dict[bool, bool] = dict.fromkeys(variants, True)
                    for _ in range(args.repeat):
                        for set_based in variants:
                            runs[set_based].append(run_macro(warehouse, set_based))
                            same[set_based] &= same_partition(warehouse, edges, scipy_labels)
                    naive = f"{run_naive(warehouse):>8.2f}" if size <= args.naive_max else f"{'-':>8}"
                    for set_based in variants:
                        rounds, seconds = min(runs[set_based], key=lambda run: run[1])
                        name = f"{kind}/rounds" if set_based else kind
                        print(
                            f"{name:<15} {size:>11,} {len(edges):>11,} {rounds:>6} {seconds:>8.2f} "
                            f"{reference:>8.3f} {seconds / reference:>7.1f} {naive} "
                            f"{'yes' if same[set_based] else 'NO':>5}",
                            flush=True,
                        )
                finally:
                    if drop:
                        drop()
    print(f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
